"""What a new user meets first: models that break the contract, quiet logs, progress bars,
per-model thresholds, crops without detection, whole-folder evaluation, early data checks."""
import csv
import json
import os
import re
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from antispoof.data.datasets import FaceDataset
from antispoof.runtime.interpreter import TFLiteClassifier
from conftest import (ANTISPOOF, NUAA, REPO, SHARED, WEIGHTS_035, WEIGHTS_100, make_subset,
                      run_cli, run_cli_on_terminal)

SHIPPED = REPO / "models" / "antispoof_int8.tflite"
PEER = SHARED / "weights" / "silentface" / "minifasnetv2_scale2.7_80x80.onnx"
CROP = NUAA / "ClientFace" / "0010" / "0010_01_05_03_115.jpg"  # the subject's first crop


def _tflite(path, inputs, outputs):
    """A tiny real TFLite model of the given input shape (batch included) and output width."""
    import tensorflow as tf
    import tf_keras as keras

    batch, *shape = inputs
    x = keras.Input(shape=shape, batch_size=batch)
    y = keras.layers.Dense(outputs, activation="sigmoid")(keras.layers.Flatten()(x))
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(x, y)).convert())
    return path


BROKEN = {  # name: (input shape, outputs, what the one-line error says)
    "nchw": ((None, 3, 32, 32), 1, r"model input is N×3×32×32 \(channels first\?\)"),
    "grey": ((None, 32, 32, 1), 1, r"model input is N×32×32×1; antispoof models take N×S×S×3"),
    "batch4": ((4, 32, 32, 3), 1, r"model input has a fixed batch of 4"),
    "three_outputs": ((None, 32, 32, 3), 3, r"model outputs 3 values per crop"),
}


@pytest.fixture(scope="module")
def broken_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    return {name: _tflite(folder / f"{name}.tflite", shape, outputs)
            for name, (shape, outputs, _) in BROKEN.items()}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_model_that_breaks_the_contract_is_one_line(name, broken_models, small_data):
    model, expected = broken_models[name], BROKEN[name][2]
    for args in (["predict", model, CROP], ["evaluate", model, "--data", small_data],
                 ["demo", "--model", model]):
        proc = run_cli(*args, check=False)
        assert proc.returncode == 1, args
        assert "Traceback" not in proc.stderr, args
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(f"Error: {model}: ") and re.search(expected, line), line
    # bench times any TFLite file, but says that this one is no anti-spoofing model
    proc = run_cli("bench", model, "--runs", 5, "--warmup", 1)
    assert any(line.startswith(f"warning: {model}: ") and "timed all the same" in line
               for line in proc.stderr.splitlines())


@pytest.mark.system
def test_commands_are_quiet_unless_verbose(tmp_path):
    proc = run_cli("predict", SHIPPED, CROP)
    assert proc.stderr == ""  # no cuFFT/cuDNN/EGL/XNNPACK/feedback-manager lines
    assert proc.stdout.strip().splitlines()[-1].endswith("; 0 problems")
    loud = run_cli("predict", "--verbose", SHIPPED, CROP)
    assert "XNNPACK" in loud.stderr
    assert loud.stdout.splitlines()[-1] == proc.stdout.splitlines()[-1]
    assert "XNNPACK" in run_cli("--verbose", "predict", SHIPPED, CROP).stderr


def test_a_build_prints_only_its_own_lines(small_build):
    stderr = (small_build / "build-stderr.txt").read_text()
    lines = stderr.splitlines()
    assert all(len(line) < 300 for line in lines), max(lines, key=len)[:300]
    assert not any("scale out of expressed type range" in line or "E0000" in line or
                   "W0000" in line for line in lines)
    # our lines in words on stderr (no Python dicts, one line per epoch, counted right), none of
    # Keras' own epoch output on stdout, and the build names the command that comes next
    assert not any("{'" in line for line in lines), [line for line in lines if "{'" in line]
    assert not re.search(r"\b1 epochs\b", stderr)
    assert re.search(r"^train: \d+ real \+ \d+ spoof train and \d+ real \+ \d+ spoof dev crops", stderr, re.M)
    assert re.search(r"^train: epoch 1/1: loss [\d.]+, .*val_auc [\d.]+.* \(\d+ s\)$", stderr, re.M)
    assert re.search(r"^quantize: epoch 1/1: ", stderr, re.M)
    assert re.search(r"^contract: chose stem \d+, stages [\d/]+, \d+ blocks", stderr, re.M)
    assert lines[-1].startswith(f"next: antispoof export {small_build} --out DIR")
    assert "val_loss" not in (small_build / "build-stdout.txt").read_text()


