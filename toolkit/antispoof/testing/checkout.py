"""Where a source checkout keeps what its tests and benchmarks read: ``../shared`` beside the
checkout (datasets, pretrained weights, the peers; ``ANTISPOOF_SHARED`` names another folder)
and ``.cache`` (system tools that ``make system-deps`` extracts). Each path is defined here
once."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]  # toolkit/antispoof/testing/checkout.py
CACHE = REPO / ".cache"
ADBD_ROOT = CACHE / "adbd"
SHARED = Path(os.environ.get("ANTISPOOF_SHARED") or REPO.parent / "shared")
DATA = SHARED / "data"
NUAA = DATA / "nuaa"
WEBCAM_MULTI = DATA / "webcam-multi"
REPLAY_WEBCAM = DATA / "replay-webcam"  # evaluation only: never trained, tuned or chosen on
WEIGHTS = SHARED / "weights"
WEIGHTS_035 = WEIGHTS / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
WEIGHTS_100 = WEIGHTS / "mobilenet_v2_weights_1.0_224_no_top_from_int8_tflite.h5"
PEERS = {"peer MiniFASNetV2": WEIGHTS / "silentface/minifasnetv2_scale2.7_80x80.onnx",
         "peer MiniFASNetV1SE": WEIGHTS / "silentface/minifasnetv1se_scale4.0_80x80.onnx",
         "peer suri": WEIGHTS / "suri/suri_minifasnetv2se_celebaspoof_128.onnx",
         "peer HyperFAS": WEIGHTS / "hyperfas/hyperfas_mobilenet05_224.onnx"}


def shared_missing():
    """The first file of ``../shared`` that the data-reading tests need and that is missing, or
    None when it is all there."""
    for path in (NUAA / "protocol.json", WEIGHTS_035):
        if not path.exists():
            return path
    return None
