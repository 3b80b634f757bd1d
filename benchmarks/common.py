"""What the benchmark scripts share: where the checkout, ../shared (datasets, weights, the peer),
the shipped model and the results are. The paths are the package's test helpers' own
(``antispoof.testing.checkout``), which the test suite reads too; the scripts that time remote
targets or scale-out drive the same loopback servers (``antispoof.testing.loopback``). Every
script takes these as defaults of its own flags."""
import antispoof  # noqa: F401  (selects tf_keras before TensorFlow loads)
from antispoof.core.shipped import DEFAULT_MODEL as SHIPPED  # noqa: F401  (re-exported)
from antispoof.testing.checkout import (DATA, NUAA, PEERS, REPLAY_WEBCAM, REPO,  # noqa: F401
                                        SHARED, WEBCAM_MULTI, WEIGHTS, WEIGHTS_035, WEIGHTS_100)

RESULTS = REPO / "benchmarks" / "results"
NUAA_PROTOCOL = NUAA / "protocol.json"
