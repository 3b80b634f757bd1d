"""Full-integer int8 models (weights, activations, input and output): post-training
quantization, and quantization-aware training with tensorflow-model-optimization.
"""
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from antispoof.compress.config import QUANTIZATION, QuantizationConfig
from antispoof.core.console import plural
from antispoof.core.errors import AntispoofError
from antispoof.core.files import read_json, write_bytes
from antispoof.core.rundir import RunDir
from antispoof.data.datasets import BALANCES
from antispoof.data.stream import class_weights, tf_dataset
from antispoof.data.loading import calibration_crops, open_dataset
from antispoof.models.builders import load_trained
from antispoof.models.layers import MirrorPair, PairMean
from antispoof.training.callbacks import EpochLog
from antispoof.training.losses import DistillationLoss, LabelAUC
from antispoof.training.teacher import recorded_teachers

log = logging.getLogger("antispoof")


def calibration_images(data_dir, size, count=300, protocol=None, seed=0):
    """Representative crops from the train split, plus one 0..255 ramp.

    The ramp pins the input range to the full pixel range, so the int8 input has
    scale 1 and zero point -128: callers feed ``uint8 - 128`` exactly.
    """
    crops = calibration_crops(data_dir, size, count, protocol, seed)
    ramp = np.broadcast_to(np.linspace(0, 255, size, dtype=np.float32)[None, :, None], (size, size, 3))
    return [ramp, *crops.astype(np.float32)]


def compact_tensor_names(flatbuffer):
    """Rename internal tensors to their hex index (their long graph paths can be ~10 % of a
    100 KB file); the input and output tensors keep their names. Outputs are unchanged."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    for subgraph in model.subgraphs:
        keep = set(subgraph.inputs) | set(subgraph.outputs)
        for index, tensor in enumerate(subgraph.tensors):
            if index not in keep:
                tensor.name = b"%x" % index
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def convert_int8(model, representative, per_channel=True):
    """Full-integer int8 TFLite flatbuffer of a Keras model, calibrated on ``representative``.

    ``per_channel=False``: one scale per weight tensor instead of one per output channel, which
    saves 12 bytes of quantization parameters per channel (a large share of a ~100 KB file)
    and may cost accuracy.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter._experimental_disable_per_channel = not per_channel
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return compact_tensor_names(converter.convert())


def convert_float16(model):
    """A float16 TFLite flatbuffer of a Keras model: float32 in and out, weights stored as
    float16 (half the size)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def quantize(run_dir, data_dir, out, config=None, protocol=None, batch_size=64, seed=0, limit=None):
    """The run's model as a full-integer int8 file at ``out``, by ``config.mode`` (qat or ptq).
    Returns the Keras model the file follows (the QAT model, or the float one) for parity."""
    config = config or QuantizationConfig()
    if config.mode == "qat":  # else "ptq" (QuantizationConfig checked the name)
        return quantize_qat(run_dir, data_dir, out, protocol, config.qat_epochs,
                            config.qat_learning_rate, batch_size, seed=seed, limit=limit,
                            distill=config.qat_distill)
    quantize_ptq(run_dir, data_dir, out, protocol, seed=seed, per_channel=config.per_channel)
    return load_trained(run_dir)


def quantize_ptq(run_dir, data_dir, out, protocol=None, calibration=300, seed=0, per_channel=True):
    """Convert the run's Keras model to an int8 ``.tflite`` file at ``out``."""
    model = load_trained(run_dir)
    size = int(model.input_shape[1])
    representative = calibration_images(data_dir, size, calibration, protocol, seed)
    log.info("quantize: calibrating on %d crops", len(representative))
    flatbuffer = convert_int8(model, representative, per_channel)
    write_bytes(out, flatbuffer)
    log.info("quantize: wrote %s (%d bytes)", out, len(flatbuffer))
    return Path(out)


class OutputOnly(tfmot.quantization.keras.QuantizeConfig):
    """For layers tfmot has no default for (Rescaling, GroupNormalization, PairMean): their
    parameters stay float through training, their output is fake-quantized to 8 bits.

    Autograph must not convert these methods: tfmot calls them inside the wrapper's traced
    ``call``, and conversions of look-alike bodies were seen to get mixed up.
    """

    @tf.autograph.experimental.do_not_convert
    def get_weights_and_quantizers(self, layer):
        return []

    @tf.autograph.experimental.do_not_convert
    def get_activations_and_quantizers(self, layer):
        return []

    @tf.autograph.experimental.do_not_convert
    def set_quantize_weights(self, layer, quantize_weights):
        if quantize_weights:
            raise ValueError(f"{layer.name}: OutputOnly quantizes no weights")

    @tf.autograph.experimental.do_not_convert
    def set_quantize_activations(self, layer, quantize_activations):
        if quantize_activations:
            raise ValueError(f"{layer.name}: OutputOnly quantizes no activations")

    @tf.autograph.experimental.do_not_convert
    def get_output_quantizers(self, layer):
        return [tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


def quantization_aware(model):
    """The tfmot QAT version of a flat model, BatchNorm kept in inference mode."""
    qk = tfmot.quantization.keras

    def annotate(layer):
        if isinstance(layer, MirrorPair):  # moves pixels only: the input's int8 range holds
            return MirrorPair.from_config(layer.get_config())
        if isinstance(layer, (keras.layers.Rescaling, keras.layers.GroupNormalization, PairMean)):
            return qk.quantize_annotate_layer(layer, quantize_config=OutputOnly())
        return qk.quantize_annotate_layer(layer)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    with qk.quantize_scope({"OutputOnly": OutputOnly, "MirrorPair": MirrorPair,
                            "PairMean": PairMean}):
        qat = qk.quantize_apply(annotated)
    for layer in qat.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, keras.layers.BatchNormalization):
            inner.trainable = False
    return qat


