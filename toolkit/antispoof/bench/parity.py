"""ARM parity: does the aarch64 build of the runtime compute what the x86 build computed?

The device runner runs the same int8 model on the same crops twice: here, and under an
aarch64 Python through qemu user-mode emulation (no root, no binfmt_misc: ``qemu-aarch64 -L
SYSROOT``), with aarch64 wheels of numpy and the runtime on ``PYTHONPATH``. ``make
arm64-sysroot`` builds both (mmdebstrap and ``pip install --target --platform``). Both sides
use the same kernel path (XNNPACK or TFLite's built-in kernels), because even on x86 alone the
two may differ by 1 LSB. Timing under emulation means nothing and is not reported.

    python -m antispoof.bench.parity --data ../shared/data/nuaa --sysroot .cache/arm64 --out benchmarks/results/arm_parity.json
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from antispoof.bench.latency import RUNNER
from antispoof.core.model_contract import decision_threshold
from antispoof.core.errors import AntispoofError
from antispoof.core.files import read_json, write_json
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.data.datasets import FaceDataset, load_images
from antispoof.runtime.interpreter import TFLiteClassifier

QEMU = "qemu-aarch64"


def arm_python(sysroot):
    """argv prefix and environment that run the sysroot's aarch64 Python under qemu."""
    sysroot = Path(sysroot)
    root, site = sysroot / "root", sysroot / "site"
    python = root / "usr" / "bin" / "python3.11"
    if not python.exists() or not site.is_dir():
        raise AntispoofError(f"{sysroot}: no aarch64 Python and wheels there; run `make arm64-sysroot`")
    if shutil.which(QEMU) is None:
        raise AntispoofError(f"{QEMU} not found: install qemu-user ≥ 10 (Debian bookworm-backports)")
    return [QEMU, "-L", str(root), str(python)], {**os.environ, "PYTHONPATH": str(site)}


def qemu_version():
    return subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.split("\n")[0]


def _run_runner(prefix, env, model, inputs, outputs, kernels):
    report = outputs.with_suffix(".json")
    argv = [*prefix, str(RUNNER), str(model), "--inputs", str(inputs), "--outputs", str(outputs),
            "--kernels", kernels, "--out", str(report)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no message"]
        raise AntispoofError(f"runner failed under {' '.join(prefix[:1])}: {lines[-1]}")
    return read_json(report), np.load(outputs)


def compare_outputs(model, crops, sysroot, kernels="builtin", threshold=None):
    """Run ``crops`` (N×S×S×3 uint8) through ``model`` natively and under aarch64 emulation;
    compare raw outputs, scores and decisions."""
    classifier = TFLiteClassifier(model)
    threshold = decision_threshold(model, threshold)
    prefix, env = arm_python(sysroot)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        np.save(work / "inputs.npy", classifier.quantize_input(crops))
        x86, x86_raw = _run_runner([sys.executable], os.environ, model, work / "inputs.npy",
                                   work / "x86.npy", kernels)
        arm, arm_raw = _run_runner(prefix, env, model, work / "inputs.npy", work / "arm.npy", kernels)
    x86_scores = classifier.dequantize_output(x86_raw).reshape(-1)
    arm_scores = classifier.dequantize_output(arm_raw).reshape(-1)
    lsb = np.abs(x86_raw.astype(np.int64) - arm_raw.astype(np.int64))
    return {
        "model": str(model), "crops": len(crops), "kernels": kernels, "threshold": threshold,
        "x86": {k: x86[k] for k in ("runtime", "runtime_version", "machine", "cpu")},
        "arm": {**{k: arm[k] for k in ("runtime", "runtime_version", "machine", "python")},
                "emulator": qemu_version()},
        "identical_outputs": int((lsb == 0).all(axis=tuple(range(1, lsb.ndim))).sum()),
        "max_output_difference_lsb": int(lsb.max()),
        "max_score_difference": float(np.abs(x86_scores - arm_scores).max()),
        "identical_decisions": int(((x86_scores >= threshold) == (arm_scores >= threshold)).sum()),
        "note": "timings under emulation mean nothing and are not measured",
    }


def nuaa_test_crops(data, size, limit=None):
    samples = FaceDataset(data).split("test", limit=limit)
    return load_images(samples, size).pixels


def main(argv=None):
    parser = argparse.ArgumentParser(description="x86 vs aarch64 (qemu) outputs on NUAA test crops")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="crops (default: the whole split)")
    parser.add_argument("--kernels", nargs="+", default=["builtin", "xnnpack"])
    parser.add_argument("--sysroot", type=Path, required=True,
                        help="what `make arm64-sysroot` builds (.cache/arm64 in the checkout)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    size = TFLiteClassifier(args.model).input_size
    crops = nuaa_test_crops(args.data, size, args.limit)
    results = [compare_outputs(args.model, crops, args.sysroot, k) for k in args.kernels]
    print(f"ARM parity, {args.model.name} on {len(crops)} NUAA test crops "
          f"({results[0]['arm']['emulator']}); timings under emulation mean nothing")
    print("| kernels | x86 runtime | aarch64 runtime | identical outputs | identical decisions "
          "| max Δ (LSB) | max Δ score |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['kernels']} | {r['x86']['runtime']} {r['x86']['runtime_version']} | "
              f"{r['arm']['runtime']} {r['arm']['runtime_version']} ({r['arm']['machine']}) | "
              f"{r['identical_outputs']}/{r['crops']} | {r['identical_decisions']}/{r['crops']} | "
              f"{r['max_output_difference_lsb']} | {r['max_score_difference']:.4f} |")
    if args.out:
        write_json(args.out, {"results": results})
    return 0 if all(r["identical_decisions"] == r["crops"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
