"""The peer: Silent-Face's MiniFASNet models as ONNX, scored with the same contract as ours
(RGB face crops in, P(spoof) out), through ONNX Runtime (``pip install antispoof[bench]``).

Their input is float32 NCHW BGR pixels 0..255 at 80×80; their output three logits, softmax
index 1 being P(real), so P(spoof) = 1 − softmax[1]. Tight crops (as in our datasets) are
resized whole: the wider context crops of the authors' pipeline cannot be made from them.
"""
from pathlib import Path

import numpy as np

from antispoof.core.errors import AntispoofError

PEER_SUFFIX = ".onnx"
BATCH = 256


class PeerClassifier:
    """An ONNX MiniFASNet model, scored like a TFLite one: uint8 RGB crops in, P(spoof) out."""

    def __init__(self, path, threads=1):
        try:
            import onnxruntime
        except ImportError:
            raise AntispoofError(f"{path}: ONNX models need onnxruntime: pip install "
                                 "'antispoof[bench]'") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise AntispoofError(f"{self.path}: model file not found")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise AntispoofError(f"{self.path}: cannot load ONNX model ({exc})") from None
        (tensor,) = self.session.get_inputs()
        shape = tensor.shape
        if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or not isinstance(shape[2], int):
            raise AntispoofError(f"{self.path}: ONNX input {shape}; a MiniFASNet peer takes "
                                 "N×3×S×S BGR pixels")
        self.input_name, self.input_size = tensor.name, int(shape[2])
        self.runtime = f"onnxruntime {onnxruntime.__version__}"

    def predict(self, pixels):
        """P(spoof) for a batch of N×S×S×3 uint8 RGB crops."""
        if pixels.ndim != 4 or pixels.shape[1:] != (self.input_size, self.input_size, 3):
            raise AntispoofError(f"{self.path}: model expects N×{self.input_size}×"
                                 f"{self.input_size}×3 RGB crops, got an array of shape {pixels.shape}")
        scores = []
        for start in range(0, len(pixels), BATCH):
            bgr = pixels[start:start + BATCH, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32)
            logits = self.session.run(None, {self.input_name: np.ascontiguousarray(bgr)})[0]
            logits = logits - logits.max(axis=1, keepdims=True)
            softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            scores.append(1.0 - softmax[:, 1])
        return np.concatenate(scores).astype(np.float32)
