"""Full-integer post-training quantization: int8 weights, activations, input and output."""
import logging
from pathlib import Path

import numpy as np

from .data import FaceDataset
from .files import write_bytes
from .train import load_trained

log = logging.getLogger("antispoof")


def calibration_images(data_dir, size, count=300, protocol=None, seed=0):
    """Representative crops from the train split, plus one 0..255 ramp.

    The ramp pins the input range to the full pixel range, so the int8 input has
    scale 1 and zero point -128: callers feed ``uint8 - 128`` exactly.
    """
    images = FaceDataset(data_dir, protocol, seed=seed).load("train", size, limit=count, seed=seed)
    ramp = np.broadcast_to(np.linspace(0, 255, size, dtype=np.float32)[None, :, None], (size, size, 3))
    return [ramp, *images.pixels.astype(np.float32)]


def convert_int8(model, representative):
    """Full-integer int8 TFLite flatbuffer of a Keras model, calibrated on ``representative``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def quantize_ptq(run_dir, data_dir, out, protocol=None, calibration=300, seed=0):
    """Convert the run's Keras model to an int8 ``.tflite`` file at ``out``."""
    model = load_trained(run_dir)
    size = int(model.input_shape[1])
    representative = calibration_images(data_dir, size, calibration, protocol, seed)
    log.info("quantize: calibrating on %d crops", len(representative))
    flatbuffer = convert_int8(model, representative)
    write_bytes(out, flatbuffer)
    log.info("quantize: wrote %s (%d bytes)", out, len(flatbuffer))
    return Path(out)
