#!/usr/bin/env python3
"""Time ``.tflite`` models on this machine and write one JSON object: the device-side runner.

Self-contained on purpose: ``antispoof bench`` copies this one file to a Raspberry Pi (ssh),
a phone or board (adb) or runs it here, so it needs only the standard library, numpy and one
TFLite runtime, tried in the order LiteRT (``ai_edge_litert``), ``tflite_runtime``,
``tensorflow.lite``. Fields follow TFLite's ``benchmark_model`` (times in microseconds: init,
first inference, warm-up and inference statistics; memory footprint deltas in MB) plus p50/p90,
the machine, and a checksum of the outputs for fixed seeded inputs.

    python3 device_runner.py MODEL.tflite [MODEL ...] --threads 1 --runs 200 --out result.json
    python3 device_runner.py MODEL.tflite --inputs crops.npy --outputs raw.npy   # parity mode

Several models are timed interleaved (``--rounds``), so their ratios survive a noisy machine.
Exit status: 0 done; 2 bad arguments or model; 3 no TFLite runtime; 4 no numpy.
"""
import argparse
import hashlib
import importlib
import json
import os
import platform
import subprocess
import sys
import time

# (module holding Interpreter, distribution name for its version, short name)
TFLITE_RUNTIMES = (
    ("ai_edge_litert.interpreter", "ai-edge-litert", "litert"),
    ("tflite_runtime.interpreter", "tflite-runtime", "tflite-runtime"),
    ("tensorflow.lite.python.interpreter", "tensorflow", "tf.lite"),
)
KERNELS = ("xnnpack", "builtin")
CHECKSUM_INPUTS = 8
NO_RUNTIME, NO_NUMPY = 3, 4


class RunnerError(Exception):
    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def find_runtime(runtime=None):
    """(Interpreter module, short name, version) of the first importable runtime, or None."""
    from importlib import metadata

    for module_name, dist, short in TFLITE_RUNTIMES:
        if runtime not in (None, short):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return module, short, version
    return None


def require_runtime(runtime=None):
    """``find_runtime``, or the runner's "no runtime" error (exit status 3)."""
    found = find_runtime(runtime)
    if found is None:
        wanted = runtime or " / ".join(r[2] for r in TFLITE_RUNTIMES)
        raise RunnerError(f"no TFLite runtime for {sys.executable} ({wanted}): "
                          "pip install ai-edge-litert (or tflite-runtime)", NO_RUNTIME)
    return found


