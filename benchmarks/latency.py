"""Latency of the shipped model against the reference MobileNetV2 0.35 (96×96, int8, with its
1280-channel final convolution: the Edge Impulse-style model), in one run on one machine, and
the end-to-end frame latency of ``antispoof predict`` (detect + crop + classify, 640×480).

    python benchmarks/latency.py --out benchmarks/results/latency.json
    # candidates for the shipped model, timed in the same rounds (LiteRT, 1 thread)
    python benchmarks/latency.py --candidate NAME=MODEL.tflite ... --out OTHER.json
"""
import json
import platform
import tempfile
import time
from pathlib import Path

from common import NUAA, REPO, SHIPPED, WEIGHTS_035 as WEIGHTS, argument_parser

import cv2
import numpy as np

from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.runtime.device_runner import cpu_model
from antispoof.runtime.predict import Predictor


REFERENCE_SIZE = 96  # the reference's input side (not the build default, which follows the shipped model)


def reference_model(path):
    """MobileNetV2 0.35 at 96×96, whole no-top network (1280-channel final conv), pooling and
    one output unit, PTQ int8 (random calibration pixels: latency does not depend on them)."""
    from antispoof.models.builders import build_model
    from antispoof.compress.quantization import convert_int8

    model = build_model("mnv2-0.35", "linear", REFERENCE_SIZE, weights=str(WEIGHTS))
    pixels = np.random.default_rng(0).integers(0, 256, (64, REFERENCE_SIZE, REFERENCE_SIZE, 3)).astype(np.float32)
    path.write_bytes(convert_int8(model, pixels))
    return path


def interleaved(configurations, runs, rounds):
    """Median p50 over ``rounds`` rounds of each (model name, path, runtime, threads); each
    round times every configuration once, in turn, so that a busy machine slows all alike."""
    rows = {}
    for _ in range(rounds):
        for name, path, runtime, threads in configurations:
            result = bench(path, BenchOptions(threads, runs, warmup=50, runtime=runtime))
            key = (name, result["runtime"], threads)
            rows.setdefault(key, {**result, "model": name, "p50s": []})["p50s"].append(p50_ms(result))
    for row in rows.values():
        row["p50_ms"] = float(np.median(row["p50s"]))
    return list(rows.values())


def end_to_end(frames=300):
    """predict's per-frame work on a 640×480 frame with one face, one thread."""
    predictor = Predictor(SHIPPED, threads=1)
    face = cv2.imread(str(sorted((NUAA / "ClientFace" / "0010").glob("*.jpg"))[0]))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[140:340, 220:420] = cv2.resize(face, (200, 200))
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    for _ in range(20):
        predictor.frame(rgb)
    totals, detect, classify = [], [], []
    cpu = time.process_time()
    for _ in range(frames):
        start = time.perf_counter()
        result = predictor.frame(rgb)
        totals.append(1000 * (time.perf_counter() - start))
        detect.append(result["detect_ms"])
        classify.append(result["classify_ms"])
    cpu_ms = 1000 * (time.process_time() - cpu) / frames
    p50 = float(np.median(totals))
    return {"frames": frames, "p50_ms": p50, "detect_p50_ms": float(np.median(detect)),
            "crop_and_classify_p50_ms": float(np.median(classify)), "frames_per_s": 1000 / p50,
            "cpu_ms_per_frame": cpu_ms, "frames_per_cpu_s": 1000 / cpu_ms}


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=MODEL",
                        help="Also time this model (LiteRT, 1 thread), e.g. another recipe's file.")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/latency.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        reference = reference_model(Path(scratch) / "reference.tflite")
        runtimes = [("litert", 1), ("litert", 2), ("tflite-runtime", 1)]
        rows = interleaved(
            [(name, path, runtime, threads)
             for name, path in (("shipped", SHIPPED), ("reference-mnv2-0.35-1280", reference))
             for runtime, threads in runtimes]
            + [(*c.split("=", 1), "litert", 1) for c in args.candidate], args.runs, args.rounds)
    one_thread = {r["model"]: r["p50_ms"] for r in rows if (r["runtime"], r["threads"]) == ("litert", 1)}
    for name, p50 in one_thread.items():
        print(f"{name}: {p50 / one_thread['reference-mnv2-0.35-1280']:.2f}× the reference "
              "(LiteRT, 1 thread)")
    e2e = end_to_end()
    machine = f"{platform.machine()}, {cpu_model()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "runs": args.runs, "rounds": args.rounds,
                                    "single_image": rows, "end_to_end_640x480": e2e}, indent=2) + "\n")

    print(f"{machine}; p50 of {args.runs} runs, median over {args.rounds} interleaved rounds")
    print("| model | bytes | runtime | threads | p50 ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['model_bytes']:,} | {r['runtime']} {r['runtime_version']} | "
              f"{r['threads']} | {r['p50_ms']:.3f} |")
    print(f"end to end, 640×480, one face, 1 thread: p50 {e2e['p50_ms']:.2f} ms "
          f"(detect {e2e['detect_p50_ms']:.2f}, crop + classify {e2e['crop_and_classify_p50_ms']:.2f}) "
          f"= {e2e['frames_per_s']:.0f} frames/s; {e2e['frames_per_cpu_s']:.0f} frames per CPU-second")


if __name__ == "__main__":
    main()
