"""How much quantization-aware training's seed alone moves a run's int8 figures: one recipe's
float model (one training seed) quantized again with other QAT seeds (the shuffle of the train
stream and the calibration crops), each int8 file scored as `generalization.py` scores a run
(dev AUC pooled / mean / worst source, the held-out sets at its own dev EER threshold). The
spread between QAT seeds is the part of the seeds' spread that no training recipe causes: two
recipes whose dev figures differ by less cannot be told apart by one build each. The QAT seed
equal to the training seed is the run's own int8 file (the build quantizes with it). Prints a
table, writes JSON (rates are fractions).

    python benchmarks/qat_seeds.py --work runs --qat-seeds 0 1 2
"""
import json
from pathlib import Path

from common import WEIGHTS_035, argument_parser

from antispoof.compress.quantization import quantize
from antispoof.pipeline.recipes import RECIPES
from antispoof.runtime.interpreter import open_classifier
from build_time import SHIPPED as SHIPPED_RECIPE_NAME
from generalization import Sets, build_run, evaluate_model, markdown_table, print_table, recipe_build

FIGURES = {  # the spread reported: name -> the row's figure
    "dev worst source": lambda r: r["dev_per_source"]["worst_per_source"],
    "dev pooled": lambda r: r["dev_per_source"]["pooled"],
    "webcam-multi test pooled": lambda r: r["webcam-multi-test"]["per_source"]["pooled"],
    "webcam-multi test mean per source": lambda r: r["webcam-multi-test"]["per_source"]["mean_per_source"],
    "replay-webcam AUC": lambda r: r["replay-webcam"]["auc"],
    "NUAA test ACER": lambda r: r["nuaa-test"]["acer"],
}


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--recipe", default=SHIPPED_RECIPE_NAME, choices=RECIPES, metavar="RECIPE",
                        help="a name of antispoof.pipeline.recipes.RECIPES (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0, help="The run's training seed.")
    parser.add_argument("--qat-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--weights", type=Path, default=WEIGHTS_035)
    parser.add_argument("--work", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/qat_seeds.json"))
    args = parser.parse_args(argv)

    run_dir = build_run(args.recipe, args.seed, args.work, args.weights)  # reused when finished
    _, options, plan, data = recipe_build(args.recipe, args.seed)
    sets, rows = Sets(), []
    for qat_seed in args.qat_seeds:
        int8 = run_dir / "antispoof_int8.tflite"
        if qat_seed != args.seed:
            int8 = run_dir / "qat-seeds" / f"qat-seed{qat_seed}.tflite"
            if not int8.exists():
                quantize(run_dir, data, int8, plan, None, options.batch_size, seed=qat_seed)
        rows.append({"recipe": f"{args.recipe} (QAT seed {qat_seed})", "seed": args.seed,
                     "qat_seed": qat_seed, "model": "int8", "file": str(int8),
                     "size_bytes": int8.stat().st_size, **evaluate_model(sets, open_classifier(int8))})
    spread = {name: {"min": min(map(figure, rows)), "max": max(map(figure, rows)),
                     "range": max(map(figure, rows)) - min(map(figure, rows))}
              for name, figure in FIGURES.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"recipe": args.recipe, "seed": args.seed, "run": str(run_dir),
                                    "rows": rows, "spread": spread}, indent=1) + "\n")
    print_table(rows)
    for name, s in spread.items():
        print(f"{name}: {s['min']:.4f} to {s['max']:.4f} (range {s['range']:.4f}) over QAT seeds "
              f"{' '.join(map(str, args.qat_seeds))}")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