def interpreter_options(module, threads, kernels):
    """Keyword arguments for ``Interpreter``: thread count, and no default delegate (XNNPACK)
    when the built-in kernels are asked for."""
    options = {"num_threads": threads}
    if kernels == "builtin":
        options["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return options


def cpu_model():
    """The CPU's name: x86 ``model name``, a board's ``Model``/``Hardware``, or Android's SoC."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        for key in ("model name", "Model", "Hardware", "cpu model"):
            if fields.get(key):
                return fields[key]
    except (OSError, ValueError):
        pass
    try:  # Android: no model name in /proc/cpuinfo on most phones
        soc = subprocess.run(["getprop", "ro.soc.model"], capture_output=True, text=True, timeout=5)
        if soc.stdout.strip():
            return soc.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def rss_mb():
    """Resident memory now (Linux and Android ``/proc``), in MB; None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mb():
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def statistics(times_us, percentiles=False):
    """``benchmark_model``-style statistics of a list of microsecond timings."""
    import numpy as np

    if not times_us:
        return {"count": 0}
    t = np.asarray(times_us, dtype=np.float64)
    result = {"count": len(t), "first": float(t[0]), "curr": float(t[-1]), "min": float(t.min()),
              "max": float(t.max()), "avg": float(t.mean()), "std": float(t.std())}
    if percentiles:
        result.update(p50=float(np.percentile(t, 50)), p90=float(np.percentile(t, 90)))
    return result


def seeded_inputs(detail, seed, count=CHECKSUM_INPUTS):
    """Fixed inputs for the model's first input tensor, the same bytes on every machine: for
    an image, random 4×4 blocks of colour (plain noise saturates a liveness model, so every
    output would be equal), else noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dtype, shape = np.dtype(detail["dtype"]), tuple(int(d) for d in detail["shape"])
    low, high = (np.iinfo(dtype).min, int(np.iinfo(dtype).max) + 1) if dtype.kind in "iu" else (0, 256)
    inputs = []
    for _ in range(count):
        if len(shape) == 4:
            h, w = -(-shape[1] // 4), -(-shape[2] // 4)
            blocks = rng.integers(low, high, (shape[0], 4, 4, shape[3]))
            x = np.repeat(np.repeat(blocks, h, axis=1), w, axis=2)[:, :shape[1], :shape[2]]
        else:
            x = rng.integers(low, high, shape)
        inputs.append(x.astype(dtype))
    return inputs


def now_us():
    return time.perf_counter_ns() / 1000


class Timed:
    """One model loaded into an interpreter, with its timings so far."""

    def __init__(self, path, module, threads, kernels, seed):
        if not os.path.isfile(path):
            raise RunnerError(f"{path}: model file not found")
        with open(path, "rb") as f:
            if f.read(8)[4:8] != b"TFL3":
                raise RunnerError(f"{path}: not a TFLite model (no TFL3 flatbuffer identifier)")
        self.path = path
        start_rss, start = rss_mb(), now_us()
        try:
            self.interpreter = module.Interpreter(
                model_path=path, **interpreter_options(module, threads, kernels))
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"{path}: cannot load TFLite model ({exc})") from None
        self.init_us = now_us() - start
        end_rss = rss_mb()
        self.init_mb = None if start_rss is None else end_rss - start_rss
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.inputs = seeded_inputs(self.interpreter.get_input_details()[0], seed)
        self.interpreter.set_tensor(self.input_index, self.inputs[0])
        self.first_us = self.invoke()
        self.warmup, self.inference = [], []

    def invoke(self):
        start = now_us()
        self.interpreter.invoke()
        return now_us() - start

    def output_checksum(self):
        """sha256 of the seeded inputs and the raw outputs for them (a model may give every
        synthetic input the same score: the inputs tell the seeds apart); leaves the first one set."""
        digest = hashlib.sha256()
        for x in self.inputs[::-1]:
            self.interpreter.set_tensor(self.input_index, x)
            self.interpreter.invoke()
            digest.update(x.tobytes())
            digest.update(self.interpreter.get_tensor(self.output_index).tobytes())
        return "sha256:" + digest.hexdigest()[:16]


def machine_fields(runtime, version, threads, kernels):
    return {"runtime": runtime, "runtime_version": version, "kernels": kernels,
            "threads": threads, "machine": platform.machine(), "cpu": cpu_model(),
            "system": platform.system(), "python": platform.python_version()}


def measure(paths, threads=1, runs=200, warmup=20, rounds=1, seed=0, kernels="xnnpack",
            runtime=None):
    """Time every model: load (init), one first inference, ``warmup`` runs, then ``runs``
    timed runs split into ``rounds`` rounds that visit the models in turn. One record each."""
    module, name, version = require_runtime(runtime)
    start_rss = rss_mb()
    models = [Timed(path, module, threads, kernels, seed) for path in paths]
    checksums = [model.output_checksum() for model in models]
    for model in models:
        model.warmup = [model.invoke() for _ in range(warmup)]
    per_round = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    for count in per_round:
        for model in models:
            model.inference.extend(model.invoke() for _ in range(count))
    peak = peak_rss_mb()
    records = []
    for model, checksum in zip(models, checksums):
        stable = model.output_checksum() == checksum
        records.append({
            "model": os.path.basename(model.path), "model_bytes": os.path.getsize(model.path),
            **machine_fields(name, version, threads, kernels),
            "init_us": model.init_us, "first_us": model.first_us,
            "warmup": statistics(model.warmup), "inference": statistics(model.inference, True),
            "memory_mb": {"init": model.init_mb,
                          "overall": None if start_rss is None else rss_mb() - start_rss,
                          "peak_rss": peak},
            "seed": seed, "checksum": checksum, "deterministic": stable,
        })
    return records


def run_inputs(path, inputs, outputs, threads=1, kernels="xnnpack", runtime=None):
    """Parity mode: run each input tensor of ``inputs`` (an .npy of N×input shape, already in
    the model's input dtype) alone and save the raw output tensors to ``outputs``."""
    import numpy as np

    module, name, version = require_runtime(runtime)
    model = Timed(path, module, threads, kernels, 0)
    detail = model.interpreter.get_input_details()[0]
    batch = np.load(inputs)
    if batch.shape[1:] != tuple(detail["shape"][1:]) or batch.dtype != detail["dtype"]:
        raise RunnerError(f"{inputs}: inputs are {batch.dtype} {batch.shape}, the model takes "
                          f"{np.dtype(detail['dtype'])} N×{tuple(detail['shape'][1:])}")
    raw = []
    for x in batch:
        model.interpreter.set_tensor(detail["index"], x[None])
        model.interpreter.invoke()
        raw.append(model.interpreter.get_tensor(model.output_index).copy())
    np.save(outputs, np.concatenate(raw))
    return {"model": os.path.basename(path), **machine_fields(name, version, threads, kernels),
            "inputs": len(batch), "outputs": os.path.basename(outputs)}


def write_json(result, out):
    text = json.dumps(result, indent=2)
    if out is None:
        print(text)
        return
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="interleaving rounds (several models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kernels", choices=KERNELS, default="xnnpack")
    parser.add_argument("--runtime", choices=[r[2] for r in TFLITE_RUNTIMES])
    parser.add_argument("--inputs", help="parity mode: .npy of input tensors")
    parser.add_argument("--outputs", help="parity mode: .npy to write the raw outputs to")
    parser.add_argument("--out", help="write the JSON here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        import numpy  # noqa: F401  (checked here so the error says what is missing)
    except ImportError:
        print(f"runner: numpy is not installed for {sys.executable}", file=sys.stderr)
        return NO_NUMPY
    try:
        if min(args.threads, args.runs, args.rounds) < 1 or args.warmup < 0:
            raise RunnerError("threads, runs and rounds must be ≥ 1 and warmup ≥ 0")
        if args.inputs:
            if len(args.models) != 1 or not args.outputs:
                raise RunnerError("parity mode takes one model, --inputs and --outputs")
            result = run_inputs(args.models[0], args.inputs, args.outputs, args.threads,
                                args.kernels, args.runtime)
        else:
            records = measure(args.models, args.threads, args.runs, args.warmup,
                              min(args.rounds, args.runs), args.seed, args.kernels, args.runtime)
            result = records[0] if len(records) == 1 else {"results": records}
    except RunnerError as exc:
        print(f"runner: {exc}", file=sys.stderr)
        return exc.status
    write_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
