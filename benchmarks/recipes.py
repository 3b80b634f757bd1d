"""Training recipes of the shipped model, three seeds each: NUAA test and replay-webcam.

Each recipe is `antispoof build --input-size 64 --seed N` plus its flags (budget 100 KB, QAT
unless `--mode ptq`).
NUAA test metrics come from the build (thresholds from NUAA dev). The cross-dataset columns score
the int8 file and its float model on every crop of `replay-webcam` (screen replays; evaluation
only, nothing is trained, tuned or thresholded on it) at their NUAA-dev thresholds. A finished
run directory is reused (its build resumes: only the evaluation runs again). Prints a table,
writes JSON.

    python benchmarks/recipes.py  # every recipe; --recipes NAME ... for some
"""
import json
import logging
import sys
from pathlib import Path

from common import NUAA, NUAA_PROTOCOL, REPLAY_WEBCAM, WEIGHTS_035, argument_parser

from antispoof.core import metrics
from antispoof.pipeline.build import BuildOptions, build
from antispoof.data.datasets import FaceDataset, load_images
from antispoof.runtime.interpreter import open_classifier
from antispoof.training.options import TrainOptions

# name -> (run directory stem, TrainOptions fields besides the seed (input size 64 unless
# given)[, BuildOptions fields])
RECIPES = {
    "epochs-3": ("nuaa-64", {}),  # the recipe of models/antispoof_int8.tflite (seed 0)
    "augment": ("nuaa-64-aug", {"augment": True}),
    "ema": ("nuaa-64-ema", {"ema": 0.99}),
    "epochs-5": ("nuaa-64-e5", {"epochs": 5}),
    "epochs-8": ("nuaa-64-e8", {"epochs": 8}),
    "epochs-5-flip": ("nuaa-64-e5-flip", {"epochs": 5, "flip_average": True}),
    "epochs-5-flip-48": ("nuaa-48-e5-flip", {"epochs": 5, "flip_average": True, "input_size": 48}),
    "epochs-8-flip-48": ("nuaa-48-e8-flip", {"epochs": 8, "flip_average": True, "input_size": 48}),
    "epochs-8-flip-48-ptq": ("nuaa-48-e8-flip-ptq",
                             {"epochs": 8, "flip_average": True, "input_size": 48}, {"mode": "ptq"}),
    "epochs-8-flip-48-qat-4": ("nuaa-48-e8-flip-q4",
                               {"epochs": 8, "flip_average": True, "input_size": 48}, {"qat_epochs": 4}),
    # synthetic attacks: webcam effects on half the crops, half of those reals made attacks
    "synth": ("nuaa-64-synth", {"synth_spoof": 0.5}),
    "synth-screen": ("nuaa-64-synth-screen", {"synth_spoof": 0.5, "synth_families": ("screen",)}),
    "synth-print": ("nuaa-64-synth-print", {"synth_spoof": 0.5, "synth_families": ("print",)}),
}
NUAA_METRICS = ("auc", "acer", "apcer", "bpcer", "threshold")


def cross_dataset(model, threshold, images):
    """AUC, EER, and APCER per attack type, BPCER, ACER at ``threshold``, on loaded crops."""
    scores, labels = model.predict(images.pixels), images.labels
    attacks = [s.attack for s in images.samples]
    return metrics.summary(labels, scores, threshold, attacks)


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--data", default=NUAA, type=Path)
    parser.add_argument("--protocol", default=NUAA_PROTOCOL, type=Path)
    parser.add_argument("--cross", default=REPLAY_WEBCAM, type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_035)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES,
                        metavar="RECIPE", help="names of this script's NUAA recipes (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recipes.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    cross_samples, cross = FaceDataset(args.cross).samples, {}  # input size -> loaded crops
    rows = []
    for recipe in args.recipes:
        stem, fields, *plan = RECIPES[recipe]
        options = {"input_size": 64, **fields}
        size = options["input_size"]
        if size not in cross:
            cross[size] = load_images(cross_samples, size)
        for seed in args.seeds:
            run_dir = args.work / f"{stem}-seed{seed}"
            result = build(args.data, run_dir, str(args.weights),
                           TrainOptions(seed=seed, **options), args.protocol,
                           build_options=BuildOptions(**(plan[0] if plan else {})))
            int8 = result["int8"]
            rows.append({
                "recipe": recipe, "seed": seed, "run": str(run_dir), "size_bytes": int8["size_bytes"],
                "float": {k: result["float"][k] for k in NUAA_METRICS},
                "int8": {k: int8[k] for k in NUAA_METRICS},
                "cross_int8": cross_dataset(open_classifier(run_dir / "antispoof_int8.tflite"),
                                            int8["threshold"], cross[size]),
                "cross_float": cross_dataset(open_classifier(run_dir / "model.keras"),
                                             result["float"]["threshold"], cross[size]),
            })
    print(f"{'recipe':<22} {'seed':>4} {'bytes':>6} | NUAA {'float ACER':>10} {'int8 AUC':>8} "
          f"{'ACER':>6} {'APCER':>6} {'BPCER':>6} | replay float {'AUC':>6} | int8 {'AUC':>6} "
          f"{'APCER':>6} {'BPCER':>6}")
    for r in rows:
        f, q, c = r["float"], r["int8"], r["cross_int8"]
        print(f"{r['recipe']:<22} {r['seed']:>4} {r['size_bytes']:>6} | {100 * f['acer']:>14.2f}% "
              f"{q['auc']:>8.5f} {100 * q['acer']:>5.2f}% {100 * q['apcer']:>5.2f}% "
              f"{100 * q['bpcer']:>5.2f}% | {r['cross_float']['auc']:>19.3f} | {c['auc']:>11.3f} "
              f"{100 * c['apcer']:>5.1f}% {100 * c['bpcer']:>5.1f}%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cross_dataset": str(args.cross), "rows": rows}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
