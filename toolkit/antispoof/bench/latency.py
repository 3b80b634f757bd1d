"""Latency of models on a target: this machine, a host over ssh, or a device over adb.

Every target runs the same file, ``device_runner.py``, so local and remote figures compare;
an Android device without Python runs TFLite's ``benchmark_model`` binary instead, whose
output is parsed into the same fields.
"""
import json
import logging
import re
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from antispoof.bench.targets import AdbTarget, parse_target
from antispoof.core.model_contract import contract_path
from antispoof.core.errors import AntispoofError
from antispoof.runtime import device_runner
from antispoof.runtime.device_runner import NO_NUMPY, NO_RUNTIME
from antispoof.runtime.interpreter import TFLiteClassifier, check_tflite_file

log = logging.getLogger("antispoof")

RUNNER = Path(device_runner.__file__)  # the self-contained file copied to each target
BENCHMARK_BINARY_DIR = "/data/local/tmp"


@dataclass
class BenchOptions:
    threads: int = 1
    runs: int = 200
    warmup: int = 20
    rounds: int = 1          # interleaving rounds when several models are compared
    seed: int = 0
    kernels: str = "xnnpack"  # or "builtin": TFLite's own kernels, no XNNPACK
    runtime: str = None       # litert, tflite-runtime or tf.lite; default: the first installed

    def runner_args(self):
        args = ["--threads", self.threads, "--runs", self.runs, "--warmup", self.warmup,
                "--rounds", self.rounds, "--seed", self.seed, "--kernels", self.kernels]
        return [str(a) for a in args] + (["--runtime", self.runtime] if self.runtime else [])


def p50_ms(record):
    return record["inference"]["p50"] / 1000


def run_runner(target, models, runner_args):
    """Copy the runner and ``models`` to a fresh folder on ``target``, run it, and return its
    records. The folder is removed whatever happens."""
    models = [check_tflite_file(m) for m in models]
    folder = target.make_dir()
    try:
        runner = target.put(RUNNER, folder, RUNNER.name)
        remote = [target.put(m, folder, f"model{i}.tflite") for i, m in enumerate(models)]
        result_path = f"{folder}/result.json"
        command = " ".join([_home_relative(target.python),
                            shlex.join([runner, *remote, *runner_args, "--out", result_path])])
        done = target.shell(f"cd {shlex.quote(folder)} && {command}")
        if done.returncode:
            missing = done.returncode in (NO_RUNTIME, NO_NUMPY)
            hint = "; or run with --setup" if missing else ""
            raise AntispoofError(f"{target.name}: runner failed "
                                 f"({target.explain(done.returncode, done.stderr)}){hint}")
        with tempfile.TemporaryDirectory() as local:
            target.get(result_path, Path(local) / "result.json")
            result = json.loads((Path(local) / "result.json").read_text())
    finally:
        target.remove_dir(folder)
    records = result.get("results", [result])
    for record, model in zip(records, models):
        record.update(model=str(model), target=target.name)
    return records


def _home_relative(path):
    """A quoted shell word for ``path`` that still expands a leading ``~/``."""
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def bench(model, options=None, target="local", **target_options):
    """Time one model on ``target`` (a name such as ``ssh://pi@raspberrypi`` or a target
    object). ``target_options``: identity, ssh_config, ssh_options, python, setup,
    benchmark_binary, app."""
    return _measure([model], options or BenchOptions(), target, **target_options)[0]


def compare(models, options=None, target="local", **target_options):
    """Time several models interleaved on one target; ratios are to the first model's p50."""
    options = options or BenchOptions(rounds=10)
    records = _measure(models, options, target, **target_options)
    base = records[0]["inference"]["p50"]
    return {"target": records[0]["target"], "results": records,
            "p50_ratios": [r["inference"]["p50"] / base for r in records]}


def _measure(models, options, target, setup=False, benchmark_binary=None, app=False,
             **target_options):
    for model in models:  # any TFLite file can be timed; say so when it is no antispoof model
        check_tflite_file(model)  # a missing or non-TFLite file stays one error, no warning first
        try:
            TFLiteClassifier(model)
        except AntispoofError as exc:
            log.warning("warning: %s (timed all the same)", exc)
    if isinstance(target, str) or target is None:
        target = parse_target(target, **target_options)
    if setup:
        if not hasattr(target, "setup"):
            raise AntispoofError(f"{target.name}: --setup is for ssh targets (on a phone: Termux "
                                 "`pkg install python python-numpy`, or --benchmark-binary)")
        target.python = target.setup()
    if app and not isinstance(target, AdbTarget):
        raise AntispoofError("--app drives the Android demo: it needs an adb target")
    if isinstance(target, AdbTarget):
        target.check_online()
        if app:
            return [run_app_benchmark(target, m, options) for m in models]
        if not target.has_python():
            if not benchmark_binary:
                raise AntispoofError(
                    f"{target.name}: no {target.python!r} on the device; give --benchmark-binary "
                    "PATH (TFLite's benchmark_model for its ABI) or --remote-python PATH")
            return [run_benchmark_model(target, benchmark_binary, m, options) for m in models]
    return run_runner(target, models, options.runner_args())


