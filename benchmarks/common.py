"""What the benchmark scripts share: where the checkout, ../shared (datasets, weights, the peer),
the shipped model and the results are, and the test suite's loopback harness (a real sshd and
adbd on 127.0.0.1) for the scripts that time remote targets. Every script takes these as
defaults of its own flags."""
import sys
from pathlib import Path

import antispoof  # noqa: F401  (selects tf_keras before TensorFlow loads)
from antispoof.core.shipped import DEFAULT_MODEL as SHIPPED  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
NUAA = DATA / "nuaa"
NUAA_PROTOCOL = NUAA / "protocol.json"
WEBCAM_MULTI = DATA / "webcam-multi"
REPLAY_WEBCAM = DATA / "replay-webcam"  # evaluation only: never trained, tuned or chosen on
WEIGHTS = SHARED / "weights"
WEIGHTS_035 = WEIGHTS / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
WEIGHTS_100 = WEIGHTS / "mobilenet_v2_weights_1.0_224_no_top_from_int8_tflite.h5"
PEERS = {"peer MiniFASNetV2": WEIGHTS / "silentface/minifasnetv2_scale2.7_80x80.onnx",
         "peer MiniFASNetV1SE": WEIGHTS / "silentface/minifasnetv1se_scale4.0_80x80.onnx"}
TESTS = REPO / "tests"


def test_helpers():
    """Make the test suite's helpers importable (``loopback``, ``conftest``): the benchmarks of
    remote targets and of scale-out drive the same real servers the tests do."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