@pytest.mark.shared
def test_predict_names_every_problem_and_counts_in_words(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    proc = run_cli("predict", SHIPPED, CROP, broken)
    assert proc.stderr.count(f"warning: {broken}: cannot decode image") == 1, proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("1 face in 1 frame: ")
    assert summary.endswith(f"; 1 problem: {broken}: cannot decode image")
    # nothing classified: the problems once, in the error alone
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((240, 320, 3), 90, np.uint8))
    (tmp_path / "empty").mkdir()
    for inputs, error in (([grey], f"Error: nothing to classify ({grey}: no face found)"),
                          ([tmp_path / "empty"], f"Error: nothing to classify ({tmp_path / 'empty'}: "
                                                 "no images or videos in the folder)")):
        proc = run_cli("predict", SHIPPED, *inputs, check=False)
        assert proc.returncode == 1 and proc.stderr.strip() == error, proc.stderr
    # --no-detect prints no detection time; boxes say what their numbers are
    out = run_cli("predict", SHIPPED, CROP, "--no-detect").stdout
    assert "detect " not in out and "at box x,y,w,h 0,0," in out


@pytest.mark.shared
def test_annotate_targets_are_checked_before_any_work(tmp_path):
    from antispoof.testing.nuaa import nuaa_frames, write_video

    proc = run_cli("predict", SHIPPED, CROP, "--annotate", tmp_path / "out.xyz", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"Error: {tmp_path / 'out.xyz'}: cannot write an image of type "
                                   "'.xyz': give a .jpg or .png path, or a folder")
    video = write_video(tmp_path / "clip.avi", nuaa_frames("ClientFace", "0005", 3))
    proc = run_cli("predict", SHIPPED, video, "--annotate", tmp_path / "x.jpg", check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"Error: {tmp_path / 'x.jpg'}: a video is annotated as a video: give a .mp4 path")
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.jpg").exists()
    run_cli("predict", SHIPPED, CROP, "--annotate", tmp_path / "out.png")
    assert cv2.imread(str(tmp_path / "out.png")) is not None


def test_each_model_file_gets_its_own_threshold(small_build, tmp_path):
    contract = json.loads((small_build / "model.json").read_text())
    thresholds = contract["thresholds"]
    assert thresholds["antispoof_int8.tflite"] == contract["threshold"]
    metrics = json.loads((small_build / "metrics.json").read_text())
    assert thresholds["model.keras"] == metrics["float"]["threshold"]
    for name in ("model.keras", "antispoof_int8.tflite"):
        out = tmp_path / f"{name}.json"
        proc = run_cli("predict", small_build / name, CROP, "--json", out)
        assert json.loads(out.read_text())["threshold"] == pytest.approx(thresholds[name])
        assert "deciding at" not in proc.stderr


