"""Model builders: a flat tf_keras graph (no nested models, so QAT can wrap it), and loading
a trained model from a run folder."""
from pathlib import Path

import numpy as np
import tf_keras as keras

from antispoof.core.errors import AntispoofError
from antispoof.core.rundir import RunDir
from antispoof.models.layers import MirrorPair, PairMean
from antispoof.models.mobilenet_v2 import load_pretrained, mobilenet_v2, normalized_input
from antispoof.models.specs import (DEFAULT_BACKBONE, DEFAULT_HEAD, DEFAULT_INPUT_SIZE, POOL,
                                    backbone_spec, head_spec)

SCORE = "score"  # the name of the P(spoof) output layer (the first output of a model in training)

def add_head(features, head=DEFAULT_HEAD):
    """Pooling and the named head on a feature map: returns the P(spoof) tensor."""
    spec = head_spec(head)
    x = keras.layers.GlobalAveragePooling2D(name=POOL)(features)
    for i, units in enumerate(spec.hidden):
        x = keras.layers.Dense(units, name=f"head_dense{i}")(x)
        x = keras.layers.GroupNormalization(spec.groups, name=f"head_norm{i}")(x)
        x = keras.layers.ReLU(name=f"head_relu{i}")(x)
    if spec.dropout:
        x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
    return keras.layers.Dense(1, activation="sigmoid", name=SCORE)(x)


def build_model(backbone=DEFAULT_BACKBONE, head=DEFAULT_HEAD, input_size=DEFAULT_INPUT_SIZE,
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


def set_backbone_trainable(model, trainable):
    """Freeze (or unfreeze) every layer between the image and the pooled features; the heads
    stay trainable. Unfreezing makes BatchNorm trainable too: freeze it again if wanted."""
    features = keras.Model(model.inputs, model.get_layer(POOL).output)  # shares model's layers
    for layer in features.layers:
        layer.trainable = trainable
    return model


def load_model(path):
    path = Path(path)
    if not path.exists():
        raise AntispoofError(f"{path}: model file not found")
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{path}: not a loadable Keras model ({exc})") from None


def load_trained(run_dir):
    """The finished model of a run directory (or a model file given directly)."""
    path = Path(run_dir)
    if path.is_dir():
        path = RunDir(path).model
        if not path.exists():
            raise AntispoofError(f"{path}: no trained model in this run directory "
                                 "(run `antispoof train` first)")
    return load_model(path)


def predict(model, pixels, batch_size=256):
    """``model``'s outputs (an array, or a list for several outputs) on N×S×S×3 crops, batch by
    batch through one traced call with ``training=False``: Keras' ``predict`` computes the same
    (to 1.5e-7), but took 13.5 s against 3.2 s for the 5,457 union dev crops at 104x104 (a
    tf.data pipeline per call, benchmarks/README.md)."""
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)])
    if not len(pixels):
        raise AntispoofError("no crops to score")
    batches = [call(tf.constant(pixels[start:start + batch_size], tf.float32))
               for start in range(0, len(pixels), batch_size)]
    if isinstance(batches[0], (list, tuple)):
        return [np.concatenate([b[i].numpy() for b in batches]) for i in range(len(batches[0]))]
    return np.concatenate([b.numpy() for b in batches])
