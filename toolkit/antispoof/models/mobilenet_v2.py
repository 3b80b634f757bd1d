"""MobileNetV2 as one flat tf_keras graph with Keras' layer names (its ImageNet weights load by
name), for any channel layout (``Widths``): the pretrained and the contracted networks alike."""

import tf_keras as keras
from tf_keras.src.applications.imagenet_utils import correct_pad

from antispoof.core.errors import AntispoofError
from antispoof.models.weights import require_weights_file
from antispoof.models.widths import BLOCKS, RESIDUAL, STAGE_OF_BLOCK, Widths, make_divisible

BN = {"epsilon": 1e-3, "momentum": 0.999}


def mobilenet_v2(image, widths):
    """The flat MobileNetV2 graph for ``widths`` on a normalized input tensor; returns features."""
    x = keras.layers.Conv2D(widths.stem, 3, strides=2, padding="same", use_bias=False,
                            name="Conv1")(image)
    x = keras.layers.BatchNormalization(name="bn_Conv1", **BN)(x)
    x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    for i in range(widths.blocks + 1):
        expanded_only = i == widths.blocks and widths.tap == "expanded"
        x = _inverted_residual(x, widths, i, expanded_only)
    if widths.last:
        x = keras.layers.Conv2D(widths.last, 1, use_bias=False, name="Conv_1")(x)
        x = keras.layers.BatchNormalization(name="Conv_1_bn", **BN)(x)
        x = keras.layers.ReLU(6.0, name="out_relu")(x)
    return x


def _inverted_residual(inputs, widths, i, expanded_only):
    prefix = f"block_{i}_" if i else "expanded_conv_"
    stride = BLOCKS[i][1]
    x = inputs
    if i:
        x = keras.layers.Conv2D(widths.expand[i - 1], 1, use_bias=False, name=prefix + "expand")(x)
        x = keras.layers.BatchNormalization(name=prefix + "expand_BN", **BN)(x)
        x = keras.layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    if stride == 2:
        x = keras.layers.ZeroPadding2D(correct_pad(x, 3), name=prefix + "pad")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                                     padding="same" if stride == 1 else "valid",
                                     name=prefix + "depthwise")(x)
    x = keras.layers.BatchNormalization(name=prefix + "depthwise_BN", **BN)(x)
    x = keras.layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    if expanded_only:
        return x
    x = keras.layers.Conv2D(widths.stages[STAGE_OF_BLOCK[i]], 1, use_bias=False,
                            name=prefix + "project")(x)
    x = keras.layers.BatchNormalization(name=prefix + "project_BN", **BN)(x)
    if i in RESIDUAL:
        x = keras.layers.Add(name=prefix + "add")([inputs, x])
    return x


def source_alpha(weights):
    """Width of a Keras MobileNetV2 no-top weights file, read from block 16's projection
    (320 × width channels, distinct for every published width); "imagenet" means 1.0."""
    if weights == "imagenet":
        return 1.0
    require_weights_file(weights)
    import h5py

    try:
        with h5py.File(weights, "r") as f:
            group = f["block_16_project"] if "block_16_project" in f else f["model_weights/block_16_project"]
            channels = next(v.shape[-1] for v in _datasets(group) if v.ndim == 4)
    except (OSError, KeyError, StopIteration):
        raise AntispoofError(f"{weights}: not a Keras MobileNetV2 no-top weights file") from None
    for alpha in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        if make_divisible(320 * alpha) == channels:
            return alpha
    raise AntispoofError(f"{weights}: block 16 has {channels} channels, no known MobileNetV2 width")


def _datasets(group):
    import h5py

    for item in group.values():
        if isinstance(item, h5py.Dataset):
            yield item
        else:
            yield from _datasets(item)


def load_full(weights, input_size):
    """The MobileNetV2 (no top) of the weights file's width, with its pretrained weights."""

    alpha = source_alpha(weights)
    image, normalized = normalized_input(input_size)
    full = keras.Model(image, mobilenet_v2(normalized, Widths.uniform(alpha)))
    return load_pretrained(full, alpha, weights)


def normalized_input(input_size):
    """The model input (RGB pixels 0..255) and its normalization to [-1, 1], inside the model."""
    image = keras.Input((input_size, input_size, 3), name="image")
    return image, keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(image)


def load_pretrained(model, alpha, weights):
    """Copy Keras MobileNetV2(alpha) no-top weights into the same-named layers of ``model``.

    ``weights``: ``"imagenet"`` (Keras downloads them), a path to the ``.h5`` file, or None.
    """
    if weights is None:
        return model
    require_weights_file(weights)
    try:
        reference = keras.applications.MobileNetV2(alpha=alpha, include_top=False, weights=weights,
                                                   input_shape=model.input_shape[1:])
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{weights}: not MobileNetV2 width-{alpha} no-top weights "
                             f"({str(exc).splitlines()[0]})") from None
    names = {layer.name for layer in reference.layers}
    for layer in model.layers:
        if layer.weights and layer.name in names:
            layer.set_weights(reference.get_layer(layer.name).get_weights())
    return model
