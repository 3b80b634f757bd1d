"""The liveness web page (toolkit/web) in real headless Chromium: its camera a clip of webcam-multi
and NUAA test crops played by Chromium's fake capture device, its results against `antispoof
predict` on the very pixels the page decoded; its crop against OpenCV's in Node; its one-line
errors; the folder served by Python's plain http.server, with nothing fetched off 127.0.0.1.

How close the page and predict must be: both run BlazeFace short range through MediaPipe Tasks
0.10.21 (its wasm build and its Python wheel) on the same RGB pixels, crop with the same
arithmetic (crop.js is OpenCV's INTER_AREA in float32, bit-exact: the Node test) and run the
same int8 graph (the page its uint8 wrapper, whose requantizations are exact). What is left is
the int8 kernels of two XNNPACK builds (WebAssembly and x86), whose requantization may round
differently: one output step, 1/256 of P(spoof). So: the same box, P(spoof) within one step, the
same call on every frame whose P(spoof) is not within one step of the threshold.
"""
import base64
import csv
import json
import re
import subprocess

import cv2
import numpy as np
import pytest

from antispoof.core.model_contract import ModelContract, Quantization
from antispoof.core.shipped import DEFAULT_MODEL, SHIPPED
from antispoof.data.faces import crop_face
from antispoof.testing import browser
from antispoof.testing.checkout import NUAA, REPO, SHARED

pytestmark = pytest.mark.system

OUTPUT_STEP = 1 / 256  # the int8 output's scale (model.json), one quantization step of P(spoof)
FPS, HOLD = 10, 5  # the clip: each crop held half a second
ARTIFACTS = REPO / "test-artifacts"
WEBCAM = SHARED / "data" / "webcam-multi"
# the page's pixels and its result in one step, so that they belong together
GRAB = """() => {
  const frame = antispoof.frames.at(-1), image = antispoof.lastImage, bytes = image.data;
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  return {frame, width: image.width, height: image.height, pixels: btoa(text)};
}"""


@pytest.fixture(scope="module")
def shipped_page(tmp_path_factory):
    """`antispoof web --out DIR`: the shipped model's page, made as a user makes it."""
    from conftest import run_cli

    out = tmp_path_factory.mktemp("web") / "page"
    proc = run_cli("web", "--out", out)
    assert proc.stdout.strip() == f"{out}/ (antispoof serve {out})"
    return out


def _test_crops():
    """Face crops of held-out sources: webcam-multi v2 test (live faces and screen replays, every
    source) and NUAA test (live faces and printed photos), in a fixed shuffled order."""
    test_sources = set(json.loads((WEBCAM / "protocol.json").read_text())["splits"]["test"])
    rows = [r for r in csv.DictReader(open(WEBCAM / "manifest.csv")) if r["subject"] in test_sources]
    files = [WEBCAM / r["file"] for r in rows[::97]]
    for folder in ("ClientFace", "ImposterFace"):
        for subject in ("0005", "0010", "0015"):
            files += sorted((NUAA / folder / subject).glob("*.jpg"))[::50][:3]
    order = np.random.default_rng(0).permutation(len(files))
    return [files[i] for i in order]


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory):
    """A y4m clip of 20 frames, each a test crop in which BlazeFace finds a face (as predict
    runs it), at a place of its own; and each frame's file."""
    from antispoof.data.faces import FaceDetector

    frames, files = [], []
    with FaceDetector() as detector:
        for path in _test_crops():
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            frame = browser.clip_frame(rgb, len(frames))
            if detector.detect(browser.decoded(frame)):
                frames.append(frame)
                files.append(path)
            if len(frames) == len(browser.PLACES):
                break
    assert len(frames) == len(browser.PLACES)
    assert any("webcam-multi/spoof" in str(f) for f in files) and any("ImposterFace" in str(f) for f in files)
    clip = browser.write_y4m(tmp_path_factory.mktemp("clip") / "camera.y4m", frames, FPS, HOLD)
    return clip, frames, files


def test_the_page_crops_as_opencv_does(tmp_path):
    """crop.js against crop_face (OpenCV) in Node: bit-exact when shrinking (INTER_AREA, also
    with a whole factor of 2 or 3) and when enlarging (OpenCV's fixed-point INTER_LINEAR); boxes
    with odd sides (halves rounded to even) and boxes over the edge."""
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), np.uint8), (5, 5), 0)
    boxes = [[int(v) for v in (rng.integers(-40, 300), rng.integers(-40, 220), s, s + rng.integers(-9, 9))]
             for s in rng.integers(20, 200, 60)] + [[10, 10, 131, 131], [30, 20, 196, 196], [101, 51, 33, 35]]
    rgba = np.concatenate([frame, np.full((*frame.shape[:2], 1), 255, np.uint8)], axis=2)
    (tmp_path / "frame.rgba").write_bytes(rgba.tobytes())
    job = {"frame": str(tmp_path / "frame.rgba"), "width": 320, "height": 240, "size": 72, "scale": 1.1,
           "boxes": boxes}
    (tmp_path / "job.json").write_text(json.dumps(job))
    subprocess.run(["node", REPO / "tests" / "web_crop.mjs", tmp_path / "job.json", tmp_path / "crops"],
                   check=True)
    crops = np.frombuffer((tmp_path / "crops").read_bytes(), np.uint8).reshape(len(boxes), 72, 72, 3)
    shrunk = 0
    for box, crop in zip(boxes, crops):
        expected = crop_face(frame, tuple(box), 72, 1.1)
        side = max(1, round(1.1 * max(box[2], box[3])))
        difference = np.abs(crop.astype(int) - expected).max()
        assert difference == 0, (box, side, difference)
        shrunk += side > 72
    assert 30 <= shrunk < len(boxes)  # most boxes exercise INTER_AREA, some INTER_LINEAR


