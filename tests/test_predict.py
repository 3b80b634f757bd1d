"""predict on real images and videos with the real detector and LiteRT; export loaded by the real
MediaPipe Tasks ImageClassifier."""
import json

import cv2
import numpy as np
import pytest

from antispoof.data.datasets import FaceDataset, load_images

from antispoof.data.stream import tf_dataset
from antispoof.evaluation.evaluate import Scored
from antispoof.data.faces import crop_face
from antispoof.data.images import load_face_crop
from antispoof.runtime.interpreter import TFLiteClassifier
from antispoof.testing.nuaa import nuaa_frames, write_video
from conftest import NUAA, REPO, SHARED, run_cli

SHIPPED = REPO / "models" / "antispoof_int8.tflite"


def test_training_evaluation_and_prediction_see_the_same_tensor(small_data):
    dataset = FaceDataset(small_data)
    sample = dataset.split("test")[0]
    train_tensor = next(iter(tf_dataset(load_images([sample], 96), 1, training=False)))[0][0].numpy()

    class Recorder:  # a classifier that keeps what evaluation feeds it
        input_size = 96

        def predict(self, pixels):
            self.pixels = pixels
            return np.zeros(len(pixels))

    recorder = Recorder()
    Scored(recorder, dataset, "test")
    evaluate_tensor = recorder.pixels[[s.path for s in dataset.split("test")].index(sample.path)]
    # prediction crops the detector's box out of a frame; over the whole (square) crop it is
    # the same resampling
    rgb = cv2.cvtColor(cv2.imread(sample.path), cv2.COLOR_BGR2RGB)
    predict_tensor = crop_face(rgb, (0, 0, rgb.shape[1], rgb.shape[0]), 96, 1.0)
    assert np.array_equal(train_tensor, evaluate_tensor.astype(np.float32))
    assert np.array_equal(evaluate_tensor, predict_tensor)
    assert np.array_equal(load_face_crop(sample.path, 96), predict_tensor)


@pytest.mark.shared
def test_predict_finds_and_labels_faces_in_a_video(tmp_path):
    video = write_video(tmp_path / "clip.mp4", nuaa_frames("ImposterFace", "0005", 8)
                        + nuaa_frames("ClientFace", "0005", 8))
    out = tmp_path / "result.json"
    run_cli("predict", video, "--json", out, "--annotate", tmp_path / "annotated.mp4", "--smooth", 0.5)
    result = json.loads(out.read_text())
    assert result["runtime"].startswith("litert") and result["model"].endswith("antispoof_int8.tflite")
    frames = result["results"][0]["frames"]
    assert len(frames) == 16 and all(len(f["faces"]) == 1 for f in frames)
    labels = [f["faces"][0]["label"] for f in frames]
    # NUAA test subject 0005: its photographs first, then the live face (smoothing lags a frame)
    assert labels[:8].count("spoof") >= 7 and labels[9:].count("real") >= 6
    assert all(f["detect_ms"] > 0 and f["classify_ms"] > 0 for f in frames)
    capture = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 16


