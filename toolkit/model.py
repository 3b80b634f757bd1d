"""Model builders: a flat tf_keras graph (no nested models, so QAT can wrap it)."""
from pathlib import Path

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
