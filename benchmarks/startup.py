"""How long `antispoof predict` takes on one image, start-up included, as a person runs it:
with face detection (MediaPipe's BlazeFace) and with --no-detect, beside the bare interpreter
start (`python -c pass`) in one run. The three commands take turns for ``--rounds`` rounds, so a
busy machine slows all of them alike; reports the median and the spread of each, the ratio of
each to the detection-free run, and which modules each one loaded (TensorFlow must not be among
them). The bar: predict with detection in at most 1.5 s. Prints a table, writes JSON.

    python benchmarks/startup.py --out benchmarks/results/startup.json
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import NUAA, REPO, SHIPPED, argument_parser

from antispoof.core.files import write_json
from antispoof.runtime.device_runner import cpu_model
from antispoof.testing.commands import ANTISPOOF

BAR_S = 1.5  # predict on one image, with detection


def commands(image):
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "predict --no-detect": [str(ANTISPOOF), "predict", str(SHIPPED), str(image), "--no-detect"],
        "predict (detection)": [str(ANTISPOOF), "predict", str(SHIPPED), str(image)],
        # as before MediaPipe was imported without TensorFlow: the same command, TensorFlow loaded
        "predict (detection), TensorFlow loaded": [
            sys.executable, "-c", "import sys, tensorflow; from antispoof.cli import main; "
            f"sys.argv = ['antispoof', 'predict', {str(SHIPPED)!r}, {str(image)!r}]; main()"],
    }


def loads_tensorflow(command):
    """Whether the command imports TensorFlow (python -X importtime, one extra run)."""
    if command[0] == sys.executable:
        return "tensorflow" in command[-1]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "antispoof.cli", *command[1:]],
                          capture_output=True, text=True, check=True)
    return any(line.split("|")[-1].strip() == "tensorflow" for line in proc.stderr.splitlines())


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--image", type=Path, default=NUAA / "ClientFace" / "0010" / "0010_01_05_03_115.jpg")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/startup.json")
    args = parser.parse_args(argv)
    runs = commands(args.image)
    for command in runs.values():  # warm the file cache once
        subprocess.run(command, capture_output=True, check=True)
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, command in runs.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            seconds[name].append(time.perf_counter() - start)
    reference = statistics.median(seconds["predict --no-detect"])
    rows = [{"command": name, "median_s": statistics.median(s), "min_s": min(s), "max_s": max(s),
             "ratio_to_no_detect": statistics.median(s) / reference,
             "imports_tensorflow": loads_tensorflow(runs[name])} for name, s in seconds.items()]
    detect = next(r for r in rows if r["command"] == "predict (detection)")
    result = {"image": os.path.relpath(args.image, REPO), "rounds": args.rounds, "cpu": cpu_model(),
              "machine": platform.machine(), "python": platform.python_version(),
              "bar_s": BAR_S, "meets_bar": detect["median_s"] <= BAR_S, "rows": rows}
    write_json(args.out, result)
    print(f"{'command':<40} {'median':>8} {'min':>7} {'max':>7} {'× no-detect':>11}  TensorFlow")
    for r in rows:
        print(f"{r['command']:<40} {r['median_s']:7.3f}s {r['min_s']:6.3f}s {r['max_s']:6.3f}s "
              f"{r['ratio_to_no_detect']:10.2f}×  {'loaded' if r['imports_tensorflow'] else 'no'}")
    print(f"predict with detection: {detect['median_s']:.3f} s median (bar {BAR_S} s: "
          f"{'met' if result['meets_bar'] else 'NOT met'}) on {result['cpu']}")


if __name__ == "__main__":
    main()
