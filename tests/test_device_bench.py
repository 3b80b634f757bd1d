"""antispoof bench on every target with real transports: this machine, a real sshd and a real
adbd on 127.0.0.1, TFLite's benchmark_model output, and ARM parity under qemu-aarch64."""
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from antispoof.bench.latency import BenchOptions, bench, parse_benchmark_model
from antispoof.core.errors import AntispoofError
from antispoof.bench.parity import compare_outputs, nuaa_test_crops
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.runtime.interpreter import TFLiteClassifier

from antispoof.testing import loopback
from antispoof.testing.loopback import free_port
from conftest import NUAA, run_cli

pytestmark = pytest.mark.system  # a real sshd, adbd and qemu

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"
SYSROOT = Path(__file__).resolve().parent.parent / ".cache" / "arm64"  # make arm64-sysroot
MEDIAPIPE_MODEL = DEFAULT_MODEL.with_name("antispoof_mediapipe.tflite")
QUICK = BenchOptions(runs=30, warmup=3)


def temporary_folders():
    return {p for root in ("/tmp", "/data/local/tmp") if os.path.isdir(root)
            for p in Path(root).glob("antispoof-bench.*")}


@pytest.fixture(scope="module")
def local_record():
    return bench(DEFAULT_MODEL, QUICK)


@pytest.fixture
def model_with_awkward_path(tmp_path):
    """The shipped model at a path with spaces, quotes and shell metacharacters."""
    folder = tmp_path / "my models; $(touch pwned) 'q'"
    folder.mkdir()
    return Path(shutil.copy(DEFAULT_MODEL, folder / "anti spoof.tflite"))


@pytest.fixture
def python_at_awkward_path(tmp_path):
    """This venv's Python behind a path with a space (what --remote-python gets)."""
    folder = tmp_path / "py env"
    folder.mkdir()
    wrapper = folder / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_local_runner_fields(local_record):
    r = local_record
    assert r["runtime"] == "litert" and r["kernels"] == "xnnpack" and r["threads"] == 1
    assert r["target"] == "local" and r["machine"] == "x86_64" and r["cpu"]
    assert r["model_bytes"] == DEFAULT_MODEL.stat().st_size
    inference = r["inference"]
    assert inference["count"] == 30 and r["warmup"]["count"] == 3
    assert 0 < inference["min"] <= inference["p50"] <= inference["p90"] <= inference["max"]
    assert inference["std"] >= 0 and r["init_us"] > 0 and r["first_us"] > 0
    assert r["memory_mb"]["peak_rss"] > 0
    assert r["checksum"].startswith("sha256:") and r["deterministic"] is True


def test_builtin_kernels_and_another_seed_change_what_runs(local_record):
    builtin = bench(DEFAULT_MODEL, BenchOptions(runs=5, warmup=0, kernels="builtin"))
    assert builtin["kernels"] == "builtin"
    reseeded = bench(DEFAULT_MODEL, BenchOptions(runs=5, warmup=0, seed=1))
    assert reseeded["checksum"] != local_record["checksum"]


def test_compare_interleaves_and_reports_ratios(tmp_path):
    out = tmp_path / "compare.json"
    proc = run_cli("bench", "--compare", DEFAULT_MODEL, MEDIAPIPE_MODEL, "--runs", 40,
                   "--rounds", 4, "--warmup", 2, "--json", out)
    result = json.loads(out.read_text())
    assert [Path(r["model"]).name for r in result["results"]] == [DEFAULT_MODEL.name,
                                                                  MEDIAPIPE_MODEL.name]
    assert all(r["inference"]["count"] == 40 for r in result["results"])
    assert result["p50_ratios"][0] == 1.0 and result["p50_ratios"][1] > 0
    assert "×1.00" in proc.stdout
    refused = run_cli("bench", DEFAULT_MODEL, MEDIAPIPE_MODEL, check=False)
    assert refused.returncode == 2 and "several models need --compare" in refused.stderr


