"""Run a model on face crops: a ``.tflite`` file through the fastest runtime installed, or Keras.

TFLite runtimes are tried in the order LiteRT (``ai_edge_litert``), ``tflite_runtime``,
``tensorflow.lite``; every result says which one ran.
"""
from pathlib import Path

import numpy as np

from antispoof.core.errors import AntispoofError
from antispoof.runtime.device_runner import TFLITE_RUNTIMES, find_runtime, interpreter_options
from antispoof.runtime.peer import PEER_SUFFIX, PeerClassifier

BATCH = 64


def runtime_module(runtime=None):
    """The first importable TFLite runtime (or the one named): (module, name, version)."""
    found = find_runtime(runtime)
    if found is None:
        wanted = runtime or " / ".join(r[2] for r in TFLITE_RUNTIMES)
        raise AntispoofError(f"no TFLite runtime available ({wanted}): pip install ai-edge-litert")
    return found


MODEL_SUFFIXES = (".tflite", ".keras", ".h5", PEER_SUFFIX)


def is_model_file(path):
    """Whether ``path`` names a model rather than an input: by its suffix, or by its first bytes
    (a TFLite flatbuffer's TFL3 identifier, HDF5's signature)."""
    path = Path(path)
    if path.suffix.lower() in MODEL_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            header = f.read(8)
    except OSError:
        return False
    return header[4:8] == b"TFL3" or header == b"\x89HDF\r\n\x1a\n"


def check_tflite_file(path):
    path = Path(path)
    if not path.is_file():
        raise AntispoofError(f"{path}: model file not found")
    with open(path, "rb") as f:
        header = f.read(8)
    if header[4:8] != b"TFL3":
        raise AntispoofError(f"{path}: not a TFLite model (no TFL3 flatbuffer identifier)")
    return path


def make_interpreter(path, threads=1, runtime=None, default_delegates=True):
    """An allocated Interpreter for a checked ``.tflite`` file: (interpreter, runtime, version).

    ``default_delegates=False`` runs the built-in kernels only (no XNNPACK), so the
    op list shows the model's own ops rather than one delegate node.
    """
    path = check_tflite_file(path)
    if threads < 1:
        raise AntispoofError(f"threads must be at least 1, not {threads}")
    module, name, version = runtime_module(runtime)
    kernels = "xnnpack" if default_delegates else "builtin"
    try:
        interpreter = module.Interpreter(model_path=str(path),
                                         **interpreter_options(module, threads, kernels))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise AntispoofError(f"{path}: cannot load TFLite model ({exc})") from None
    return interpreter, name, version


def spoof_scores(outputs):
    """P(spoof) per crop from a model's outputs: one sigmoid unit, or [P(real), P(spoof)]."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 2 and outputs.shape[1] == 2:
        return outputs[:, 1].astype(np.float32)
    return outputs.reshape(-1).astype(np.float32)


INPUT_DTYPES = (np.int8, np.uint8, np.float32)


def check_io(path, inputs, outputs):
    """Refuse, in one line, a TFLite model whose tensors the antispoof contract cannot feed or
    read: one N×S×S×3 input (batch 1 or dynamic; int8, uint8 or float32) and one output of
    P(spoof) or [P(real), P(spoof)] per crop. ``inputs``/``outputs``: the interpreter's details."""
    if len(inputs) != 1 or len(outputs) != 1:
        raise AntispoofError(f"{path}: model has {len(inputs)} inputs and {len(outputs)} outputs; "
                             "an anti-spoofing model has one of each")
    (tensor,), (output,) = inputs, outputs
    shape = [int(d) for d in tensor.get("shape_signature", tensor["shape"])]
    described = "×".join("N" if d < 0 else str(d) for d in shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2]:
        layout = (" (channels first?)" if len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)
                  else "")
        raise AntispoofError(f"{path}: model input is {described}{layout}; antispoof models take "
                             "N×S×S×3 RGB face crops")
    if shape[0] not in (-1, 1):
        raise AntispoofError(f"{path}: model input has a fixed batch of {shape[0]}; it needs "
                             "batch 1 or a dynamic batch")
    if tensor["dtype"] not in INPUT_DTYPES:
        raise AntispoofError(f"{path}: model input is {np.dtype(tensor['dtype']).name}; antispoof "
                             "models take int8, uint8 or float32 pixels")
    per_crop = int(np.prod(output["shape"][1:])) if len(output["shape"]) > 1 else 1
    if per_crop not in (1, 2):
        raise AntispoofError(f"{path}: model outputs {per_crop} values per crop; antispoof models "
                             "output P(spoof), or [P(real), P(spoof)]")


