"""Distillation benchmark on NUAA: the shipped light-model recipe with and without a teacher.

Student: `antispoof build` at 64×64 (contract to 100 KB, 3 epochs, QAT 2 epochs: the shipped
model's recipe), once with hard labels only and once with `--teacher` (the server model's soft
scores mixed in, alpha 0.5, temperature 2, during the float fine-tuning; QAT then uses the hard
labels). Same seeds, same size. Test metrics use thresholds from the dev split. Prints a table
and writes JSON.

    python benchmarks/distillation.py --teacher runs/server-128 --seeds 0 1 2
"""
import json
import logging
from pathlib import Path

from common import NUAA, NUAA_PROTOCOL, WEIGHTS_035, argument_parser

from antispoof.pipeline.build import build
from antispoof.core.files import write_json
from antispoof.training.options import TrainOptions

METRICS = ("auc", "acer", "apcer", "bpcer")


def student(run_dir, seed, teacher, args):
    options = TrainOptions(seed=seed, input_size=64, teacher=str(teacher) if teacher else None)
    result = build(args.data, run_dir, args.weights, options, args.protocol)
    return {"seed": seed, "teacher": str(teacher) if teacher else None,
            "size_bytes": (Path(run_dir) / "antispoof_int8.tflite").stat().st_size,
            "float": {k: result["float"][k] for k in METRICS},
            "int8": {k: result["int8"][k] for k in METRICS},
            "build_seconds": result.get("build_seconds")}


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=NUAA)
    parser.add_argument("--protocol", type=Path, default=NUAA_PROTOCOL)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_035)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-distillation"))
    parser.add_argument("--plain-runs", default="runs/nuaa-64-seed{seed}",
                        help="Where the runs without a teacher go (a finished run is reused: "
                             "the shipped model's own runs by default).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/distillation.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for seed in args.seeds:
        for teacher in (None, args.teacher):
            run_dir = (args.work / f"teacher-seed{seed}" if teacher
                       else Path(args.plain_runs.format(seed=seed)))
            rows.append(student(run_dir, seed, teacher, args))
            write_json(args.out, {"teacher": str(args.teacher), "rows": rows})
    print("| seed | teacher | bytes | float AUC | float ACER | int8 AUC | int8 ACER | APCER | BPCER |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f, q = r["float"], r["int8"]
        print(f"| {r['seed']} | {'yes' if r['teacher'] else 'no'} | {r['size_bytes']:,} | "
              f"{f['auc']:.4f} | {100 * f['acer']:.2f} % | {q['auc']:.4f} | {100 * q['acer']:.2f} % | "
              f"{100 * q['apcer']:.2f} % | {100 * q['bpcer']:.2f} % |")
    print(json.dumps({"worst_int8_acer": {
        kind: max(r["int8"]["acer"] for r in rows if bool(r["teacher"]) == (kind == "teacher"))
        for kind in ("plain", "teacher")}}))


if __name__ == "__main__":
    main()
