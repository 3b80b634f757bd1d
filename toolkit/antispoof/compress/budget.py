"""Size budgets: which contracted MobileNetV2 layout fits an int8 file of K bytes."""
import logging

import numpy as np
import tf_keras as keras

from antispoof.compress.quantization import convert_int8
from antispoof.core.errors import AntispoofError
from antispoof.models.builders import add_head
from antispoof.models.mobilenet_v2 import mobilenet_v2, normalized_input
from antispoof.models.specs import DEFAULT_HEAD, DEFAULT_INPUT_SIZE
from antispoof.models.widths import Widths

log = logging.getLogger("antispoof")

SEARCH_DEPTHS = (5, 8, 9, 12, 15, 16)
SEARCH_ALPHAS = tuple(round(0.2 + 0.05 * i, 2) for i in range(17))  # 0.20 .. 1.00


def candidate_model(widths, head=DEFAULT_HEAD, input_size=DEFAULT_INPUT_SIZE):
    """A model of this architecture with random parameters, for its size and parameter count.

    Every bias and BatchNorm parameter is random too: the converter stores identical constant
    buffers once, so the all-zero biases of a fresh model would understate a trained file's size.
    """
    image, normalized = normalized_input(input_size)
    model = keras.Model(image, add_head(mobilenet_v2(normalized, widths), head))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def int8_size(model, per_channel=True):
    """Bytes of the model's int8 ``.tflite`` file (the weights' values do not change it)."""
    size = model.input_shape[1]
    noise = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype(np.float32)
    return len(convert_int8(model, noise, per_channel))


# Bytes of a full-integer int8 file (TF 2.19.1 converter, compacted tensor names), least squares
# over 7 conversions of candidate_model()s, residuals under 80 B: per int8 weight (BN folded),
# per conv/dense output channel (int32 bias, float32 scales and int64 zero points), per layer
# (tensors), fixed.
BYTES_PER_WEIGHT, BYTES_PER_CHANNEL, BYTES_PER_LAYER, BYTES_FIXED = 1.023, 57.77, 154.4, 1994
# What per-tensor quantization saves at most per output channel: the float32 scale and int64
# zero point of the weights and of the bias (used as a lower bound of a per-tensor file's size)
PER_TENSOR_SAVING = 24


def estimate_int8_bytes(model, per_channel=True):
    """Estimated bytes of the model's int8 file (per-tensor: a lower bound)."""
    weights = channels = layers = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):  # depthwise included
            kernel = layer.weights[0].shape
            weights += int(np.prod(kernel))
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            channels += kernel[-2] * kernel[-1] if depthwise else kernel[-1]
        if layer.weights or isinstance(layer, (keras.layers.Add, keras.layers.ReLU)):
            layers += 1
    per_channel_bytes = BYTES_PER_CHANNEL - (0 if per_channel else PER_TENSOR_SAVING)
    return (BYTES_PER_WEIGHT * weights + per_channel_bytes * channels + BYTES_PER_LAYER * layers
            + BYTES_FIXED)


def estimated_fits(budget_bytes, head=DEFAULT_HEAD, input_size=DEFAULT_INPUT_SIZE, depths=SEARCH_DEPTHS,
                   alphas=SEARCH_ALPHAS, quantizations=(True,)):
    """Every depth × uniform width (× per-channel True/False) whose estimated int8 size fits,
    most parameters first, per-channel before per-tensor: (parameters, depth, alpha,
    per_channel, widths, model) each."""
    found = []
    for depth in depths:
        for alpha in alphas:
            widths = Widths.uniform(alpha, depth)
            model = candidate_model(widths, head, input_size)
            for per_channel in quantizations:
                if estimate_int8_bytes(model, per_channel) <= budget_bytes:
                    found.append((model.count_params(), depth, alpha, per_channel, widths, model))
    return sorted(found, key=lambda c: (-c[0], not c[3]))


def search_widths(budget_bytes, head=DEFAULT_HEAD, input_size=DEFAULT_INPUT_SIZE, depths=SEARCH_DEPTHS, max_alpha=1.0):
    """The layout with the most parameters whose int8 file fits ``budget_bytes``.

    Candidates: every depth × uniform width on the grid. They are ranked by parameters
    among those whose estimated size fits; the best is converted to measure its real size,
    and the next one is tried if it does not fit. Returns (widths, bytes).
    """
    alphas = tuple(a for a in SEARCH_ALPHAS if a <= max_alpha)
    for params, depth, alpha, _, widths, model in estimated_fits(budget_bytes, head, input_size,
                                                                 depths, alphas):
        size = int8_size(model)
        log.info("contract: depth %d, width %.2f: %d parameters, %d bytes as int8", depth, alpha,
                 params, size)
        if size <= budget_bytes:
            return widths, size
    raise AntispoofError(f"no contracted MobileNetV2 fits {budget_bytes} bytes")