def test_unknown_target_is_a_one_line_error():
    proc = run_cli("bench", DEFAULT_MODEL, "--target", "telnet://pi", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: telnet://pi: unknown target; use local, "
                                   "ssh://USER@HOST[:PORT] or adb[://SERIAL]")


def test_a_missing_ssh_or_adb_client_is_a_one_line_error(tmp_path):
    """On a machine without the client, before any work: one line naming what to install."""
    import subprocess

    from antispoof.testing.commands import ANTISPOOF

    env = {**os.environ, "PATH": str(tmp_path)}  # no ssh, scp or adb on it
    for target, says in (("ssh://nobody@127.0.0.1", "Error: ssh not found: install an OpenSSH client"),
                         ("adb", "Error: adb not found: install Android platform-tools")):
        proc = subprocess.run([str(ANTISPOOF), "bench", str(DEFAULT_MODEL), "--target", target],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(says), line


# --- ssh: a real sshd on 127.0.0.1 -------------------------------------------------------

@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with loopback.sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def test_bench_over_ssh(sshd, model_with_awkward_path, python_at_awkward_path, tmp_path,
                        local_record):
    out = tmp_path / "ssh.json"
    run_cli("bench", model_with_awkward_path, "--target", "ssh://loopback", "--ssh-config",
            sshd["config"], "-i", sshd["key"], "--remote-python", python_at_awkward_path,
            "--runs", 30, "--warmup", 3, "--json", out)
    result = json.loads(out.read_text())
    assert result["target"] == "ssh://loopback"
    assert set(result) == set(local_record)
    assert set(result["inference"]) == set(local_record["inference"])
    assert result["inference"]["count"] == 30 and result["runtime"] == "litert"
    assert result["checksum"] == local_record["checksum"]  # same bytes in, same bytes out
    assert not (tmp_path / "pwned").exists()
    assert list(sshd["remote_tmp"].iterdir()) == []  # the remote folder was removed


def test_ssh_with_port_in_the_target(sshd, python_at_awkward_path):
    result = bench(DEFAULT_MODEL, QUICK, f"ssh://root@127.0.0.1:{sshd['port']}",
                   identity=sshd["key"], python=str(python_at_awkward_path),
                   ssh_options=["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"])
    assert result["target"] == f"ssh://root@127.0.0.1:{sshd['port']}"
    assert result["inference"]["count"] == 30


def test_ssh_failures_say_what_to_do(sshd, python_at_awkward_path):
    closed = run_cli("bench", DEFAULT_MODEL, "--target", f"ssh://root@127.0.0.1:{free_port()}",
                     "-i", sshd["key"], check=False)
    assert closed.returncode == 1 and len(closed.stderr.strip().splitlines()) == 1
    assert "cannot connect" in closed.stderr and "Connection refused" in closed.stderr
    no_python = run_cli("bench", DEFAULT_MODEL, "--target", "ssh://loopback", "--ssh-config",
                        sshd["config"], "-i", sshd["key"], "--remote-python", "/opt/no python",
                        check=False)
    assert no_python.returncode == 1
    assert "no Python at '/opt/no python' there: give --remote-python PATH, or --setup" in no_python.stderr
    bare = python_at_awkward_path.with_name("bare python")  # no site-packages: no numpy
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    bare.chmod(0o755)
    no_numpy = run_cli("bench", DEFAULT_MODEL, "--target", "ssh://loopback", "--ssh-config",
                       sshd["config"], "-i", sshd["key"], "--remote-python", bare, check=False)
    assert no_numpy.returncode == 1
    assert "numpy is not installed" in no_numpy.stderr and "--setup" in no_numpy.stderr


# --- adb: the real adbd (bookworm-backports) on 127.0.0.1 ---------------------------------

@pytest.fixture(scope="module")
def adb_device():
    with loopback.adbd() as serial:
        yield serial


def test_bench_over_adb(adb_device, model_with_awkward_path, python_at_awkward_path, tmp_path,
                        local_record):
    before = temporary_folders()
    out = tmp_path / "adb.json"
    run_cli("bench", model_with_awkward_path, "--target", f"adb://{adb_device}",
            "--remote-python", python_at_awkward_path, "--runs", 30, "--warmup", 3, "--json", out)
    result = json.loads(out.read_text())
    assert result["target"] == f"adb://{adb_device}"
    assert set(result) == set(local_record)
    assert result["inference"]["count"] == 30
    assert result["checksum"] == local_record["checksum"]
    assert temporary_folders() == before  # the device folder was removed


def test_adb_without_python_needs_the_benchmark_binary(adb_device):
    with pytest.raises(AntispoofError, match=r"no '/opt/none/python3' on the device; give "
                                             r"--benchmark-binary PATH"):
        bench(DEFAULT_MODEL, QUICK, f"adb://{adb_device}", python="/opt/none/python3")


def test_offline_adb_device_says_what_to_do(adb_device):
    proc = run_cli("bench", DEFAULT_MODEL, "--target", f"adb://127.0.0.1:{free_port()}",
                   check=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "device is not online" in proc.stderr and "adb connect HOST:PORT" in proc.stderr


# --- benchmark_model: real output, parsed into the runner's fields --------------------------

def test_benchmark_model_output_parses_into_the_same_fields(local_record):
    new = parse_benchmark_model((FIXTURES / "arm64_xnnpack.txt").read_text())
    assert set(new) == set(local_record) - {"target"}
    assert set(new["inference"]) == set(local_record["inference"])
    assert new["runtime"] == "benchmark_model" and new["threads"] is None
    assert new["init_us"] == 87639 and new["first_us"] == 106436
    assert new["warmup"] == {"count": 5, "first": 106436, "curr": 105929, "min": 105929,
                             "max": 106436, "avg": 106065, "std": 193}
    assert new["inference"]["count"] == 50 and new["inference"]["avg"] == 105784
    assert new["inference"]["p50"] == 105718 and new["inference"]["p90"] is None
    assert new["memory_mb"] == {"init": 14.4414, "overall": 14.8164, "peak_rss": None}

    old = parse_benchmark_model((FIXTURES / "riscv64_op_profiling.txt").read_text(), "builtin")
    assert old["threads"] == 4 and old["kernels"] == "builtin"
    assert old["warmup"]["count"] == 1 and old["warmup"]["first"] is None
    assert old["warmup"]["avg"] == 3.51239e6
    assert old["inference"]["count"] == 50 and old["inference"]["avg"] == 2.95034e6
    assert old["inference"]["p50"] is None and old["memory_mb"]["overall"] == 46.0859


def test_benchmark_model_failure_is_reported():
    with pytest.raises(AntispoofError, match="printed no timings: .*Failed to mmap model"):
        parse_benchmark_model("STARTING!\nGraph: [/data/local/tmp/x.tflite]\n"
                              "ERROR: Failed to mmap model /data/local/tmp/x.tflite\n")


# --- ARM parity under qemu-aarch64 ---------------------------------------------------------

@pytest.mark.parametrize("kernels", ["builtin", "xnnpack"])
def test_arm_parity_on_nuaa_test_crops(kernels):
    assert (SYSROOT / ".ready").exists(), "`make arm64-sysroot` builds the aarch64 Python"
    crops = nuaa_test_crops(NUAA, TFLiteClassifier(DEFAULT_MODEL).input_size, limit=32)
    result = compare_outputs(DEFAULT_MODEL, crops, SYSROOT, kernels)
    assert result["arm"]["machine"] == "aarch64" and result["x86"]["machine"] == "x86_64"
    assert result["arm"]["runtime"] == result["x86"]["runtime"] == "litert"
    assert result["crops"] == 32 and result["identical_decisions"] == 32
    if kernels == "xnnpack":  # the built-in kernels requantize differently on x86 and ARM
        assert result["identical_outputs"] == 32 and result["max_output_difference_lsb"] == 0
    assert "qemu-aarch64 version 10" in result["arm"]["emulator"]
