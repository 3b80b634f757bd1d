"""The paper's server model: EfficientNet-B0 (``tf_keras.applications``; ImageNet weights
downloaded, from a file, or random initialisation), global pooling, then the paper's head
(``specs.HEADS["paper-server"]``): Dense 1024 → 256 → 32, each followed by BatchNorm, swish and
dropout, and a 2-way softmax. The backbone's stochastic depth is what Keras and the paper call
drop-connect."""

import tensorflow as tf
import tf_keras as keras

from antispoof.core.errors import AntispoofError
from antispoof.models.specs import POOL, SERVER_ARCH, SERVER_HEAD, SERVER_INPUT_SIZE, head_spec
from antispoof.models.weights import require_weights_file

HEAD = head_spec(SERVER_HEAD)
PAPER_TRAINABLE_PARAMETERS = 5_592_606


def build_server_model(input_size=SERVER_INPUT_SIZE, weights="imagenet", dropout=HEAD.dropout,
                       drop_connect=0.2):
    """Image (0..255 RGB) → EfficientNet-B0 → paper head → [P(real), P(spoof)]; one flat graph.

    ``weights``: ``"imagenet"`` (Keras downloads them), a path to EfficientNetB0 no-top
    weights, or None (random initialisation).
    """
    require_weights_file(weights)
    image = keras.Input((input_size, input_size, 3), name="image")
    try:
        base = keras.applications.EfficientNetB0(include_top=False, weights=weights,
                                                 input_tensor=image,
                                                 drop_connect_rate=drop_connect)
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{weights}: not EfficientNetB0 no-top weights "
                             f"({str(exc).splitlines()[0]})") from None
    x = keras.layers.GlobalAveragePooling2D(name=POOL)(base.output)
    for i, units in enumerate(HEAD.hidden):
        x = keras.layers.Dense(units, name=f"head_dense{i}")(x)
        x = keras.layers.BatchNormalization(name=f"head_norm{i}")(x)
        x = keras.layers.Activation("swish", name=f"head_swish{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"head_dropout{i}")(x)
    out = keras.layers.Dense(2, activation="softmax", name="probabilities")(x)
    return keras.Model(image, out, name=f"antispoof_{SERVER_ARCH}_{SERVER_HEAD}")


def parameter_counts(model):
    trainable = sum(int(tf.size(w)) for w in model.trainable_weights)
    total = int(model.count_params())
    return {"parameters": total, "trainable_parameters": trainable,
            "non_trainable_parameters": total - trainable}


def architecture_info(input_size=SERVER_INPUT_SIZE):
    """The server architecture's parameter counts (random weights, no data), against the
    paper's figure, which is its trainable count."""
    model = build_server_model(input_size, weights=None)
    counts = parameter_counts(model)
    statistics = {"backbone": 0, "head": 0}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            part = "head" if layer.name.startswith("head_") else "backbone"
            statistics[part] += sum(int(tf.size(w)) for w in layer.non_trainable_weights)
    normalization = counts["non_trainable_parameters"] - sum(statistics.values())
    return {"arch": SERVER_ARCH, "head": SERVER_HEAD, "input_size": input_size,
            **counts, "layers": len(model.layers),
            "paper_parameters": PAPER_TRAINABLE_PARAMETERS,
            "trainable_minus_paper": counts["trainable_parameters"] - PAPER_TRAINABLE_PARAMETERS,
            "explanation": (
                f"The paper's {PAPER_TRAINABLE_PARAMETERS:,} is the trainable count. The total "
                f"adds {counts['non_trainable_parameters']:,} non-trainable numbers: BatchNorm "
                f"moving means and variances ({statistics['backbone']:,} in EfficientNet-B0, "
                f"{statistics['head']:,} in the head) and the {normalization} statistics of "
                "EfficientNet's input Normalization layer.")}