def _run_distillation(run_dir):
    """(teacher ensemble, distillation loss) of a run trained with --teacher, as it trained."""
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise AntispoofError(f"{run_dir}: distilling while quantizing needs the run folder (its "
                             "teachers.json and config.json), not a model file")
    teacher = recorded_teachers(run.teachers)
    options = _run_options(run_dir)
    return teacher, DistillationLoss(options["distill_alpha"], options["temperature"])


def _run_options(run_dir):
    """The training options a run folder recorded (its config.json); none for a model file."""
    config = RunDir(run_dir).config
    return read_json(config).get("options", {}) if config.is_file() else {}


def init_quantization_ranges(qat, model, calibration):
    """Start every fake-quant activation range where calibration puts it.

    tfmot starts each range at [-6, 6] and moves it by an EMA with decay 0.999, so a short QAT
    run would clip the 0..255 input and wide activations for hundreds of steps. The input range
    is pinned to the pixel range [0, 255]; the others are the float model's observed ranges;
    kernel ranges are taken from the weights.
    """
    wrapped = {}  # float layer name -> its range variables by kind ("output_min", ...)
    for layer in qat.layers:
        ranges = {w.name.split("/")[-1].split(":")[0]: w for w in layer.weights
                  if w.name.endswith(("_min:0", "_max:0")) and "kernel" not in w.name}
        if not hasattr(layer, "layer"):  # the QuantizeLayer on the model input
            for name, variable in ranges.items():
                variable.assign(0.0 if name.endswith("_min") else 255.0)
        elif ranges:
            wrapped[layer.layer.name] = ranges
    probe = keras.Model(model.input, [model.get_layer(name).output for name in wrapped])
    outputs = probe.predict(np.stack(calibration), batch_size=64, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    for (name, ranges), values in zip(wrapped.items(), outputs):
        if "pre_activation_min" in ranges:  # a sigmoid unit: its range is the logit's
            p = np.clip(values, 1e-6, 1 - 1e-6)
            values = np.log(p / (1 - p))
        for kind in ("output", "post_activation", "pre_activation"):
            if f"{kind}_min" in ranges:
                low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
                ranges[f"{kind}_min"].assign(low)
                ranges[f"{kind}_max"].assign(max(high, low + 1e-3))  # an all-zero tensor too
    # kernel ranges follow the weights only in a training-mode call (BatchNorm stays frozen)
    qat(np.stack(calibration[:8]), training=True)


def quantize_qat(run_dir, data_dir, out, protocol=None, epochs=QUANTIZATION.qat_epochs,
                 learning_rate=QUANTIZATION.qat_learning_rate,
                 batch_size=64, calibration=300, seed=0, limit=None, distill=False):
    """Fine-tune the run's model with fake quantization, then convert to full-integer int8.

    ``distill``: on the targets training had (the run's teachers, their recorded weights, its
    distillation alpha and temperature) instead of the hard labels alone. ``limit``: at most
    that many images of each split (quick runs). Returns the QAT Keras model (for parity checks
    against the file written to ``out``).
    """
    model = load_trained(run_dir)
    size = int(model.input_shape[1])
    keras.utils.set_random_seed(seed)
    teacher, loss = (_run_distillation(run_dir) if distill
                     else (None, keras.losses.BinaryCrossentropy()))
    dataset = open_dataset(data_dir, protocol, seed=seed)
    recorded = _run_options(run_dir)  # the stream training had; a bare model file has no record
    balance = recorded.get("balance", BALANCES[0])
    train = dataset.load("train", size, limit, seed, balance=balance)
    dev = dataset.load("dev", size, limit, seed)
    representative = calibration_images(data_dir, size, calibration, protocol, seed)
    qat = quantization_aware(model)
    init_quantization_ranges(qat, model, representative)
    qat.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                metrics=[LabelAUC(name="auc") if teacher else keras.metrics.AUC(name="auc")])
    log.info("quantize: quantization-aware training on %d train (balance %s, %s) and %d dev "
             "crops, %s at lr %g%s", len(train.labels), balance,
             "as training" if recorded else "no run record", len(dev.labels),
             plural(epochs, "epoch"), learning_rate,
             f", distilled from the run's teachers (weights {'/'.join(f'{w:g}' for w in teacher.weights)},"
             f" alpha {loss.alpha:g}, temperature {loss.temperature:g}"
             f"{', recalibrated: ' + teacher.calibration['kind'] if teacher.calibration else ''}"
             f"{', corrected: ' + teacher.correction if teacher.correction != 'none' else ''})"
             if teacher else "")
    scores = teacher.scores if teacher else lambda images: None  # [label, teacher] targets, or labels
    qat.fit(tf_dataset(train, batch_size, training=True, seed=seed, teacher=scores(train),
                       class_weight=class_weights(train.counts)),  # as each crop's weight
            validation_data=tf_dataset(dev, batch_size, training=False, teacher=scores(dev)),
            epochs=epochs, callbacks=[EpochLog("quantize", epochs)], verbose=0)
    flatbuffer = convert_int8(qat, representative)
    write_bytes(out, flatbuffer)
    log.info("quantize: wrote %s (%d bytes)", out, len(flatbuffer))
    return qat
