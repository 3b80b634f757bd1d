"""The peers: other projects' anti-spoofing models as ONNX, scored with the same contract as ours
(RGB face crops in, P(spoof) out), through ONNX Runtime (``pip install antispoof[bench]``).

Each peer's input contract is in its README under ``../shared/weights``; ``FORMATS`` holds them,
keyed by the name of the model's input tensor: Silent-Face's MiniFASNets (NCHW BGR 0..255 at
80×80, three logits, softmax index 1 = P(real)), suri's MiniFASNetV2SE trained on CelebA-Spoof
(NCHW RGB pixel/255 at 128×128, logits [real, spoof]) and HyperFAS (NHWC BGR (pixel − 127.5) /
127.5 at 224×224, a sigmoid P(real)). Tight crops (as in our datasets) are resized whole: the
wider context crops of the authors' pipelines cannot be made from them.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from antispoof.core.errors import AntispoofError

PEER_SUFFIX = ".onnx"
BATCH = 256


@dataclass(frozen=True)
class PeerFormat:
    name: str
    channels_first: bool
    bgr: bool
    scale: float  # network input = pixel * scale + offset
    offset: float
    output: str  # "softmax-real": softmax index 1 is P(real); "softmax-spoof": index 1 is
    #             P(spoof); "sigmoid-real": one sigmoid P(real)

    def spoof(self, outputs):
        if self.output == "sigmoid-real":
            return 1.0 - outputs[:, 0]
        logits = outputs - outputs.max(axis=1, keepdims=True)
        softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return softmax[:, 1] if self.output == "softmax-spoof" else 1.0 - softmax[:, 1]


FORMATS = {  # the input tensor's name -> its contract (each peer's README)
    "bgr_0_255": PeerFormat("Silent-Face MiniFASNet", True, True, 1.0, 0.0, "softmax-real"),
    "input": PeerFormat("suri MiniFASNetV2SE (CelebA-Spoof)", True, False, 1 / 255, 0.0, "softmax-spoof"),
    "bgr_m1_1": PeerFormat("HyperFAS", False, True, 1 / 127.5, -1.0, "sigmoid-real"),
}


class PeerClassifier:
    """A peer's ONNX model, scored like a TFLite one: uint8 RGB crops in, P(spoof) out."""

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
        self.format, shape = FORMATS.get(tensor.name), list(tensor.shape)
        if self.format is None or len(shape) != 4:
            spatial, channels = (None, None), None
        else:
            spatial, channels = (shape[2:], shape[1]) if self.format.channels_first else (shape[1:3], shape[3])
        if channels != 3 or spatial[0] != spatial[1] or not isinstance(spatial[0], int):
            known = "; ".join(f"{f.name} ('{name}')" for name, f in FORMATS.items())
            raise AntispoofError(f"{self.path}: ONNX input '{tensor.name}' {shape} is no peer antispoof "
                                 f"knows (by input name: {known})")
        self.input_name, self.input_size = tensor.name, int(spatial[0])
        self.runtime = f"onnxruntime {onnxruntime.__version__}"

    def predict(self, pixels):
        """P(spoof) for a batch of N×S×S×3 uint8 RGB crops."""
        if pixels.ndim != 4 or pixels.shape[1:] != (self.input_size, self.input_size, 3):
            raise AntispoofError(f"{self.path}: model expects N×{self.input_size}×"
                                 f"{self.input_size}×3 RGB crops, got an array of shape {pixels.shape}")
        scores, f = [], self.format
        for start in range(0, len(pixels), BATCH):
            batch = pixels[start:start + BATCH]
            batch = batch[..., ::-1] if f.bgr else batch
            batch = batch.transpose(0, 3, 1, 2) if f.channels_first else batch
            values = batch.astype(np.float32) * np.float32(f.scale) + np.float32(f.offset)
            outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(values)})[0]
            scores.append(f.spoof(outputs.astype(np.float64)))
        return np.concatenate(scores).astype(np.float32)
