"""Classify faces in images, videos or a camera: BlazeFace finds them, each is cropped as in
data preparation and scored by the model; optional annotated output and temporal smoothing.
"""
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tqdm.contrib.logging import logging_redirect_tqdm

from antispoof.core.console import progress
from antispoof.core.model_contract import contract_crop_scale, decision_threshold
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.data.faces import FaceDetector, crop_face
from antispoof.data.images import IMAGE_SUFFIXES, read_image, to_model_input
from antispoof.data.sources import VIDEO_SUFFIXES
from antispoof.runtime.interpreter import open_classifier

log = logging.getLogger("antispoof")


@dataclass(frozen=True)
class PredictOptions:
    threshold: float = None  # None: the one model.json records for the model file, else 0.5
    threads: int = 1
    smoothing: float = 0.0  # weight of the past in an exponential average over video frames
    max_frames: int = 0  # 0: all (a camera runs until interrupted)
    annotate: str = None  # output image, folder or video with boxes and labels drawn
    detect: bool = True  # False: each input image already is a face crop (scored whole)
    crop_scale: float = None  # crop side over the face box's; None: model.json's, else 1.1


class Predictor:
    """Detector + classifier over RGB frames."""

    def __init__(self, model=DEFAULT_MODEL, threshold=None, threads=1, detect=True, crop_scale=None):
        self.classifier = open_classifier(model, threads)
        self.threshold = decision_threshold(model, threshold, warn=log.warning)
        self.crop_scale = crop_scale or contract_crop_scale(model)
        self.detector = FaceDetector() if detect else None

    def frame(self, rgb):
        """Every face in the frame: box, score, label; and the detection/classification times.
        Without a detector the frame is the face crop."""
        start = time.perf_counter()
        size = self.classifier.input_size
        if self.detector is None:
            faces, crops = [_WholeFrame((0, 0, rgb.shape[1], rgb.shape[0]))], [to_model_input(rgb, size)]
        else:
            faces = self.detector.detect(rgb)
            crops = [crop_face(rgb, f.box, size, self.crop_scale) for f in faces]
        detected = time.perf_counter()
        scores = self.classifier.predict(np.stack(crops)) if faces else []
        done = time.perf_counter()
        return {"faces": [{"box": list(f.box), "detector_score": f.score and round(f.score, 3),
                           "score": float(s), "label": self.label(s)}
                          for f, s in zip(faces, scores)],
                "detect_ms": 1000 * (detected - start), "classify_ms": 1000 * (done - detected)}

    def label(self, score):
        return "spoof" if score >= self.threshold else "real"


@dataclass(frozen=True)
class _WholeFrame:
    box: tuple
    score: float = None


def predict(model, inputs, options=PredictOptions(), camera=None):
    """Results for image files, folders (their images and videos), video files or a camera."""
    files, problems = _expand(inputs)
    if not files and camera is None:
        raise AntispoofError("nothing to classify (" + "; ".join(f"{p['input']}: {p['problem']}"
                                                                for p in problems) + ")")
    targets = _annotation_targets(files, options.annotate, camera)
    predictor = Predictor(model, options.threshold, options.threads, options.detect,
                          options.crop_scale)
    results = []
    if camera is not None:
        results.append(_stream(predictor, cv2.VideoCapture(camera), f"camera {camera}", options,
                               targets.get(None), camera=True))
        if results[-1].get("problem"):
            problems.append({"input": f"camera {camera}", "problem": results[-1]["problem"]})
    with logging_redirect_tqdm():  # the root logger's handler, which prints ours
        for path in progress(files, desc="predict", unit="file", enabled=len(files) > 1):
            if path.suffix.lower() in VIDEO_SUFFIXES:
                result = _stream(predictor, cv2.VideoCapture(str(path)), str(path), options,
                                 targets.get(path))
            else:
                result = _image(predictor, path, targets.get(path))
            if result.get("problem"):
                problems.append({"input": str(path), "problem": result["problem"]})
            results.append(result)
    frames = [f for r in results for f in r.get("frames", [])]
    faces = [face for f in frames for face in f["faces"]]
    summary = {
        "model": str(model), "runtime": predictor.classifier.runtime, "threads": options.threads,
        "threshold": predictor.threshold, "crop_scale": predictor.crop_scale,
        "inputs": len(results), "frames": len(frames), "faces": len(faces),
        "real": sum(f["label"] == "real" for f in faces), "spoof": sum(f["label"] == "spoof" for f in faces),
        "frames_without_face": sum(not f["faces"] for f in frames),
        "detect_ms_p50": _median([f["detect_ms"] for f in frames]),
        "classify_ms_p50": _median([f["classify_ms"] for f in frames if f["faces"]]),
        "problems": problems, "results": results,
    }
    if not faces:  # the problems once, in the error
        what = "; ".join(f"{p['input']}: {p['problem']}" for p in problems) or "no face found"
        raise AntispoofError(f"nothing to classify ({what})")
    for problem in problems:  # once each, after the work (the summary line counts them)
        log.warning("warning: %s: %s", problem["input"], problem["problem"])
    return summary


