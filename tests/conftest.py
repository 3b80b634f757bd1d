"""Shared fixtures: real NUAA data and weights from ../shared, and one real small build."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
NUAA = SHARED / "data" / "nuaa"
WEIGHTS_035 = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
ANTISPOOF = Path(sys.executable).with_name("antispoof")

if not (NUAA / "protocol.json").exists() or not WEIGHTS_035.exists():
    raise pytest.UsageError(f"the tests need {NUAA} and {WEIGHTS_035} (../shared beside the checkout)")


def run_cli(*args, check=True, timeout=600):
    """Run the installed ``antispoof`` console script; return the CompletedProcess."""
    proc = subprocess.run([str(ANTISPOOF), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"antispoof {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


def make_subset(root, subjects, per_subject):
    """A real/ spoof/ per-subject folder of symlinks to NUAA crops (nothing copied)."""
    for class_dir, label in (("ClientFace", "real"), ("ImposterFace", "spoof")):
        for subject in subjects:
            files = sorted((NUAA / class_dir / subject).glob("*.jpg"))[::7][:per_subject]
            target = root / label / subject
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                (target / f.name).symlink_to(f)
    return root


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """Eight NUAA subjects, 30 crops per subject and class, generic real/ spoof/ layout."""
    subjects = ["0001", "0002", "0003", "0004", "0006", "0007", "0008", "0009"]
    return make_subset(tmp_path_factory.mktemp("small") / "data", subjects, 30)


@pytest.fixture(scope="session")
def small_build(tmp_path_factory, small_data):
    """A real default `antispoof build` (contract to 100 KB, train, QAT) on the small subset,
    one epoch of each."""
    out = tmp_path_factory.mktemp("build") / "run"
    proc = run_cli("build", "--data", small_data, "--weights", WEIGHTS_035, "--out", out,
                   "--epochs", 1, "--qat-epochs", 1)
    (out / "build-stderr.txt").write_text(proc.stderr)  # what a user saw (test_first_use)
    return out


WEIGHTS_100 = SHARED / "weights" / "mobilenet_v2_weights_1.0_224_no_top_from_int8_tflite.h5"


def run_cli_on_terminal(*args, timeout=600):
    """Run the console script with a pseudo-terminal as its stderr (as a person at a terminal
    sees it); return (exit status, what it wrote to stderr, stdout)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns
    proc = subprocess.Popen([str(ANTISPOOF), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, text=False)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: every writer has exited
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), out.decode()


# Two tiers: `pytest -m "not system"` runs the fast unit tests; the system tests drive real
# sshd, adbd, qemu, Chromium and the Kotlin compiler, or train models. A test is a system test
# when it says so (@pytest.mark.system) or uses one of these fixtures.
SYSTEM_FIXTURES = {"small_build", "core_jar", "sshd", "adb_device", "python_at_awkward_path",
                   "server_run", "report_html", "packed", "ray_address", "broken_models"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SYSTEM_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.system)
