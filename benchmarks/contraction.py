"""Contraction benchmark on NUAA: which starting weights make the best small model?

Same architecture (MobileNetV2 width 0.35 cut after block 8, linear head), same epochs and
recipe for every variant; only where the backbone's weights come from changes:

  contracted-l1 / -bn-gamma / -activation   width-1.0 network contracted to 0.35 by each criterion
  keras-0.35-imagenet                      Keras' own width-0.35 ImageNet weights
  random-init                              no pretrained weights

Contracted backbones get their BatchNorm statistics recalibrated on 256 train-split crops
(``--no-recalibrate`` for the ablation).

Test metrics use thresholds from the dev split. Prints a table and writes JSON.

    python benchmarks/contraction.py --out benchmarks/results/contraction-seed0.json
"""
import json
import sys
from pathlib import Path

from common import NUAA, NUAA_PROTOCOL, WEIGHTS_035, WEIGHTS_100, argument_parser

from antispoof.pipeline.build import build
from antispoof.compress.contraction import contract
from antispoof.runtime.info import model_info
from antispoof.training.options import TrainOptions

VARIANTS = ("contracted-l1", "contracted-bn-gamma", "contracted-activation",
            "keras-0.35-imagenet", "random-init")


def run_variant(name, args, work):
    run = work / name
    options = TrainOptions(backbone="mnv2-0.35-b8", epochs=args.epochs, seed=args.seed)
    weights = args.weights_035
    if name.startswith("contracted-"):
        criterion = name.removeprefix("contracted-")
        backbone = run / "backbone.keras"
        if not backbone.exists():
            contract(args.weights_full, backbone, width=0.35, blocks=8, criterion=criterion,
                     calibration_dir=args.data, protocol=args.protocol,
                     recalibrate=not args.no_recalibrate)
        options.init = str(backbone)
    elif name == "random-init":
        weights = None
    metrics = build(args.data, run, weights, options, args.protocol)
    int8 = metrics["int8"]
    return {
        "variant": name,
        "parameters": model_info(run / "model.keras")["parameters"],
        "int8_bytes": int8["size_bytes"],
        "float_auc": metrics["float"]["auc"], "float_acer": metrics["float"]["acer"],
        "int8_auc": int8["auc"], "int8_acer": int8["acer"],
        "int8_apcer": int8["apcer"], "int8_bpcer": int8["bpcer"],
        "dev_val_auc_last_epoch": json.loads((run / "history.json").read_text())["epochs"][-1]["val_auc"],
    }


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--data", default=NUAA, type=Path)
    parser.add_argument("--protocol", default=NUAA_PROTOCOL, type=Path)
    parser.add_argument("--weights-full", type=Path,
                        default=WEIGHTS_100)
    parser.add_argument("--weights-035", type=Path, default=WEIGHTS_035)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-recalibrate", action="store_true",
                        help="Ablation: keep the full network's BatchNorm statistics after contraction.")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-contraction"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/contraction.json"))
    args = parser.parse_args()

    rows = [run_variant(name, args, args.work / f"seed{args.seed}") for name in args.variants]
    header = f"{'variant':<24} {'params':>7} {'int8 B':>7} {'AUC f32':>8} {'ACER f32':>9} " \
             f"{'AUC int8':>9} {'ACER int8':>10}"
    print(header)
    for r in rows:
        print(f"{r['variant']:<24} {r['parameters']:>7} {r['int8_bytes']:>7} {r['float_auc']:>8.4f} "
              f"{100 * r['float_acer']:>8.2f}% {r['int8_auc']:>9.4f} {100 * r['int8_acer']:>9.2f}%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"epochs": args.epochs, "seed": args.seed,
                                    "bn_recalibration": not args.no_recalibrate, "rows": rows}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