def run_benchmark_model(target, binary, model, options):
    """TFLite's ``benchmark_model`` on an adb device, parsed into the runner's fields."""
    model = check_tflite_file(model)
    binary_path = target.put(binary, BENCHMARK_BINARY_DIR, "benchmark_model")
    folder = target.make_dir()
    try:
        graph = target.put(model, folder, "model.tflite")
        argv = [binary_path, f"--graph={graph}", f"--num_threads={options.threads}",
                f"--num_runs={options.runs}", f"--warmup_runs={options.warmup}",
                f"--use_xnnpack={'true' if options.kernels == 'xnnpack' else 'false'}"]
        done = target.shell(f"chmod 755 {shlex.quote(binary_path)} && {shlex.join(argv)} 2>&1")
        if done.returncode:
            raise AntispoofError(f"{target.name}: benchmark_model failed "
                                 f"({target.explain(done.returncode, done.stdout)})")
        about = target.shell("uname -m; uname -s; getprop ro.soc.model 2>/dev/null").stdout
        about = about.split("\n")
    finally:
        target.remove_dir(folder)
    record = parse_benchmark_model(done.stdout, options.kernels)
    record.update(model=str(model), model_bytes=model.stat().st_size, target=target.name,
                  machine=about[0].strip(), system=about[1].strip() if len(about) > 1 else None,
                  cpu=(about[2].strip() if len(about) > 2 else "") or None,
                  threads=record["threads"] or options.threads)
    return record


APP_PACKAGE = "org.antispoof.demo"
APP_DIR = "/data/local/tmp/antispoof-bench"


def run_app_benchmark(target, model, options, timeout=600):
    """The Android demo's BenchmarkActivity (android_demo/) on an adb device: the model runs in
    the app's foreground process; its JSON has the runner's fields."""
    model = check_tflite_file(model)
    run_as = f"run-as {APP_PACKAGE}"
    target.shell(f"mkdir -p {APP_DIR} && {run_as} rm -f files/benchmark.json")
    remote = target.put(model, APP_DIR, "model.tflite")
    contract = contract_path(model)
    if contract.exists():
        target.put(contract, APP_DIR, contract.name)
    start = target.shell(shlex.join([
        "am", "start", "-W", "-S", "-n", f"{APP_PACKAGE}/.BenchmarkActivity", "--es", "model", remote,
        "--ei", "threads", str(options.threads), "--ei", "runs", str(options.runs),
        "--ei", "warmup", str(options.warmup), "--ez", "xnnpack",
        "true" if options.kernels == "xnnpack" else "false"]))
    if start.returncode or "Error" in start.stdout:
        raise AntispoofError(f"{target.name}: cannot start the demo's BenchmarkActivity "
                             f"({(start.stdout + start.stderr).strip().splitlines()[-1]}); install "
                             "it first: cd android_demo && ./gradlew installDebug")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = target.shell(f"{run_as} cat files/benchmark.json")
        if done.returncode == 0 and done.stdout.strip():
            record = json.loads(done.stdout)
            if "error" in record:
                raise AntispoofError(f"{target.name}: the demo app failed: {record['error']}")
            record.update(model=str(model), target=target.name)
            return record
        time.sleep(1)
    raise AntispoofError(f"{target.name}: the demo app wrote no result in {timeout} s")


_STAT = re.compile(r"(\w+)=([-+\d.eE]+)")
_TIMINGS = re.compile(r"Inference timings in us: Init: ([\d.e+]+), First inference: ([\d.e+]+), "
                      r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)")
_MEMORY = re.compile(r"Memory footprint delta from the start of the tool \(MB\): "
                     r"init=([\d.e+]+) overall=([\d.e+]+)")
_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: ([\d.e+]+)")
_THREADS = re.compile(r"(?:Num threads|#threads used for CPU inference): \[(\d+)\]")


def parse_benchmark_model(text, kernels="xnnpack"):
    """``benchmark_model``'s log → the runner's JSON fields (what it does not print is None)."""
    timings = _TIMINGS.search(text)
    if timings is None:
        lines = [line for line in text.splitlines() if line.strip()]
        raise AntispoofError("benchmark_model printed no timings"
                             + (f": {lines[-1].strip()}" if lines else ""))
    runs = [dict((k, float(v)) for k, v in _STAT.findall(line))
            for line in text.splitlines() if re.search(r"\bcount=\d", line)]
    warmup, inference = (runs[0] if len(runs) > 1 else {}), (runs[-1] if runs else {})
    memory, peak, threads = _MEMORY.search(text), _PEAK.search(text), _THREADS.findall(text)
    keys = ("count", "first", "curr", "min", "max", "avg", "std")
    init, first, warmup_avg, inference_avg = (float(g) for g in timings.groups())
    return {
        "model": None, "model_bytes": None, "runtime": "benchmark_model", "runtime_version": None,
        "kernels": kernels, "threads": int(threads[-1]) if threads else None,
        "machine": None, "cpu": None, "system": None, "python": None,
        "init_us": init, "first_us": first,
        "warmup": {**{k: warmup.get(k) for k in keys}, "avg": warmup_avg},
        "inference": {**{k: inference.get(k) for k in keys}, "avg": inference_avg,
                      "p50": inference.get("median"), "p90": None},
        "memory_mb": {"init": float(memory[1]) if memory else None,
                      "overall": float(memory[2]) if memory else None,
                      "peak_rss": float(peak[1]) if peak else None},
        "seed": None, "checksum": None, "deterministic": None,
    }


def describe(record):
    """One line: where, what ran, and the median."""
    inference = record["inference"]
    p50 = "n/a" if inference["p50"] is None else f"{inference['p50'] / 1000:.3f} ms"
    p90 = "" if inference.get("p90") is None else f"  p90 {inference['p90'] / 1000:.3f} ms"
    return (f"{record['target']}: {record['runtime']} {record['runtime_version'] or ''} "
            f"({record['kernels']}), {record['threads']} thread(s), {record['machine']} "
            f"{record['cpu']}: p50 {p50}{p90}  avg {inference['avg'] / 1000:.3f} ms  "
            f"init {record['init_us'] / 1000:.1f} ms  ({inference['count']} runs)")
