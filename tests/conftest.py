"""Shared fixtures: real NUAA data and weights from ../shared, and one real small build."""
import os
import tempfile

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# the teachers' score cache (training.teacher) of this session, not the user's
os.environ.setdefault("ANTISPOOF_CACHE", tempfile.mkdtemp(prefix="antispoof-cache-"))

from antispoof.testing.checkout import (NUAA, REPO, SHARED, WEIGHTS_035, WEIGHTS_100,  # noqa: E402,F401
                                        shared_missing)
from antispoof.testing.commands import ANTISPOOF, run_cli, run_cli_on_terminal  # noqa: E402,F401
from antispoof.testing.nuaa import SMALL_SUBJECTS, make_subset  # noqa: E402,F401


def _shared_root(tmp_path_factory):
    """A folder every worker of this session sees (pytest-xdist gives each its own base)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _built_once(tmp_path_factory, name, make):
    """``make(folder)`` once per session under a file lock, whichever worker asks first; the
    others wait for it and read the same folder."""
    from filelock import FileLock

    root = _shared_root(tmp_path_factory)
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """Eight NUAA subjects, 30 crops per subject and class, generic real/ spoof/ layout."""
    return _built_once(tmp_path_factory, "small-data",
                       lambda folder: make_subset(folder, SMALL_SUBJECTS, 30))


@pytest.fixture(scope="session")
def small_build(tmp_path_factory, small_data):
    """A real default `antispoof build` (contract to 100 KB, train, QAT) on the small subset,
    one epoch of each: built once per session and read by every test that needs a trained
    run (the end-to-end test of the default build: only it covers contraction, training, QAT,
    evaluation and the report in one command)."""
    def make(folder):
        out = folder / "run"
        proc = run_cli("build", "--data", small_data, "--weights", WEIGHTS_035, "--out", out,
                       "--epochs", 1, "--qat-epochs", 1)
        (out / "build-stderr.txt").write_text(proc.stderr)  # what a user saw (test_first_use)
        (out / "build-stdout.txt").write_text(proc.stdout)

    return _built_once(tmp_path_factory, "small-build", make) / "run"


# Two tiers: `pytest -m "not system"` runs the fast unit tests; the system tests drive real
# sshd, adbd, qemu, Chromium and the Kotlin compiler, or train models. A test is a system test
# when it says so (@pytest.mark.system) or uses one of these fixtures.
SYSTEM_FIXTURES = {"small_build", "core_jar", "sshd", "adb_device", "python_at_awkward_path",
                   "server_run", "report_html", "packed", "ray_address", "broken_models", "quick_run"}


# Tests that read ../shared (real datasets, pretrained weights, the peers) say so with
# @pytest.mark.shared, or use a fixture made from it. On a clone without ../shared they are
# skipped with the path that is missing; in CI (CI set), where ../shared is always laid beside
# the clone, a missing file is a failure instead.
SHARED_FIXTURES = {"small_data", "small_build"}


# The longest files first: `make test`'s workers take a file each in this order, so that neither
# is left with a long file at the end while the other idles.
FIRST = ("test_server.py", "test_cluster.py", "test_first_use.py", "test_multi_dataset.py",
         "test_quantize.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))
    missing = shared_missing()
    for item in items:
        if SYSTEM_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.system)
        needs_shared = item.get_closest_marker("shared") or SHARED_FIXTURES & set(item.fixturenames)
        if missing and needs_shared and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"reads ../shared: {missing} is missing"))


def pytest_sessionstart(session):
    missing = shared_missing()
    if missing and os.environ.get("CI"):
        raise pytest.UsageError(f"CI needs ../shared beside the clone: {missing} is missing")