@pytest.mark.system
def test_predict_bad_inputs(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((240, 320, 3), 90, np.uint8))
    result = run_cli("predict", SHIPPED, grey, check=False)
    assert result.returncode == 1 and f"Error: nothing to classify ({grey}: no face found)" in result.stderr

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    face = sorted((NUAA / "ClientFace" / "0010").glob("*.jpg"))[0]
    cv2.imwrite(str(mixed / "face.jpg"), cv2.copyMakeBorder(cv2.imread(str(face)), 80, 80, 80, 80,
                                                             cv2.BORDER_CONSTANT, value=(90, 90, 90)))
    (mixed / "notes.txt").write_text("not an image")
    (mixed / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    result = run_cli("predict", mixed, "--json", tmp_path / "mixed.json")
    summary = json.loads((tmp_path / "mixed.json").read_text())
    assert summary["faces"] == 1 and summary["real"] == 1
    assert {p["problem"] for p in summary["problems"]} == {"not an image or video: skipped",
                                                          "cannot decode image"}

    result = run_cli("predict", "--camera", 97, check=False)
    assert result.returncode == 1 and "camera cannot be opened" in result.stderr
    result = run_cli("predict", tmp_path / "missing.jpg", check=False)
    assert result.returncode == 1 and "missing.jpg: not found" in result.stderr


@pytest.mark.shared
def test_a_first_argument_that_is_a_model_file_is_the_model(tmp_path):
    """By suffix (the peer's .onnx) or by content (a TFLite file named otherwise); a model the
    runtime cannot load is one error line; no model.json beside it is said as such."""
    crop = NUAA / "ClientFace" / "0010" / "0010_01_05_03_115.jpg"
    peer = SHARED / "weights" / "silentface" / "minifasnetv2_scale2.7_80x80.onnx"
    proc = run_cli("predict", peer, crop, "--json", tmp_path / "peer.json")
    result = json.loads((tmp_path / "peer.json").read_text())
    assert result["runtime"].startswith("onnxruntime") and result["faces"] == 1
    assert "skipped" not in proc.stderr and "not an image" not in proc.stderr
    assert f"warning: {peer}: no model.json beside it; deciding at 0.5" in proc.stderr

    renamed = tmp_path / "model.bin"
    renamed.write_bytes(SHIPPED.read_bytes())
    run_cli("predict", renamed, crop, "--json", tmp_path / "renamed.json")
    assert json.loads((tmp_path / "renamed.json").read_text())["runtime"].startswith("litert")

    broken = tmp_path / "broken.onnx"
    broken.write_text("not a model")
    proc = run_cli("predict", broken, crop, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"Error: {broken}: cannot load ONNX model")


def test_export_loads_in_mediapipe_image_classifier(small_build, tmp_path):
    out = tmp_path / "export"
    run_cli("export", small_build, "--out", out)
    assert (out / "labels.txt").read_text().split() == ["real", "spoof"]
    contract = json.loads((out / "model.json").read_text())
    assert contract["crop_scale"] == 1.1 and contract["mediapipe_model"] == "antispoof_mediapipe.tflite"
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Intended use" in card and "## Limits" in card and f"{contract['threshold']:.4f}" in card
    assert "- Data: `/" not in card  # the builder's absolute paths stay out of a shipped card
    assert_card_stands_alone(card)

    assert_mediapipe_matches(out / "antispoof_mediapipe.tflite", out / "antispoof_int8.tflite")
    page = json.loads((out / "web" / "model" / "model.json").read_text())  # the page's own contract
    assert (out / "web" / "index.html").is_file() and (out / "web" / "model" / page["model"]).is_file()
    assert page["threshold"] == contract["threshold"] and page["input"]["dtype"] == "uint8"


def assert_card_stands_alone(card):
    """A card travels with the model: no link into this repository, no path of the builder's."""
    import re

    assert not re.search(r"`[^`]*\.md`|\]\((?!https?://)[^)]*\)", card), "a link into the repository"
    assert "../" not in card and "/shared/" not in card, "a path of the builder's machine"


def test_the_shipped_model_card_stands_alone():
    assert_card_stands_alone(SHIPPED.with_name("MODEL_CARD.md").read_text())


@pytest.mark.shared
def test_shipped_mediapipe_variant_matches_the_shipped_model():
    scores = assert_mediapipe_matches(SHIPPED.with_name("antispoof_mediapipe.tflite"), SHIPPED)
    assert {float(s) >= 0.5 for s in scores} == {False, True}  # both classes were exercised


def assert_mediapipe_matches(mediapipe_model, int8_model):
    """MediaPipe Tasks' ImageClassifier loads the variant; its [real, spoof] scores are the int8
    model's P(spoof) and 1 − P(spoof), to one output step, on real NUAA crops."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    classifier = TFLiteClassifier(int8_model)
    crops = [p for folder in ("ClientFace", "ImposterFace")
             for p in sorted((NUAA / folder / "0010").glob("*.jpg"))[:6]]
    pixels = np.stack([load_face_crop(p, classifier.input_size) for p in crops])
    scores = classifier.predict(pixels)
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(mediapipe_model)))
    with vision.ImageClassifier.create_from_options(options) as mediapipe:
        for crop, score in zip(pixels, scores):
            result = mediapipe.classify(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                 data=np.ascontiguousarray(crop)))
            got = {c.category_name: c.score for c in result.classifications[0].categories}
            assert got["spoof"] == pytest.approx(score, abs=1 / 256 + 1e-6)
            assert got["real"] == pytest.approx(1 - score, abs=2 / 256 + 1e-6)
    return scores