@pytest.mark.shared
def test_the_page_on_a_camera_scores_as_predict_does(shipped_page, camera_clip, tmp_path):
    """The exported folder on Python's plain http.server (the README's one-liner), Chromium's
    camera playing the clip: every result the page shows for the largest face agrees with
    `antispoof predict` on the pixels the page decoded; the pixels are the clip's (within the
    rounding of two I420 → RGB conversions); nothing is requested off 127.0.0.1."""
    from antispoof.runtime.predict import PredictOptions, predict

    clip, frames, _ = camera_clip
    with browser.served(shipped_page, isolated=False) as url, browser.chromium(camera=clip) as chromium:
        page = browser.open_page(chromium, url + "?smooth=0")
        assert page.evaluate("window.antispoof.state") == "ready", page.evaluate("window.antispoof.error")
        browser.page_frames(page, 1)
        grabs, places = [], set()
        for _ in range(len(browser.PLACES) * 4):  # until every place was seen, or 20 s
            grab = page.evaluate(GRAB)
            if grab["frame"]["faces"]:
                grabs.append(grab)
                places.add(browser.place_of(grab["frame"]["faces"][0]["box"]))
            if len(places) == len(browser.PLACES):
                break
            page.wait_for_timeout(1000 * HOLD / FPS / 2)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "web_page_camera.png")
        label = page.inner_text("#label")
        requested = set(page.requested)
    assert len(places) >= 15, f"the page showed {len(places)} of {len(browser.PLACES)} crops"
    assert {u.split("/")[2].split(":")[0] for u in requested} == {"127.0.0.1"}, requested
    assert re.fullmatch(r"(real|spoof)\s+P\(spoof\) \d\.\d{3}", label), label

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, grab in enumerate(grabs):  # the page's pixels, losslessly
        rgba = np.frombuffer(base64.b64decode(grab["pixels"]), np.uint8)
        rgb = rgba.reshape(grab["height"], grab["width"], 4)[..., :3]
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        clip_rgb = browser.decoded(frames[browser.place_of(grab["frame"]["faces"][0]["box"])])
        difference = np.abs(rgb.astype(int) - clip_rgb)
        assert difference.max() <= 2 and difference.mean() < 0.05  # the clip's frame, as decoded
    result = predict(DEFAULT_MODEL, [folder], PredictOptions())
    threshold = result["threshold"]
    for grab, expected in zip(grabs, result["results"]):
        (shown, *_), (scored, *_) = grab["frame"]["faces"], expected["frames"][0]["faces"]
        assert shown["box"] == scored["box"]
        assert abs(shown["score"] - scored["score"]) <= OUTPUT_STEP, (shown, scored)
        if abs(scored["score"] - threshold) > OUTPUT_STEP:
            assert shown["label"] == scored["label"]


@pytest.mark.shared
def test_the_page_smooths_and_draws_its_decision(shipped_page, camera_clip):
    """Smoothing as `predict --smooth 0.6`: the page's shown P(spoof) is the exponential average
    of its per-frame P(spoof), restarted after a frame without a face; the screenshot shows the
    box in the label's colour around the face (kept in test-artifacts/)."""
    clip, _, _ = camera_clip
    with browser.served(shipped_page) as url, browser.chromium(camera=clip) as chromium:
        page = browser.open_page(chromium, url + "?smooth=0.6")
        frames = browser.page_frames(page, 30)
        page.evaluate("window.antispoof.token = null")  # stops the loop: the drawing stays
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "web_page.png"
        page.locator("#view").screenshot(path=shot)
        last = page.evaluate("window.antispoof.frames.at(-1)")
        scale = page.evaluate("document.getElementById('view').getBoundingClientRect().width / "
                              "document.getElementById('view').width")
    previous = None
    for frame in frames:
        face = frame["faces"][0] if frame["faces"] else None
        if face is not None:
            expected = face["score"] if previous is None else 0.6 * previous + 0.4 * face["score"]
            assert face["smoothed"] == pytest.approx(expected, abs=1e-9)
        previous = face and face["smoothed"]
    assert any(f["faces"][0]["smoothed"] != f["faces"][0]["score"] for f in frames if f["faces"])

    (face, *_) = last["faces"]
    colour = (0x35, 0x39, 0xe5) if face["label"] == "spoof" else (0x47, 0xa0, 0x43)  # BGR
    painted = np.abs(cv2.imread(str(shot)).astype(int) - colour).sum(axis=2) < 60
    x, y, w, h = (round(v * scale) for v in face["box"])
    assert painted[max(0, y - 3):y + 4, x:x + w].any(axis=0).mean() > 0.8  # top edge
    assert painted[y:y + h, max(0, x - 3):x + 4].any(axis=1).mean() > 0.8  # left edge


