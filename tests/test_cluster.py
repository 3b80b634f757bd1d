"""Scale-out on real engines, all on 127.0.0.1: preparation as Ray tasks on a `ray start
--head` cluster, TFRecord packing and streaming, two MultiWorkerMirroredStrategy processes,
and a Ray Tune budget search whose config `antispoof build --config` takes."""
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from antispoof.pipeline.build import BuildOptions, read_build_config
from antispoof.data.datasets import FaceDataset
from antispoof.data.loading import open_dataset
from antispoof.core.errors import AntispoofError
from antispoof.evaluation.evaluate import evaluate
from antispoof.models.builders import load_model
from antispoof.data.packing import PackedDataset
from antispoof.core.shipped import DEFAULT_MODEL
from conftest import ANTISPOOF, WEIGHTS_035, make_subset, run_cli
from antispoof.testing.loopback import RAY_ENV, ray_head, tf_workers
from antispoof.testing.nuaa import folders_tree

pytestmark = pytest.mark.system  # Ray clusters and multi-worker training

SUBJECTS = ["0001", "0002", "0003", "0004", "0006", "0007", "0008", "0009"]


@pytest.fixture(scope="module")
def ray_address():
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)  # for the CLI processes the tests start
    try:
        with ray_head(cpus=2) as address:
            yield address
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    data = make_subset(root / "data", SUBJECTS, 12)
    (data / "real" / "0001" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    proc = run_cli("pack", data, "--out", root / "packed", "--shards", 4)
    assert "\r" not in proc.stderr  # a pipe, not a terminal: no progress bar written into it
    return data, root / "packed"


def test_prepare_on_ray_matches_the_single_process_run_and_resumes(tmp_path, ray_address):
    src = folders_tree(tmp_path / "src", subjects=("0001", "0002", "0003", "0004"), count=4)
    run_cli("prepare", src, "--out", tmp_path / "local")
    out = tmp_path / "ray"
    result = run_cli("prepare", src, "--out", out, "--ray", ray_address)
    assert "8/8 sources" in result.stderr
    for table in ("manifest.csv", "sources.csv", "protocol.json"):
        assert (out / table).read_text() == (tmp_path / "local" / table).read_text()
    assert json.loads((out / "prepare.json").read_text())["ray"] == ray_address
    crops = sorted(p.relative_to(out) for p in out.rglob("*.jpg"))
    assert len(crops) == 32 and crops == sorted(p.relative_to(tmp_path / "local")
                                                for p in (tmp_path / "local").rglob("*.jpg"))

    parts = sorted((out / ".parts").rglob("*-*.json"))[:3]  # as if the run had stopped early
    for part in parts:
        part.unlink()
    (out / "manifest.csv").unlink()
    result = run_cli("prepare", src, "--out", out, "--ray", ray_address)
    assert "resuming, 5 of 8 sources already done" in result.stderr
    assert (out / "manifest.csv").read_text() == (tmp_path / "local" / "manifest.csv").read_text()


def test_prepare_on_an_address_without_ray_is_a_one_line_error(tmp_path):
    src = folders_tree(tmp_path / "src", subjects=("0001",), count=1)
    result = run_cli("prepare", src, "--out", tmp_path / "o", "--ray", "127.0.0.1:1", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "Error: --ray 127.0.0.1:1: no Ray cluster answers there")


def test_pack_keeps_the_protocol_the_pixels_and_names_corrupt_files(packed):
    data, out = packed
    index = json.loads((out / "pack.json").read_text())
    source = FaceDataset(data)
    assert [s["file"] for s in index["skipped"]] == [str(data / "real" / "0001" / "corrupt.jpg")]
    reread = open_dataset(out)
    assert isinstance(reread, PackedDataset)
    assert (reread.protocol.test, reread.protocol.dev) == (source.protocol.test, source.protocol.dev)
    for split in ("train", "dev", "test"):
        expected = [s for s in source.split(split) if not s.path.endswith("corrupt.jpg")]
        assert index["splits"][split]["records"] == len(expected)
        assert len(index["splits"][split]["shards"]) == 4
        original, unpacked = source.load(split, 48), reread.load(split, 48)
        assert [s.path for s in unpacked.samples] == [
            str(Path(s.path).relative_to(data)) for s in original.samples]
        assert np.array_equal(unpacked.pixels, original.pixels)  # same decoder, same resize
        assert np.array_equal(unpacked.labels, original.labels)
        assert reread.counts(split) == original.counts

    packed_metrics = evaluate(DEFAULT_MODEL, out, resamples=0)
    folder_metrics = evaluate(DEFAULT_MODEL, data, resamples=0)
    for key in ("auc", "acer", "apcer", "bpcer", "threshold", "confusion_matrix"):
        assert packed_metrics[key] == folder_metrics[key]

    result = run_cli("train", "--data", out, "--out", out.parent / "synth", "--synth-spoof", 0.5,
                     "--weights", "none", check=False)  # synthesis needs decoded crops
    assert result.returncode == 1 and "--synth-spoof works on decoded crops" in result.stderr
    assert not (out.parent / "synth" / "model.keras").exists()

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tfrecord")}
    run_cli("pack", data, "--out", out, "--shards", 4)  # a rerun keeps finished shards
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tfrecord")} == before
    result = run_cli("pack", data, "--out", out, "--shards", 3, check=False)
    assert result.returncode == 1 and (f"Error: {out}: holds a pack made otherwise (--shards 4 there, "
                                       "3 now): use a new --out") in result.stderr


def test_two_multiworker_processes_train_on_packed_shards_to_identical_weights(tmp_path, packed):
    _, data = packed
    out = tmp_path / "run"
    command = [ANTISPOOF, "train", "--data", data, "--weights", WEIGHTS_035, "--out", out,
               "--strategy", "multiworker", "--epochs", 3, "--input-size", 48, "--batch-size", 16]
    workers = tf_workers(command, logs=tmp_path)
    try:  # stop both after their first epoch checkpoint: a restarted job resumes from it
        deadline = time.time() + 300
        while time.time() < deadline and not all(
                list(folder.glob("checkpoint-epoch1.keras")) for folder in (out, out / "worker-1")):
            assert all(w.poll() is None for w in workers), (tmp_path / "worker-0.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert not (out / "model.keras").exists()

    workers = tf_workers(command, logs=tmp_path)
    assert [w.wait(timeout=300) for w in workers] == [0, 0], (tmp_path / "worker-1.log").read_text()[-3000:]
    for i in (0, 1):
        assert "resuming after epoch" in (tmp_path / f"worker-{i}.log").read_text()
    chief, other = load_model(out / "model.keras"), load_model(out / "worker-1" / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(chief.get_weights(), other.get_weights()))
    config = json.loads((out / "config.json").read_text())
    assert config["replicas"] == 2 and config["options"]["strategy"] == "multiworker"
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert history["epochs"][-1]["loss"] < history["epochs"][0]["loss"]


def test_multiworker_heartbeat_outlasts_a_busy_worker():
    """The multi-worker strategy's coordination service allows HEARTBEAT_TIMEOUT_S without a
    heartbeat (TensorFlow's own 10 s failed a worker loading weights on a shared CPU), and keeps
    the job's tasks and leader as the strategy would set them."""
    import subprocess
    import sys

    from antispoof.testing.loopback import free_port
    from antispoof.training.distribute import HEARTBEAT_TIMEOUT_S

    script = ("from antispoof.training.distribute import make_strategy\n"
              "from tensorflow.python.eager import context\n"
              "make_strategy('multiworker')\n"
              "c = context.context().coordination_service\n"
              "print(c.heartbeat_timeout_in_ms, c.service_leader, "
              "[(j.name, j.num_tasks) for j in c.coordinated_job_list])\n")
    config = {"cluster": {"worker": [f"127.0.0.1:{free_port()}"]}, "task": {"type": "worker", "index": 0}}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CONFIG": json.dumps(config)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[-2] == (f"{HEARTBEAT_TIMEOUT_S * 1000} /job:worker/replica:0/task:0 "
                                           "[('worker', 1)]"), proc.stdout


def test_multiworker_without_tf_config_is_a_one_line_error(tmp_path, small_data):
    result = run_cli("train", "--data", small_data, "--out", tmp_path / "r", "--strategy",
                     "multiworker", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: --strategy multiworker needs TF_CONFIG")


def _assert_quiet(result):
    """Our lines only: no Ray log line, no Tune table, on stderr or stdout."""
    for line in (result.stderr + result.stdout).splitlines():
        assert not any(mark in line for mark in (" INFO ", " WARNING ", "╭", "│", "View detailed results")), line


def test_search_on_a_private_cluster_is_quiet_and_writes_no_token_home(tmp_path, small_data):
    """--ray local (the default): its token stays in the process, ~/.ray gets nothing."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path / "home")
    result = subprocess.run([str(ANTISPOOF), "search", "--data", str(small_data), "--weights", str(WEIGHTS_035),
                             "--trials", "1", "--widths", "0.35", "--depths", "5", "--input-size", "32",
                             "--batch-size", "16", "--limit", "40", "--out", str(tmp_path / "search")],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "best: width 0.35" in result.stdout
    _assert_quiet(result)
    assert not (tmp_path / "home" / ".ray").exists()


def test_search_runs_two_trials_on_ray_and_build_takes_its_config(tmp_path, small_data, ray_address):
    """End to end, one of the three tests allowed over a minute: the only one of a Ray Tune
    search on a cluster at an address, resumed, and of `build --config` building what it chose."""
    out = tmp_path / "search"
    command = ["search", "--data", small_data, "--weights", WEIGHTS_035, "--trials", 2, "--widths",
               "0.2,0.35", "--depths", "5", "--input-size", 32, "--batch-size", 16, "--limit", 64,
               "--ray", ray_address, "--out", out]
    result = run_cli(*command)
    assert "best: width" in result.stdout
    _assert_quiet(result)
    first = (out / "build-config.json").read_text()
    again = run_cli(*command)  # a rerun restores the finished Tune experiment: nothing retrains
    assert "search: resuming" in again.stderr and again.stdout == result.stdout
    assert (out / "build-config.json").read_text() == first
    other = run_cli(*command[:-2], "--epochs", 2, "--out", out, check=False)
    assert other.returncode == 1 and (f"Error: {out}: holds a search made otherwise (--epochs 1 there, "
                                      "2 now): use a new --out") in other.stderr
    trials = json.loads((out / "search.json").read_text())["trials"]
    assert len(trials) == 2 and len({(t["width"], t["per_channel"]) for t in trials}) == 2
    for trial in trials:
        assert 0 <= trial["dev_acer"] <= 1 and 0 <= trial["dev_auc"] <= 1
        assert trial["fits"] and trial["size_bytes"] <= 100 * 1024
    config = json.loads((out / "build-config.json").read_text())
    best = min(trials, key=lambda t: (t["dev_acer"], -t["dev_auc"], t["size_bytes"]))
    assert config["contraction"] == {"width": best["width"], "blocks": best["blocks"]}

    run = tmp_path / "build"
    run_cli("build", "--data", small_data, "--weights", WEIGHTS_035, "--config", out / "build-config.json",
            "--mode", "ptq", "--epochs", 1, "--limit", 64, "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["build"]["width"] == best["width"] and metrics["build"]["blocks"] == best["blocks"]
    assert metrics["build"]["per_channel"] == best["per_channel"]
    assert metrics["build"]["parameters"] == best["parameters"]
    assert metrics["int8"]["size_bytes"] == best["size_bytes"]  # same layout, same bytes
    assert json.loads((run / "config.json").read_text())["options"]["input_size"] == 32


def test_build_config_errors(tmp_path):
    with pytest.raises(AntispoofError, match="build config not found"):
        read_build_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(AntispoofError, match="not a valid build config"):
        read_build_config(tmp_path / "bad.json")
    with pytest.raises(AntispoofError, match="per-tensor quantization needs --mode ptq"):
        BuildOptions(per_channel=False, mode="qat")


def test_mirrored_strategy_trains_on_this_hosts_devices(tmp_path, small_data):
    out = tmp_path / "run"
    result = run_cli("train", "--data", small_data, "--weights", WEIGHTS_035, "--out", out,
                     "--strategy", "mirrored", "--epochs", 1, "--input-size", 32, "--limit", 64,
                     "--augment", "--ema", 0.9)
    assert "1 replicas" in result.stderr  # the CPU: MirroredStrategy over one device
    config = json.loads((out / "config.json").read_text())
    assert config["replicas"] == 1 and config["options"]["augment"] is True
    assert config["options"]["ema"] == 0.9
    history = json.loads((out / "history.json").read_text())
    assert history["complete"] and np.isfinite(history["epochs"][0]["loss"])
