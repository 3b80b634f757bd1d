"""Quantization benchmark on NUAA: float vs PTQ int8 vs QAT int8, per configuration and seed.

Configurations:
  budget-100   `antispoof build --budget-kb 100` (the shipped default)
  budget-50    `antispoof build --budget-kb 50`
  paper        the paper's light model: width 0.35 to block 16's depthwise (336) + head 336-112-1

Each run trains once (3 epochs, BatchNorm frozen), then converts the same float model with
plain PTQ and with QAT (2 epochs at 1e-5). Test metrics use thresholds from the dev split;
latency is LiteRT, 1 thread, p50 of 300 runs. Prints a table and writes JSON.

    python benchmarks/quantization.py --configs budget-100 budget-50 --seeds 0 1 2
"""
import json
import logging
import sys
from pathlib import Path

from common import NUAA, NUAA_PROTOCOL, WEIGHTS_035, argument_parser

from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.runtime.device_runner import cpu_model
from antispoof.pipeline.build import BuildOptions, build
from antispoof.compress.contraction import contract
from antispoof.evaluation.evaluate import evaluate
from antispoof.compress.quantization import quantize_ptq
from antispoof.training.options import TrainOptions

CONFIGS = {
    "budget-100": {"budget_kb": 100},
    "budget-50": {"budget_kb": 50},
    "paper": {"budget_kb": None, "backbone": "mnv2-0.35-paper", "head": "paper"},
}
METRICS = ("auc", "acer", "apcer", "bpcer")


def run(config, seed, args):
    spec = CONFIGS[config]
    work = args.work / config
    options = TrainOptions(seed=seed, backbone=spec.get("backbone", "mnv2-0.35-b8"),
                           head=spec.get("head", "linear"))
    if spec["budget_kb"]:
        backbone = work / "backbone.keras"  # contraction does not depend on the seed: once
        if not backbone.exists():
            contract(args.weights, backbone, budget_kb=spec["budget_kb"], calibration_dir=args.data,
                     protocol=args.protocol)
        options.init = str(backbone)
    run_dir = work / f"seed{seed}"
    result = build(args.data, run_dir, args.weights, options, args.protocol,
                   build_options=BuildOptions(budget_kb=spec["budget_kb"], mode="qat"))
    ptq = run_dir / "ptq_int8.tflite"
    if not ptq.exists():
        quantize_ptq(run_dir, args.data, ptq, args.protocol, seed=seed)
    ptq_metrics = evaluate(ptq, args.data, "test", args.protocol)
    row = {"config": config, "seed": seed, "parameters": result["build"]["parameters"]}
    for name, m, path in (("float", result["float"], None),
                          ("ptq", ptq_metrics, ptq),
                          ("qat", result["int8"], run_dir / "antispoof_int8.tflite")):
        row[name] = {k: m[k] for k in METRICS}
        if path:
            row[name]["size_bytes"] = path.stat().st_size
            row[name]["litert_p50_ms"] = p50_ms(bench(path, BenchOptions(threads=1, runs=300, warmup=30)))
    row["qat"]["decision_agreement_with_keras"] = result["parity"]["decision_agreement"]
    return row


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--data", default=NUAA, type=Path)
    parser.add_argument("--protocol", default=NUAA_PROTOCOL, type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_035)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/bench-quantization"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/quantization.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    rows = [run(config, seed, args) for config in args.configs for seed in args.seeds]
    print(f"{'config':<11} {'seed':>4} {'params':>7} | {'float AUC':>9} {'ACER':>6} | "
          f"{'PTQ bytes':>9} {'AUC':>6} {'ACER':>6} {'p50 ms':>6} | "
          f"{'QAT bytes':>9} {'AUC':>6} {'ACER':>6} {'APCER':>6} {'BPCER':>6} {'p50 ms':>6}")
    for r in rows:
        f, p, q = r["float"], r["ptq"], r["qat"]
        print(f"{r['config']:<11} {r['seed']:>4} {r['parameters']:>7} | {f['auc']:>9.4f} "
              f"{100 * f['acer']:>5.2f}% | {p['size_bytes']:>9} {p['auc']:>6.4f} {100 * p['acer']:>5.2f}% "
              f"{p['litert_p50_ms']:>6.3f} | {q['size_bytes']:>9} {q['auc']:>6.4f} "
              f"{100 * q['acer']:>5.2f}% {100 * q['apcer']:>5.2f}% {100 * q['bpcer']:>5.2f}% "
              f"{q['litert_p50_ms']:>6.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": cpu_model(), "runtime": "litert, 1 thread",
                                    "rows": rows}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
