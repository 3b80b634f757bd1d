"""Latency of one inference on this machine, with the runtime and thread count that ran."""
import os
import platform
import time

import numpy as np

from .runtime import TFLiteClassifier


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(model_path, threads=1, runs=200, warmup=20, seed=0, runtime=None):
    """Time ``runs`` single-crop inferences after ``warmup`` ones; milliseconds. ``runtime``:
    litert, tflite-runtime or tf.lite (default: the first one installed)."""
    classifier = TFLiteClassifier(model_path, threads, runtime)
    size = classifier.input_size
    pixels = np.random.default_rng(seed).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    interpreter, index = classifier.interpreter, classifier.input["index"]
    interpreter.set_tensor(index, classifier.quantize_input(pixels))
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter_ns()
        interpreter.invoke()
        times[i] = (time.perf_counter_ns() - start) / 1e6
    return {
        "model": str(model_path),
        "size_bytes": os.path.getsize(model_path),
        "runtime": classifier.runtime_name,
        "runtime_version": classifier.runtime_version,
        "threads": threads,
        "runs": runs,
        "warmup": warmup,
        "min_ms": float(times.min()),
        "p50_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "mean_ms": float(times.mean()),
        "std_ms": float(times.std()),
        "machine": platform.machine(),
        "cpu": cpu_model(),
    }