class TFLiteClassifier:
    """A ``.tflite`` anti-spoofing model: uint8 RGB crops in, P(spoof) out."""

    def __init__(self, path, threads=1, runtime=None):
        self.path = Path(path)
        self.interpreter, self.runtime_name, self.runtime_version = make_interpreter(
            path, threads, runtime)
        check_io(self.path, self.interpreter.get_input_details(),
                 self.interpreter.get_output_details())
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = 1

    @property
    def runtime(self):
        return f"{self.runtime_name} {self.runtime_version}"

    @property
    def input_size(self):
        return int(self.input["shape"][1])

    def _resize(self, batch):
        if batch != self.batch:
            shape = [batch, *self.input["shape"][1:]]
            self.interpreter.resize_tensor_input(self.input["index"], shape)
            self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self.batch = batch

    def quantize_input(self, pixels):
        """uint8 pixels → the model's input tensor, through its recorded scale and zero point."""
        dtype = self.input["dtype"]
        if dtype == np.float32:
            return pixels.astype(np.float32)
        scale, zero_point = self.input["quantization"]
        if scale == 1.0 and dtype == np.int8 and zero_point == -128:
            return (pixels.astype(np.int16) - 128).astype(np.int8)  # exact, no float round trip
        info = np.iinfo(dtype)
        q = np.round(pixels.astype(np.float32) / scale + zero_point)
        return np.clip(q, info.min, info.max).astype(dtype)

    def dequantize_output(self, raw):
        if self.output["dtype"] == np.float32:
            return raw.astype(np.float32)
        scale, zero_point = self.output["quantization"]
        return (raw.astype(np.float32) - zero_point) * scale

    def predict(self, pixels):
        """P(spoof) for a batch of N×S×S×3 uint8 crops."""
        pixels = _check_pixels(pixels, self.input_size, self.path)
        scores = []
        for start in range(0, len(pixels), BATCH):
            chunk = pixels[start:start + BATCH]
            self._resize(len(chunk))
            self.interpreter.set_tensor(self.input["index"], self.quantize_input(chunk))
            self.interpreter.invoke()
            scores.append(self.dequantize_output(self.interpreter.get_tensor(self.output["index"])))
        return spoof_scores(np.concatenate(scores))


class KerasClassifier:
    """A Keras model file, scored with the same contract as a TFLite one."""

    def __init__(self, path):
        from antispoof.models.builders import load_model
        import tf_keras

        self.path = Path(path)
        self.model = load_model(path)
        self.runtime = f"tf_keras {tf_keras.__version__}"

    @property
    def input_size(self):
        return int(self.model.input_shape[1])

    def predict(self, pixels):
        pixels = _check_pixels(pixels, self.input_size, self.path)
        from antispoof.models.builders import predict  # TensorFlow only when a .keras file is read

        return spoof_scores(predict(self.model, pixels))


def _check_pixels(pixels, size, path):
    if pixels.ndim != 4 or pixels.shape[1:] != (size, size, 3):
        raise AntispoofError(f"{path}: model expects N×{size}×{size}×3 RGB crops, "
                             f"got an array of shape {pixels.shape}")
    return pixels


def open_classifier(path, threads=1, runtime=None):
    """A TFLite, Keras or (the peer) ONNX classifier for ``path``, chosen by its suffix."""
    path = Path(path)
    if path.suffix in (".keras", ".h5") or path.is_dir():
        return KerasClassifier(path)
    if path.suffix == PEER_SUFFIX:
        return PeerClassifier(path, threads)
    return TFLiteClassifier(path, threads, runtime)
