"""The Android demo's pure-Kotlin part, compiled with Debian's kotlinc: its JUnit tests, and the
same inputs through it and through the Python toolkit giving the same tensors and numbers."""
import dataclasses
import json
import re
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from antispoof.runtime.device_runner import statistics
from antispoof.data.faces import FaceDetector, crop_face
from antispoof.data.images import read_image
from antispoof.core.model_contract import ModelContract, Quantization, read_contract
from antispoof.core.rundir import CONTRACT_FILE
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.runtime.interpreter import TFLiteClassifier
from conftest import NUAA, REPO

CORE = REPO / "android_demo" / "core"
JAVA_LIBS = Path("/usr/share/java")
CLASSPATH_LIBS = [JAVA_LIBS / "kotlin-stdlib.jar", JAVA_LIBS / "junit4.jar",
                  JAVA_LIBS / "hamcrest-core.jar"]
CONTRACT = DEFAULT_MODEL.with_name(CONTRACT_FILE)


def kotlinc(sources, out, classpath=()):
    proc = subprocess.run(["kotlinc", *map(str, sources), "-d", str(out),
                           *(["-cp", ":".join(map(str, classpath))] if classpath else [])],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def core_jar(tmp_path_factory):
    for lib in CLASSPATH_LIBS:
        assert lib.exists(), f"{lib} missing: `make system-deps` installs kotlin and junit4"
    return kotlinc([CORE / "src" / "main" / "kotlin"],
                   tmp_path_factory.mktemp("core") / "core.jar")


def core(jar, *args):
    proc = subprocess.run(["java", "-cp", f"{jar}:{CLASSPATH_LIBS[0]}", "org.antispoof.core.CliKt",
                           *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_jvm_unit_tests_pass(core_jar, tmp_path):
    tests = kotlinc([CORE / "src" / "test" / "kotlin"], tmp_path / "tests.jar",
                    [core_jar, *CLASSPATH_LIBS])
    classes = _test_classes()
    proc = subprocess.run(["java", "-cp", ":".join(map(str, [core_jar, tests, *CLASSPATH_LIBS])),
                           "org.junit.runner.JUnitCore", *classes],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "OK (" in proc.stdout and int(proc.stdout.split("OK (")[1].split()[0]) >= 15


def _test_classes():
    source = (CORE / "src" / "test" / "kotlin" / "org" / "antispoof" / "core" / "CoreTest.kt").read_text()
    return [f"org.antispoof.core.{line.split()[1]}" for line in source.splitlines()
            if line.startswith("class ") and line.split()[1].endswith("Test")]


def camera_frames():
    """NUAA test crops as 640×480 camera-like frames (the face at several sizes and places,
    some reaching past the edge), with BlazeFace's boxes, plus hand-made edge cases."""
    paths = sorted((NUAA / "ClientFace" / "0005").glob("*.jpg"))[:2] + \
        sorted((NUAA / "ImposterFace" / "0010").glob("*.jpg"))[:2]
    detector = FaceDetector()
    cases = []
    for i, path in enumerate(paths):
        face = cv2.cvtColor(read_image(path), cv2.COLOR_BGR2RGB)
        side = (120, 200, 300, 90)[i]
        frame = np.full((480, 640, 3), 40 + 30 * i, np.uint8)
        x, y = ((20, 30), (400, 250), (170, 100), (560, 400))[i]
        patch = cv2.resize(face, (side, side))[:480 - y, :640 - x]
        frame[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
        boxes = [f.box for f in detector.detect(frame)]
        cases += [(frame, box) for box in boxes]
    frame = cases[0][0]
    cases += [(frame, (0, 0, 52, 50)), (frame, (600, 440, 37, 41)), (frame, (80, 60, 116, 116))]
    return cases


def test_jvm_preprocessing_gives_the_python_tensor(core_jar, tmp_path):
    classifier = TFLiteClassifier(DEFAULT_MODEL)
    contract = json.loads(CONTRACT.read_text())
    cases = camera_frames()
    assert len(cases) >= 6  # BlazeFace found at least 3 of the 4 faces
    for k, (frame, box) in enumerate(cases):
        (tmp_path / "frame.rgb").write_bytes(frame.tobytes())
        core(core_jar, "crop", tmp_path / "frame.rgb", frame.shape[1], frame.shape[0],
             *map(int, box), CONTRACT, tmp_path / "tensor.bin")
        jvm = np.frombuffer((tmp_path / "tensor.bin").read_bytes(), np.int8)
        crop = crop_face(frame, tuple(int(v) for v in box), contract["input_size"],
                         contract["crop_scale"])
        python = classifier.quantize_input(crop[None]).reshape(-1)
        assert np.array_equal(jvm, python), (
            f"case {k}, box {box}: {(jvm != python).sum()} of {jvm.size} values differ")


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _kotlin_fields(kotlin_class):
    """The constructor parameters of a Kotlin data class in ModelContract.kt, in order."""
    source = (CORE / "src/main/kotlin/org/antispoof/core/ModelContract.kt").read_text()
    body = re.search(rf"data class {kotlin_class}\((.*?)\)", source, re.S).group(1)
    return re.findall(r"val (\w+):", body)


def test_kotlin_contract_mirrors_the_python_dataclass():
    """Every field the app reads is a field of the Python ModelContract, and every field the
    Python side always writes for an int8 model (no default) is one the app reads."""
    python = {_camel(f.name): f for f in dataclasses.fields(ModelContract)}
    kotlin = _kotlin_fields("ModelContract")
    assert set(kotlin) <= set(python), set(kotlin) - set(python)
    required = {name for name, f in python.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    assert required <= set(kotlin), required - set(kotlin)
    quantization = [_camel(f.name) for f in dataclasses.fields(Quantization)]
    assert _kotlin_fields("Quantization") == [n for n in quantization if n != "meaning"]


def test_jvm_reads_the_shipped_contract(core_jar):
    """Kotlin's ModelContract.parse and Python's read_contract give the same values."""
    contract = read_contract(CONTRACT)
    text = core(core_jar, "contract", CONTRACT)
    for field in _kotlin_fields("ModelContract"):
        value = getattr(contract, re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), field))
        if isinstance(value, Quantization):
            value = (f"Quantization(dtype={value.dtype}, scale={value.scale}, "
                     f"zeroPoint={value.zero_point})")
        elif isinstance(value, tuple):
            value = "[" + ", ".join(value) + "]"
        assert f"{field}={value}" in text, (field, value, text)


def test_jvm_benchmark_statistics_match_the_runner(core_jar, tmp_path):
    times = list(np.random.default_rng(0).gamma(4.0, 40.0, 257))
    (tmp_path / "times.txt").write_text("\n".join(repr(float(t)) for t in times))
    jvm = json.loads(core(core_jar, "stats", tmp_path / "times.txt"))
    python = statistics(times, percentiles=True)
    assert list(jvm) == list(python)
    for key in python:
        assert jvm[key] == pytest.approx(python[key], rel=1e-12), key


def test_jvm_smoothing_and_threshold_match_predict(core_jar):
    scores, past, threshold = [0.9, 0.1, 0.2, 0.8, 0.4258], 0.6, 0.42578125
    lines = core(core_jar, "smooth", past, threshold, *scores).split("\n")
    smoothed = None
    for score, line in zip(scores, lines):  # antispoof.runtime.predict's formula
        smoothed = score if smoothed is None else past * smoothed + (1 - past) * score
        value, label = line.split()
        assert float(value) == pytest.approx(smoothed, abs=1e-12)
        assert label == ("spoof" if smoothed >= threshold else "real")


@pytest.mark.system
def test_offline_apk_of_the_pure_part_builds_signs_and_verifies(tmp_path):
    """Debian's aapt2, dx, zipalign and apksigner build the pure part and a self-test activity
    into a signed APK without Gradle (the inference needs LiteRT's AAR from Google's Maven)."""
    build = subprocess.run([str(CORE.parent / "offline_apk" / "build.sh"), str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    apk = tmp_path / "antispoof-selftest.apk"
    verify = subprocess.run(["apksigner", "verify", "--verbose", str(apk)], capture_output=True,
                            text=True)
    assert verify.returncode == 0 and "Verified using v2 scheme (APK Signature Scheme v2): true" \
        in verify.stdout
    badging = subprocess.run(["aapt", "dump", "badging", str(apk)], capture_output=True, text=True)
    assert "package: name='org.antispoof.selftest'" in badging.stdout
    assert "launchable-activity: name='org.antispoof.selftest.SelfTestActivity'" in badging.stdout
    with zipfile.ZipFile(apk) as z:
        dex = z.read("classes.dex")
    assert dex.startswith(b"dex\n035\x00")
    for cls in ("Lorg/antispoof/core/Resize;", "Lorg/antispoof/core/Preprocessor;",
                "Lorg/antispoof/selftest/SelfTestActivity;"):
        assert cls.encode() in dex
