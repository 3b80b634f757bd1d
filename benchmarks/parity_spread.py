"""The spread of int8/QAT parity over training runs: the test suite's small build (eight NUAA
subjects, 30 crops per subject and class, one epoch of training and one of QAT) repeated with
several seeds. Training differs from seed to seed as it differs from CPU to CPU (float
arithmetic is not bit-reproducible across machines), so this spread is what a tolerance on that
build's parity has to cover (tests/test_quantize.py). Prints a table, writes JSON.

    python benchmarks/parity_spread.py --seeds 0 1 2 3 4
"""
import json
import tempfile
from pathlib import Path

from common import WEIGHTS_035 as WEIGHTS, argument_parser

import numpy as np

from antispoof.pipeline.build import BuildOptions, build
from antispoof.testing.nuaa import SMALL_SUBJECTS, make_subset
from antispoof.training.options import TrainOptions


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/parity_spread.json"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data = make_subset(Path(scratch) / "data", SMALL_SUBJECTS, 30)  # conftest.small_data
        for seed in args.seeds:
            result = build(data, Path(scratch) / f"run-{seed}", str(WEIGHTS),
                           TrainOptions(epochs=1, seed=seed), build_options=BuildOptions(qat_epochs=1))
            rows.append({"seed": seed, **result["parity"]})
            print(f"seed {seed}: mean |int8 - QAT| {rows[-1]['mean_score_difference']:.4f}  max "
                  f"{rows[-1]['max_score_difference']:.4f}  decisions agree "
                  f"{100 * rows[-1]['decision_agreement']:.1f} %", flush=True)
    means = np.array([r["mean_score_difference"] for r in rows])
    agree = np.array([r["decision_agreement"] for r in rows])
    summary = {"mean_score_difference": {"mean": means.mean(), "std": means.std(ddof=1),
                                         "max": means.max()},
               "decision_agreement": {"mean": agree.mean(), "std": agree.std(ddof=1),
                                      "min": agree.min()}}
    print(f"over {len(rows)} seeds: mean difference {means.mean():.4f} ± {means.std(ddof=1):.4f} "
          f"(max {means.max():.4f}); agreement {100 * agree.mean():.1f} ± {100 * agree.std(ddof=1):.1f} % "
          f"(min {100 * agree.min():.1f} %)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