@pytest.mark.shared
def test_the_page_takes_a_photo_or_a_video_file(shipped_page, camera_clip, tmp_path):
    """Without a camera the file input takes a photo, scored as predict scores the same file
    (lossless pixels: the same box, P(spoof) within one step), or a video, played frame by
    frame; a file that is no image is one visible line."""
    from antispoof.runtime.predict import PredictOptions, predict

    _, frames, _ = camera_clip
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    video = tmp_path / "faces.webm"  # VP8, which Chromium plays
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"VP80"), FPS, browser.FRAME[::-1])
    for frame in frames[:8]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    with browser.served(shipped_page) as url, browser.chromium() as chromium:
        page = browser.open_page(chromium, url + "?camera=0")
        page.set_input_files("#file", photo)
        page.wait_for_function("window.antispoof.frames.length === 1")
        (shown, *_) = page.evaluate("window.antispoof.frames[0].faces")
        page.set_input_files("#file", video)
        played = browser.page_frames(page, 6)
        page.set_input_files("#file", broken)
        page.wait_for_function("document.getElementById('status').className === 'error'")
        line = page.inner_text("#status")
    (scored, *_) = predict(DEFAULT_MODEL, [photo], PredictOptions())["results"][0]["frames"][0]["faces"]
    assert shown["box"] == scored["box"] and abs(shown["score"] - scored["score"]) <= OUTPUT_STEP
    assert shown["smoothed"] == shown["score"]  # a photo is not smoothed with what came before
    assert len({browser.place_of(f["faces"][0]["box"]) for f in played[1:] if f["faces"]}) >= 2
    assert line == "broken.jpg: cannot decode this image."


def _channels_first_model(folder):
    """A float32 model that takes [1, 3, 72, 72] (channels first), with its model.json."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 3, 72, 72], tf.float32)])
    def score(image):
        return tf.sigmoid(tf.reduce_mean(image, axis=[1, 2, 3], keepdims=False)[:, None] / 255.0)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([score.get_concrete_function()], score)
    folder.mkdir(parents=True)
    (folder / "channels_first.tflite").write_bytes(converter.convert())
    pixels = Quantization("float32", 1.0, 0, "RGB pixels 0..255")
    ModelContract(model="channels_first.tflite", input_size=72, input=pixels,
                  output=Quantization("float32", 1.0, 0, "P(spoof)"), threshold=0.5).write(folder)
    return folder / "model.json"


def test_the_page_says_in_one_line_what_it_cannot_use(shipped_page, tmp_path):
    """A channels-first model, and a browser without a camera: one visible line each."""
    from conftest import run_cli

    contract = _channels_first_model(tmp_path / "model")
    run_cli("web", "--model", contract, "--out", tmp_path / "page")
    with browser.chromium() as chromium:
        with browser.served(tmp_path / "page") as url:
            page = browser.open_page(chromium, url)
            assert page.evaluate("window.antispoof.state") == "error"
            assert page.inner_text("#status") == ("channels_first.tflite: channels-first input "
                                                  "[1, 3, 72, 72]; the page feeds [1, height, width, 3] (NHWC)")
            assert page.get_attribute("#status", "class") == "error"
        with browser.served(shipped_page) as url:
            page = browser.open_page(chromium, url)
            page.wait_for_function("document.getElementById('status').className === 'error'")
            line = page.inner_text("#status")
    assert line.startswith("No camera (NotFoundError") and line.endswith("choose a photo or video below.")
    assert "\n" not in line


def test_export_writes_the_page_and_serve_isolates_it(shipped_page, tmp_path):
    """`antispoof serve` sends the headers that let the page use threads; a missing folder or a
    folder without a page is one line."""
    import urllib.request

    from conftest import run_cli

    with browser.served(shipped_page) as url:
        with urllib.request.urlopen(url + "model/model.json") as response:
            headers, contract = response.headers, json.loads(response.read())
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert contract["model"] == SHIPPED.MEDIAPIPE and contract["input"]["dtype"] == "uint8"
    assert (shipped_page / "model" / contract["model"]).stat().st_size == contract["size_bytes"]
    (tmp_path / "notes.txt").write_text("mine")
    proc = run_cli("web", "--out", tmp_path, check=False)
    assert proc.returncode == 1 and (tmp_path / "notes.txt").read_text() == "mine"
    assert proc.stderr.strip() == f"Error: {tmp_path}: a folder with other files; the page replaces its " \
                                  "folder whole, so give a new or empty one"
    proc = run_cli("serve", tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"Error: {tmp_path}: no index.html (make the page with `antispoof web` " \
                                  "or `antispoof export`)"
