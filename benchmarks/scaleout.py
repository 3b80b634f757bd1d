"""Scale-out on this machine: preparation on a Ray cluster with 1 and 2 CPUs, and
MultiWorkerMirroredStrategy training with 1 and 2 worker processes.

Preparation: videos written from NUAA frames (as the tests do), prepared by `antispoof prepare`
in one process, in two (`--workers 2`), then with `--ray` on a `ray start --head` cluster of 1
and of 2 CPUs; the
throughput comes from prepare.json's elapsed time (Ray's start-up excluded).
Training: NUAA packed into 8 shards per split, `antispoof train --strategy multiworker` with
1 and 2 worker processes on loopback ports, global batch 64, MobileNetV2-0.35 cut after block
8 at 64×64; steps/s of the last epoch (the first one includes tracing). Each worker uses all
cores by default; the rows with one TensorFlow thread per worker show what a second worker
adds when each has its own core. Everything runs on 127.0.0.1.

    python benchmarks/scaleout.py --out benchmarks/results/scaleout.json
"""
import json
import os
import platform
import tempfile
from pathlib import Path

from common import NUAA, REPO, WEIGHTS_035, argument_parser

from antispoof.core.files import write_json
from antispoof.testing import loopback
from antispoof.testing.commands import ANTISPOOF, run_cli
from antispoof.testing.nuaa import folders_tree


def prepare_rows(work, subjects, frames):
    src = folders_tree(work / "videos", subjects=subjects, count=frames)
    rows = [_prepare(src, work / "local", "one process", []),
            _prepare(src, work / "pool2", "2 processes", ["--workers", 2])]
    for cpus in (1, 2):
        with loopback.ray_head(cpus=cpus) as address:
            rows.append(_prepare(src, work / f"ray{cpus}", f"Ray, {cpus} CPU", ["--ray", address]))
    reference = (work / "local" / "manifest.csv").read_text()
    for row in rows:
        row["manifest_equal_to_one_process"] = (Path(row.pop("out")) / "manifest.csv").read_text() == reference
    return rows


def _prepare(src, out, name, extra):
    run_cli("prepare", src, "--out", out, *extra)
    summary = json.loads((out / "prepare.json").read_text())
    return {"setup": name, "sources": summary["sources"], "frames": summary["frames"],
            "seconds": summary["elapsed_s"], "frames_per_s": summary["frames"] / summary["elapsed_s"],
            "out": str(out)}


def training_rows(work, epochs):
    packed = work / "packed"
    run_cli("pack", NUAA, "--out", packed, "--shards", 8)
    rows = []
    for workers, threads in ((1, None), (2, None), (1, 1), (2, 1)):
        out = work / f"train-{workers}w-{threads or 'all'}t"
        env = {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"} if threads else {}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            processes = loopback.tf_workers(
                [ANTISPOOF, "train", "--data", packed, "--weights", WEIGHTS_035, "--out", out,
                 "--strategy", "multiworker", "--epochs", epochs, "--input-size", 64,
                 "--batch-size", 64], count=workers, logs=work)
            codes = [p.wait() for p in processes]
        finally:
            for key, value in saved.items():
                os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
        if codes != [0] * workers:
            raise SystemExit(f"training with {workers} workers failed:\n"
                             + (work / "worker-0.log").read_text()[-3000:])
        history = json.loads((out / "history.json").read_text())
        config = json.loads((out / "config.json").read_text())
        steps = -(-sum(config["counts"]["train"].values()) // 64)
        last = history["epochs"][-1]
        rows.append({"workers": workers, "threads_per_worker": threads or "all",
                     "steps_per_epoch": steps, "last_epoch_seconds": last["seconds"],
                     "steps_per_s": steps / last["seconds"],
                     "images_per_s": steps * 64 / last["seconds"],
                     "dev_auc_last_epoch": last["val_auc"]})
    return rows


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--frames", type=int, default=60, help="Frames per video.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/scaleout.json")
    args = parser.parse_args()
    os.environ.update(loopback.RAY_ENV)
    subjects = ("0001", "0002", "0003", "0004", "0006", "0007", "0008", "0009")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        prepare = prepare_rows(work, subjects, args.frames)
        training = training_rows(work, args.epochs)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {_cpu()}",
              "prepare": prepare, "training": training}
    print(f"{'preparation':<16}{'sources':>8}{'frames':>8}{'seconds':>9}{'frames/s':>10}  same manifest")
    for r in prepare:
        print(f"{r['setup']:<16}{r['sources']:>8}{r['frames']:>8}{r['seconds']:>9.1f}"
              f"{r['frames_per_s']:>10.1f}  {r['manifest_equal_to_one_process']}")
    print(f"\n{'workers':<8}{'threads':>8}{'steps/s':>9}{'images/s':>10}{'epoch s':>9}{'dev AUC':>9}")
    for r in training:
        print(f"{r['workers']:<8}{r['threads_per_worker']:>8}{r['steps_per_s']:>9.2f}"
              f"{r['images_per_s']:>10.0f}{r['last_epoch_seconds']:>9.1f}{r['dev_auc_last_epoch']:>9.4f}")
    write_json(args.out, result)


def _cpu():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
