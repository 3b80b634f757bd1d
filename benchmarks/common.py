"""What the benchmark scripts share: where the checkout, ../shared (datasets, weights, the peer),
the shipped model and the results are. The paths are the package's test helpers' own
(``antispoof.testing.checkout``), which the test suite reads too; the scripts that time remote
targets or scale-out drive the same loopback servers (``antispoof.testing.loopback``). Every
script takes these as defaults of its own flags.

Every script imports it before anything that loads TensorFlow: importing it hides the libraries'
log lines (TensorFlow's C++ start-up lines among them) as the CLI does, unless the script is
given --verbose, and shows ours on stderr."""
import argparse
import sys

import antispoof  # noqa: F401  (selects tf_keras before TensorFlow loads)
from antispoof.core.console import configure

configure(verbose="--verbose" in sys.argv[1:])  # before TensorFlow writes to descriptor 2

from antispoof.core.shipped import DEFAULT_MODEL as SHIPPED  # noqa: E402,F401 (re-exported)
from antispoof.testing.checkout import (DATA, NUAA, PEERS, REPLAY_WEBCAM, REPO,  # noqa: E402,F401
                                        SHARED, WEBCAM_MULTI, WEIGHTS, WEIGHTS_035, WEIGHTS_100)

RESULTS = REPO / "benchmarks" / "results"
NUAA_PROTOCOL = NUAA / "protocol.json"


def argument_parser(doc):
    """A script's argument parser, with the --verbose that the import above read; its
    description is the first paragraph of ``doc`` (the script's docstring)."""
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    parser.add_argument("--verbose", action="store_true",
                        help="Show the libraries' log lines (hidden by default).")
    return parser