@pytest.mark.shared
def test_predict_scores_face_crops_whole_with_no_detect(tmp_path):
    # a tight crop: the detector's 1.1x square leaves the image and fills with black
    tight = tmp_path / "tight.jpg"
    image = cv2.imread(str(CROP))
    height, width = image.shape[:2]
    cv2.imwrite(str(tight), image[height // 8:-height // 8, width // 8:-width // 8])
    out = tmp_path / "crop.json"
    run_cli("predict", SHIPPED, tight, "--no-detect", "--json", out)
    face = json.loads(out.read_text())["results"][0]["frames"][0]["faces"][0]
    h, w = cv2.imread(str(tight)).shape[:2]
    assert face["box"] == [0, 0, w, h] and face["detector_score"] is None
    classifier = TFLiteClassifier(SHIPPED)
    from antispoof.data.images import load_face_crop

    expected = classifier.predict(load_face_crop(tight, classifier.input_size)[None])[0]
    assert face["score"] == pytest.approx(float(expected), abs=1e-7)
    run_cli("predict", SHIPPED, CROP, "--crop-scale", 1.3, "--json", out)
    assert json.loads(out.read_text())["crop_scale"] == 1.3
    proc = run_cli("predict", SHIPPED, CROP, "--no-detect", "--crop-scale", 1.3, check=False)
    assert proc.returncode == 2 and "--crop-scale" in proc.stderr


def test_threads_and_missing_inputs_fail_fast(tmp_path):
    proc = run_cli("predict", SHIPPED, CROP, "--threads", 0, check=False)
    assert proc.returncode == 2 and "'--threads': 0 is not in the range x>=1" in proc.stderr
    start = time.perf_counter()
    proc = run_cli("predict", SHIPPED, tmp_path / "missing.jpg", check=False)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Error: nothing to classify ({tmp_path / 'missing.jpg'}: not found)")
    # reported before TensorFlow or MediaPipe load (each alone takes seconds here)
    assert "tensorflow" not in _imported_by("predict", SHIPPED, tmp_path / "missing.jpg")
    assert elapsed < 30


def _imported_by(command, *args, fails=True):
    """The modules a CLI run imported (python -X importtime; --verbose keeps its stderr)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "antispoof.cli", command,
                           "--verbose", *map(str, args)], capture_output=True, text=True, timeout=300)
    assert ("Error: " in proc.stderr) == fails and proc.returncode == (1 if fails else 0), proc.stderr[-2000:]
    return " ".join(line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                    if line.startswith("import time:"))


@pytest.mark.parametrize("command", ["predict", "predict-video", "bench", "evaluate", "info", "demo"])
def test_runtime_commands_never_import_tensorflow(command, tmp_path, small_data):
    """The commands that run a .tflite file (face detection included) load neither TensorFlow
    nor Keras: MediaPipe is imported without it, Keras only for a .keras file."""
    args = {"predict": [SHIPPED, CROP], "bench": [SHIPPED, "--runs", 5, "--warmup", 1],
            "evaluate": [SHIPPED, "--data", small_data], "info": [SHIPPED], "demo": [],
            "predict-video": [SHIPPED, _video(tmp_path)]}[command]
    imported = _imported_by(command.split("-")[0], *args, fails=False).split()
    assert "tensorflow" not in imported and "tf_keras" not in imported
    assert command not in ("predict", "predict-video") or "mediapipe.tasks" in imported  # it detected


def _video(tmp_path):
    from antispoof.testing.nuaa import nuaa_frames, write_video

    return write_video(tmp_path / "clip.mp4", nuaa_frames("ClientFace", "0005", 3))


@pytest.mark.system
def test_progress_bars_on_a_terminal_only(tmp_path, small_data):
    folder = make_subset(tmp_path / "crops", ["0010"], 4) / "real" / "0010"
    status, terminal, stdout = run_cli_on_terminal("predict", SHIPPED, folder)
    assert status == 0 and re.search(r"predict: +\d+%", terminal), terminal
    assert "4 faces in 4 frames" in stdout
    assert "predict:" not in run_cli("predict", SHIPPED, folder).stderr  # a pipe: no bar
    status, terminal, _ = run_cli_on_terminal("evaluate", SHIPPED, "--data", small_data)
    assert status == 0 and re.search(r"reading crops: +\d+%", terminal), terminal
    source = tmp_path / "nuaa"  # NUAA's layout, two crops per subject and class
    for folder in ("ClientFace", "ImposterFace"):
        for subject in ("0001", "0002", "0003"):
            (source / folder / subject).mkdir(parents=True)
            for f in sorted((NUAA / folder / subject).glob("*.jpg"))[:2]:
                (source / folder / subject / f.name).symlink_to(f)
    status, terminal, _ = run_cli_on_terminal("prepare", source, "--out", tmp_path / "prepared")
    assert status == 0 and re.search(r"prepare: +\d+%", terminal), terminal


@pytest.mark.system
def test_evaluate_scores_every_image_with_the_models_threshold(tmp_path, small_data):
    contract = json.loads(SHIPPED.with_name("model.json").read_text())
    # a protocol that puts every subject in test: there is no dev split
    subjects = FaceDataset(small_data).subjects
    protocol = tmp_path / "all-test.json"
    protocol.write_text(json.dumps({"name": "all-test", "classes": {"real": "real", "spoof": "spoof"},
                                    "splits": {"test": subjects, "dev": []}}))
    out, scores = tmp_path / "eval.json", tmp_path / "scores.csv"
    proc = run_cli("evaluate", SHIPPED, "--data", small_data, "--protocol", protocol, "--json", out,
                   "--scores", scores)
    result = json.loads(out.read_text())
    assert result["threshold"] == contract["threshold"]
    assert result["threshold_source"].startswith("model.json")
    assert "from model.json" in proc.stdout
    assert result["n_real"] + result["n_spoof"] == len(FaceDataset(small_data).samples)
    rows = list(csv.DictReader(scores.open()))
    assert list(rows[0]) == ["file", "label", "subject", "attack", "score"]
    assert len(rows) == result["n_real"] + result["n_spoof"]
    assert set(result["subjects"]) == set(subjects)
    for subject, figures in result["subjects"].items():
        mine = [r for r in rows if r["subject"] == subject]
        spoof = [float(r["score"]) for r in mine if r["label"] == "spoof"]
        assert figures["n_spoof"] == len(spoof)
        assert figures["apcer"] == pytest.approx(np.mean(np.array(spoof) < result["threshold"]),
                                                 abs=1e-9)

    # without a protocol: --split all scores every image; a seeded split is announced
    bare = make_subset(tmp_path / "bare", ["0001", "0002", "0003", "0004"], 3)
    (bare / "protocol.json").unlink(missing_ok=True)
    run_cli("evaluate", SHIPPED, "--data", bare, "--split", "all", "--json", out)
    assert json.loads(out.read_text())["n_real"] == 12
    proc = run_cli("evaluate", SHIPPED, "--data", bare)
    assert "has no protocol.json: the test split is a seeded choice of subjects" in proc.stderr
    # --split all with no threshold anywhere is refused in one line
    loose = tmp_path / "loose.tflite"
    loose.write_bytes(SHIPPED.read_bytes())
    proc = run_cli("evaluate", loose, "--data", bare, "--split", "all", check=False)
    assert proc.returncode == 1 and "--split all" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("layout", ["empty", "real-only"])
def test_build_checks_the_data_before_any_work(layout, tmp_path, small_data):
    data = tmp_path / "data"
    data.mkdir()
    if layout == "real-only":
        (data / "real").symlink_to(small_data / "real")
    out = tmp_path / "run"
    start = time.perf_counter()
    proc = run_cli("build", "--data", data, "--weights", WEIGHTS_035, "--out", out, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "not found" in proc.stderr
    assert not out.exists() or not any(out.iterdir())  # no backbone.keras left behind
    assert time.perf_counter() - start < 30  # before contraction (35 s here)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, small_data, small_build):
    """A --limit 40 build from the small build's backbone, on the small data as if prepared at
    crop scale 1.3: (run folder, what the build wrote on stderr)."""
    root = tmp_path_factory.mktemp("quick")
    data = root / "prepared"
    data.mkdir()
    for label in ("real", "spoof"):
        (data / label).symlink_to(small_data / label)
    (data / "prepare.json").write_text(json.dumps({"options": {"crop_scale": 1.3}}))
    out = root / "quick"
    proc = run_cli("build", "--data", data, "--weights", WEIGHTS_035, "--init",
                   small_build / "backbone.keras", "--budget-kb", 0, "--epochs", 1,
                   "--qat-epochs", 1, "--limit", 40, "--out", out)
    return out, proc.stderr


def test_limit_reaches_qat_and_the_final_evaluation(quick_run, tmp_path):
    """Also: the crop scale the data was prepared with (prepare.json) reaches model.json, and
    export carries it to the app's model.json and the MediaPipe metadata."""
    out, stderr = quick_run
    metrics = json.loads((out / "metrics.json").read_text())
    for model in ("float", "int8"):
        assert metrics[model]["n_real"] + metrics[model]["n_spoof"] == 40
    assert ("quantize: quantization-aware training on 40 train (balance size, as training) and 40 "
            "dev crops") in stderr
    assert json.loads((out / "model.json").read_text())["crop_scale"] == 1.3
    run_cli("export", out, "--out", tmp_path / "app")
    assert json.loads((tmp_path / "app" / "model.json").read_text())["crop_scale"] == 1.3
    assert "1.3× the face detector's box" in (tmp_path / "app" / "MODEL_CARD.md").read_text()


def test_a_run_is_scored_once(quick_run, tmp_path):
    """`report` gives the build's figures on the build's (limited) crops, and a peer in the
    model card is scored on exactly those crops."""
    from antispoof.evaluation.evaluate import assess_run
    from antispoof.evaluation.report import report  # what `antispoof report RUN` calls
    from antispoof.runtime.interpreter import open_classifier

    out, _ = quick_run
    int8 = json.loads((out / "metrics.json").read_text())["int8"]
    page = report(out, tmp_path / "again.html")
    text = (tmp_path / "again.html").read_text()
    assert str(page) == str(tmp_path / "again.html")
    assert f"test split {int8['n_real']} real and {int8['n_spoof']} spoof crops" in text
    assert f"<td>{int8['auc']:.4f}</td>" in text
    config = json.loads((out / "config.json").read_text())
    peer, _ = assess_run(open_classifier(PEER), config, resamples=0)
    assert peer["n_real"] + peer["n_spoof"] == 40


# a proxy on a closed loopback port: a download fails at once, and nothing leaves the machine
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


@pytest.mark.shared
def test_imagenet_weights_are_resolved_before_any_work(tmp_path, monkeypatch):
    """--weights imagenet (the default) offline: one line naming the file to fetch and
    --weights PATH, before any work; a file in Keras's cache is used without a download."""
    from antispoof.models.weights import imagenet_file, resolve_weights

    env = {**os.environ, **OFFLINE, "HOME": str(tmp_path)}
    start = time.perf_counter()
    proc = subprocess.run([str(ANTISPOOF), "build", "--data", NUAA, "--out", tmp_path / "run"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert time.perf_counter() - start < 60 and proc.returncode == 1, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    name, origin, _ = imagenet_file("mobilenetv2", 1.0)
    assert line.startswith(f"Error: the ImageNet weights {name} are not in {tmp_path}/.keras/models")
    assert line.endswith(f"fetch {origin} and give its path with --weights PATH")
    assert not (tmp_path / "run").exists()

    cached = tmp_path / ".keras" / "models" / name
    cached.parent.mkdir(parents=True, exist_ok=True)  # Keras made it on the failed download
    cached.symlink_to(WEIGHTS_100)
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    assert resolve_weights("imagenet", "mobilenetv2", 1.0, cache_dir=tmp_path / ".keras") == str(cached)
    assert resolve_weights(str(WEIGHTS_035), "mobilenetv2", 0.35) == str(WEIGHTS_035)


@pytest.mark.shared
def test_messages_say_what_is_wrong(tmp_path):
    """A file given as --data, a missing weights file, and one video given to prepare."""
    proc = run_cli("evaluate", SHIPPED, "--data", CROP, check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"Error: {CROP}: a file, not a dataset folder (real/ and spoof/ per subject, or a "
        "protocol.json layout)")
    proc = run_cli("contract", "--weights", tmp_path / "missing.h5", "--width", 0.35,
                   "--out", tmp_path / "b.keras", check=False)
    assert proc.returncode != 0 and f"{tmp_path / 'missing.h5'}" in proc.stderr
    assert "not a Keras MobileNetV2" not in proc.stderr and "Traceback" not in proc.stderr

    from antispoof.testing.nuaa import nuaa_frames, write_video

    video = write_video(tmp_path / "one.mp4", nuaa_frames("ImposterFace", "0005", 4))
    proc = run_cli("prepare", video, "--out", tmp_path / "one", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        f"Error: {video}: a single video or image needs --label real or spoof")
    out = run_cli("prepare", video, "--out", tmp_path / "one", "--label", "spoof").stdout
    assert out.startswith("4 crops from 4 frames of 1 source (format file;")
    assert len(list((tmp_path / "one" / "spoof" / "one").glob("*.jpg"))) == 4
