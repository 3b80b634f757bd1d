"""Model builders: a flat tf_keras graph (no nested models, so QAT can wrap it)."""
from pathlib import Path

import tf_keras as keras

from .errors import AntispoofError
from .model_spec import DEFAULT_BACKBONE, DEFAULT_HEAD, HEADS, backbone_spec
from .preprocess import INPUT_SIZE


def build_model(backbone=DEFAULT_BACKBONE, head=DEFAULT_HEAD, input_size=INPUT_SIZE,
                weights="imagenet", dropout=0.2):
    """Image (0..255 RGB) → MobileNetV2 features → head → P(spoof).

    ``weights`` is ``"imagenet"`` (Keras downloads them), a path to the Keras
    no-top ``.h5`` file of the backbone's width, or ``None`` for random init.
    """
    spec = backbone_spec(backbone)
    if head not in HEADS:
        raise AntispoofError(f"unknown head {head!r}: choose one of {', '.join(HEADS)}")
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise AntispoofError(f"{weights}: weights file not found")
    image = keras.Input((input_size, input_size, 3), name="image")
    normalized = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(image)
    try:
        base = keras.applications.MobileNetV2(input_tensor=normalized, alpha=spec.alpha,
                                              include_top=False, weights=weights)
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{weights}: cannot load MobileNetV2 alpha={spec.alpha} "
                             f"weights ({exc})") from None
    features = base.get_layer(spec.cut_after).output
    x = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    return keras.Model(image, score, name=f"antispoof_{spec.name}_{head}")


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
    except (ValueError, OSError, IOError) as exc:
        raise AntispoofError(f"{path}: not a loadable Keras model ({exc})") from None
