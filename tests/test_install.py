"""Installable anywhere: the wheel of this checkout, installed (not editable) in a fresh venv
outside the checkout, runs `demo` and `predict` with the shipped model it carries as package
data, and reads nothing of the checkout, ../shared or .cache unless told to."""
import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NUAA, REPO


pytestmark = pytest.mark.system  # builds a wheel and a venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv outside the checkout with the antispoof wheel installed; its dependencies come
    from the test environment's site-packages (no network), the package itself from the wheel."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(REPO)], check=True,
                   capture_output=True, timeout=600)
    (wheel,) = wheels.glob("antispoof-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the test environment's packages (TensorFlow, MediaPipe, ...) after the venv's own; its
    # editable antispoof is a .pth hook there, which a plain path entry does not run
    deps = [p for p in site.getsitepackages() if p.endswith("site-packages")]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", purelib, str(wheel)], check=True, capture_output=True, timeout=600)
    (Path(purelib) / "zz_deps.pth").write_text("\n".join(deps) + "\n")
    return venv, root


def _run(venv, cwd, *args):
    return subprocess.run([str(venv / "bin" / "python"), "-m", "antispoof.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_installed_package_is_the_wheel_with_its_model(installed):
    venv, root = installed
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import antispoof, json; from antispoof.core.shipped import DEFAULT_MODEL; "
                            "print(json.dumps([antispoof.__file__, str(DEFAULT_MODEL)]))"],
                           cwd=root, capture_output=True, text=True, check=True)
    package, model = json.loads(probe.stdout)
    assert str(REPO) not in package and str(venv) in package
    assert str(venv) in model and model.endswith("antispoof_int8.tflite")
    for name in ("model.json", "labels.txt", "MODEL_CARD.md", "antispoof_mediapipe.tflite"):
        assert (Path(model).parent / name).is_file()


def test_demo_runs_from_the_installation_and_reads_only_what_it_is_told(installed):
    venv, root = installed
    proc = _run(venv, root, "demo")
    assert proc.returncode == 0, proc.stderr
    assert "latency  p50" in proc.stdout and str(venv) in proc.stdout
    assert "give --data NUAA" in proc.stdout  # no dataset named: none read
    told = _run(venv, root, "demo", "--data", NUAA)
    assert told.returncode == 0, told.stderr
    assert "NUAA test crops" in told.stdout and "correct" in told.stdout


def test_predict_runs_from_the_installation(installed):
    venv, root = installed
    image = sorted((NUAA / "ClientFace" / "0005").glob("*.jpg"))[0]
    proc = _run(venv, root, "predict", image, "--no-detect")
    assert proc.returncode == 0, proc.stderr
    assert "1 face in 1 frame" in proc.stdout, proc.stdout
