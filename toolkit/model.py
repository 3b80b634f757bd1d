"""Model builders: a flat tf_keras graph (no nested models, so QAT can wrap it)."""
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from .contract import mobilenet_v2
from .errors import AntispoofError
from .model_spec import DEFAULT_BACKBONE, DEFAULT_HEAD, backbone_spec, head_spec
from .preprocess import INPUT_SIZE


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
    if weights != "imagenet" and not Path(weights).is_file():
        raise AntispoofError(f"{weights}: weights file not found")
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


def add_head(features, head=DEFAULT_HEAD):
    """Pooling and the named head on a feature map: returns the P(spoof) tensor."""
    spec = head_spec(head)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    for i, units in enumerate(spec.hidden):
        x = keras.layers.Dense(units, name=f"head_dense{i}")(x)
        x = keras.layers.GroupNormalization(spec.groups, name=f"head_norm{i}")(x)
        x = keras.layers.ReLU(name=f"head_relu{i}")(x)
    if spec.dropout:
        x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
    return keras.layers.Dense(1, activation="sigmoid", name="score")(x)


def build_model(backbone=DEFAULT_BACKBONE, head=DEFAULT_HEAD, input_size=INPUT_SIZE,
                weights="imagenet", init=None):
    """Image (0..255 RGB) → MobileNetV2 features → head → P(spoof).

    ``init``: a backbone file written by ``antispoof contract``, used instead of ``backbone``.
    """
    if init:
        base = load_model(init)
        image, features, name = base.input, base.output, Path(init).stem
    else:
        spec = backbone_spec(backbone)
        image, normalized = normalized_input(input_size)
        features = mobilenet_v2(normalized, spec.widths())
        load_pretrained(keras.Model(image, features), spec.alpha, weights)
        name = spec.name
    return keras.Model(image, add_head(features, head), name=f"antispoof_{name}_{head}")


@keras.saving.register_keras_serializable(package="antispoof")
class MirrorPair(keras.layers.Layer):
    """A batch of crops followed by their mirror images: the batch doubles."""

    def call(self, images):
        return tf.concat([images, tf.reverse(images, axis=[2])], axis=0)


@keras.saving.register_keras_serializable(package="antispoof")
class PairMean(keras.layers.Layer):
    """The mean of a doubled batch's two halves: each crop's score and its mirror image's."""

    def call(self, scores):
        return tf.reduce_mean(tf.reshape(scores, [2, -1, scores.shape[-1]]), axis=0)


def flip_averaged(model):
    """The same flat model, scoring each crop and its mirror image and averaging the two.

    The layers and weights are the model's; a ``MirrorPair`` after the input and a ``PairMean``
    on the output wrap them, so the graph stays flat (QAT can wrap it) and the converted file
    does the averaging itself. Same input and output shapes, twice the compute.
    """
    config = model.get_config()
    (image, _, _), = config["input_layers"]
    (score, node, index), = config["output_layers"]
    for layer in config["layers"]:
        for inbound in layer["inbound_nodes"]:
            for source in inbound:
                if source[0] == image:
                    source[0] = "mirror_pair"

    def entry(layer, source):
        return {**keras.saving.serialize_keras_object(layer), "name": layer.name,
                "inbound_nodes": [[[*source, {}]]]}

    config["layers"].insert(1, entry(MirrorPair(name="mirror_pair"), (image, 0, 0)))
    config["layers"].append(entry(PairMean(name="pair_mean"), (score, node, index)))
    config["output_layers"] = [["pair_mean", 0, 0]]
    averaged = keras.Model.from_config(config)
    for layer in model.layers:
        averaged.get_layer(layer.name).set_weights(layer.get_weights())
    return averaged


def freeze_batchnorm(model):
    """Run every BatchNorm layer in inference mode with fixed statistics (stable fine-tuning)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model


def load_model(path):
    path = Path(path)
    if not path.exists():
        raise AntispoofError(f"{path}: model file not found")
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{path}: not a loadable Keras model ({exc})") from None


def central_difference_kernel(kernel, theta):
    """A depthwise kernel (kh, kw, channels, multiplier) with central difference folded in:
    conv(x, result) = conv(x, kernel) − θ · x_centre · Σ_spatial kernel (Yu et al., CVPR 2020),
    i.e. the centre tap less θ times the taps' sum. Exact, borders included."""
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    centre = tf.reshape(tf.one_hot(kh // 2 * kw + kw // 2, kh * kw, dtype=kernel.dtype), (kh, kw, 1, 1))
    return kernel - theta * centre * tf.reduce_sum(kernel, axis=(0, 1), keepdims=True)


@keras.saving.register_keras_serializable(package="antispoof")
class CentralDifferenceDepthwise(keras.layers.DepthwiseConv2D):
    """A depthwise convolution trained as a central difference convolution: its effective
    kernel is ``central_difference_kernel(depthwise_kernel, theta)``, which
    ``fold_central_difference`` writes into a plain DepthwiseConv2D for export."""

    def __init__(self, theta=0.7, **kwargs):
        super().__init__(**kwargs)
        self.theta = theta

    def call(self, inputs):
        outputs = keras.backend.depthwise_conv2d(
            inputs, central_difference_kernel(self.depthwise_kernel, self.theta),
            strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format)
        if self.use_bias:
            outputs = keras.backend.bias_add(outputs, self.bias, data_format=self.data_format)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "theta": self.theta}


_DEPTHWISE = "DepthwiseConv2D"
_CDC = keras.saving.get_registered_name(CentralDifferenceDepthwise)  # "antispoof>Central…"


def with_central_difference(model, theta):
    """The same flat model with every k×k (k > 1) depthwise convolution trained as a central
    difference convolution. Its function is unchanged at the start: the kernel is set so that
    its folded form is the original (centre tap w_c + θ·Σw / (1 − θ))."""
    if not 0 < theta < 1:
        raise AntispoofError(f"central difference theta must be in (0, 1), not {theta}")
    config = model.get_config()
    swapped = []
    for layer in config["layers"]:
        if layer["class_name"] == _DEPTHWISE and max(layer["config"]["kernel_size"]) > 1:
            layer["config"]["theta"] = theta
            layer.update(keras.saving.serialize_keras_object(
                CentralDifferenceDepthwise.from_config(layer["config"])))
            swapped.append(layer["config"]["name"])
    rewired = keras.Model.from_config(config)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name in swapped:
            kernel = weights[0]
            total = kernel.sum(axis=(0, 1), keepdims=True) / (1 - theta)
            kh, kw = kernel.shape[:2]
            kernel = kernel.copy()
            kernel[kh // 2, kw // 2] += theta * total[0, 0]
            weights = [kernel, *weights[1:]]
        rewired.get_layer(layer.name).set_weights(weights)
    return rewired


def fold_central_difference(model):
    """The same model with each central difference convolution folded into a plain
    DepthwiseConv2D (same outputs, no extra op in the converted file)."""
    config = model.get_config()
    folded = {}
    for layer in config["layers"]:
        if layer.get("registered_name") == _CDC:
            folded[layer["config"]["name"]] = layer["config"].pop("theta")
            layer.update(keras.saving.serialize_keras_object(
                keras.layers.DepthwiseConv2D.from_config(layer["config"])))
    if not folded:
        return model
    plain = keras.Model.from_config(config)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name in folded:
            weights = [central_difference_kernel(tf.constant(weights[0]), folded[layer.name]).numpy(),
                       *weights[1:]]
        plain.get_layer(layer.name).set_weights(weights)
    return plain