def _annotation_targets(files, annotate, camera):
    """Where ``--annotate`` writes each input's drawing ({path or None for the camera: target}),
    checked before any work: one image → an image file of a type OpenCV writes; one video or
    the camera → an .mp4 file; several inputs or an existing folder → that folder."""
    if not annotate:
        return {}
    annotate = Path(annotate)
    inputs = files + ([None] if camera is not None else [])
    if len(inputs) > 1 or annotate.is_dir():
        if annotate.exists() and not annotate.is_dir():
            raise AntispoofError(f"{annotate}: --annotate for several inputs takes a folder, and "
                                 "this is a file")
        return {path: annotate / ("camera.mp4" if path is None else path.name if
                                  path.suffix.lower() not in VIDEO_SUFFIXES else f"{path.stem}.mp4")
                for path in inputs}
    (only,) = inputs
    if only is None or only.suffix.lower() in VIDEO_SUFFIXES:
        if annotate.suffix.lower() != ".mp4":
            raise AntispoofError(f"{annotate}: a video is annotated as a video: give a .mp4 path")
    elif not annotate.suffix or not cv2.haveImageWriter(str(annotate)):
        raise AntispoofError(f"{annotate}: cannot write an image of type "
                             f"'{annotate.suffix or '(none)'}': give a .jpg or .png path, or a folder")
    return {only: annotate}


def _median(values):
    return float(np.median(values)) if values else None


def _expand(inputs):
    """Image and video files of the inputs (folders: their media files, sorted); problems."""
    files, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            media = sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
            others = sorted(p for p in item.rglob("*") if p.is_file() and p not in media)
            problems += [{"input": str(p), "problem": "not an image or video: skipped"} for p in others]
            if not media:
                problems.append({"input": str(item), "problem": "no images or videos in the folder"})
            files += media
        elif item.is_file():
            files.append(item)
        else:
            problems.append({"input": str(item), "problem": "not found"})
    return files, problems


def _image(predictor, path, annotate):
    bgr = read_image(path)
    if bgr is None:
        return {"input": str(path), "problem": "cannot decode image"}
    frame = predictor.frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if annotate:
        ok, encoded = cv2.imencode(annotate.suffix, draw(bgr, frame["faces"]))
        with atomic_path(annotate) as tmp:
            tmp.write_bytes(encoded.tobytes())
    result = {"input": str(path), "frames": [{"frame": 0, **frame}]}
    return result if frame["faces"] else {**result, "problem": "no face found"}


def _stream(predictor, capture, name, options, annotate, camera=False):
    """Frames of a video or camera; with smoothing, the largest face's score is averaged."""
    if not capture.isOpened():
        kind = "camera cannot be opened (no such device?)" if camera else "cannot open video"
        return {"input": name, "problem": kind}
    frames, writer, smoothed = [], None, None
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not camera else 0
    total = min(count, options.max_frames or count) or None
    bar = progress(total=total, desc=Path(name).name, unit="frame")
    with atomic_path(annotate, ".mp4") if annotate else nullcontext() as tmp, bar:
        try:
            while not options.max_frames or len(frames) < options.max_frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                frame = predictor.frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if frame["faces"] and options.smoothing:
                    face = frame["faces"][0]
                    smoothed = face["score"] if smoothed is None else \
                        options.smoothing * smoothed + (1 - options.smoothing) * face["score"]
                    face["smoothed_score"] = smoothed
                    face["label"] = predictor.label(smoothed)
                elif not frame["faces"]:
                    smoothed = None
                frames.append({"frame": len(frames), **frame})
                bar.update()
                if tmp:
                    if writer is None:
                        fps = capture.get(cv2.CAP_PROP_FPS) or 15
                        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                 (bgr.shape[1], bgr.shape[0]))
                    writer.write(draw(bgr, frame["faces"]))
        except KeyboardInterrupt:  # a camera runs until interrupted: keep what was seen
            pass
        finally:
            capture.release()
            if writer:
                writer.release()
    if not frames:
        return {"input": name, "problem": "no frames could be read"}
    return {"input": name, "frames": frames}


def draw(bgr, faces):
    """The frame with each face's box (green real, red spoof) and its label and score."""
    out = bgr.copy()
    for face in faces:
        x, y, w, h = face["box"]
        colour = (0, 0, 255) if face["label"] == "spoof" else (0, 200, 0)
        score = face.get("smoothed_score", face["score"])
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
        cv2.putText(out, f"{face['label']} {score:.2f}", (x, max(12, y - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out
