"""The set-up `make test` runs on a new machine: it plans the system tools it lacks, and takes
the package mirror from the machine's own apt configuration instead of naming a host."""
import os
import re
import shutil
import subprocess
import sys

from conftest import REPO

SYSTEM_TOOLS = REPO / "tests" / "system_tools.sh"
MIRROR = REPO / "tests" / "debian_mirror.sh"
# what the set-up scripts themselves call, and nothing of what they install
BASICS = ("bash", "sh", "env", "sed", "awk", "grep", "cat", "head", "dirname", "mkdir", "rm", "printf")


def _bare_path(tmp_path):
    """A PATH with the shell basics only: a machine where none of the tools is installed yet."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for name in BASICS:
        (bare / name).symlink_to(shutil.which(name))
    return str(bare)


def test_system_tools_plans_every_missing_tool_on_a_bare_machine(tmp_path):
    env = {**os.environ, "PATH": _bare_path(tmp_path)}
    proc = subprocess.run(["bash", str(SYSTEM_TOOLS), str(tmp_path / "adbd"), "--dry-run"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr  # no qemu: not an error before anything is installed
    missing = proc.stdout.split("missing:", 1)[1].split()
    for package in ("chromium", "nodejs", "npm", "openssh-client", "adb", "mmdebstrap", "kotlin",
                    "qemu-user", "adbd"):
        assert package in missing, proc.stdout


def _apt_etc(tmp_path, deb822=None, one_line=None):
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if deb822:
        (etc / "sources.list.d" / "debian.sources").write_text(deb822)
    if one_line:
        (etc / "sources.list").write_text(one_line)
    return etc


def _mirror(etc):
    return subprocess.run(["bash", str(MIRROR)], capture_output=True, text=True,
                          env={**os.environ, "APT_ETC": str(etc)})


def test_the_mirror_comes_from_the_machines_apt_sources(tmp_path):
    codename = re.search(r"^VERSION_CODENAME=(\w+)", open("/etc/os-release").read(), re.M)[1]
    deb822 = (f"Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: {codename}-security\n"
              "Components: main\n\n"
              f"Types: deb deb-src\nURIs: http://mirror.invalid/debian/ http://other.invalid/debian\n"
              f"Suites: {codename} {codename}-updates\nComponents: main\n")
    assert _mirror(_apt_etc(tmp_path / "a", deb822=deb822)).stdout == "http://mirror.invalid/debian\n"
    one_line = (f"# deb http://commented.invalid/debian {codename} main\n"
                f"deb [arch=amd64 signed-by=/k.gpg] http://local.invalid:3142/debian {codename} main\n")
    assert _mirror(_apt_etc(tmp_path / "b", one_line=one_line)).stdout == "http://local.invalid:3142/debian\n"
    nothing = _mirror(_apt_etc(tmp_path / "c"))
    assert nothing.returncode == 1 and nothing.stdout == ""
    assert nothing.stderr.strip().endswith("add one first")


def test_no_set_up_file_names_a_host():
    files = ["Makefile", ".ci/run", "pyproject.toml", *(p.relative_to(REPO).as_posix()
                                                       for p in (REPO / "tests").glob("*.sh"))]
    for name in files:
        text = (REPO / name).read_text()
        assert not re.search(r"\w+://", text), f"{name} names an address"


def test_the_unit_tier_runs_without_shared(tmp_path):
    """On a clone without ../shared, a test that reads no data runs and one that reads it is
    skipped, naming the missing file; in CI the missing folder stops the run."""
    env = {**os.environ, "ANTISPOOF_SHARED": str(tmp_path / "none")}
    env.pop("CI", None)
    tests = ["tests/test_metrics.py", "tests/test_model_contract.py",
             "tests/test_data.py::test_nuaa_protocol_split_is_subject_disjoint_and_matches_counts"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           *tests], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    counts = re.search(r"\b(\d+) passed, 1 skipped in\b", proc.stdout)  # no failure, one skip
    assert counts and int(counts[1]) >= 12, proc.stdout[-2000:]
    assert f"reads ../shared: {tmp_path / 'none' / 'data' / 'nuaa' / 'protocol.json'} is missing" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_metrics.py"], cwd=REPO, env={**env, "CI": "true"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "CI needs ../shared beside the clone" in proc.stdout + proc.stderr
