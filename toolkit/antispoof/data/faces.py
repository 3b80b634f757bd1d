"""Face detection and the square face crop that data preparation and prediction share.

Detection uses MediaPipe's BlazeFace short-range model, the file that ships inside the
mediapipe 0.10.21 wheel: nothing is downloaded at run time.
"""
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from antispoof.core.model_contract import CROP_SCALE
from antispoof.core.errors import AntispoofError
from antispoof.data.images import to_model_input

# Side of the square crop over the longer side of the detector's box. Measured: NUAA's crops,
# which the shipped model learned from, are 1.09× BlazeFace's box on them (median of 298
# crops, interquartile range 1.02–1.20; `benchmarks/prepare.py`), so crops made at this
# scale look like the training data.


def mediapipe_module(name="mediapipe"):
    """A MediaPipe module, imported without TensorFlow: MediaPipe Tasks imports TensorFlow only
    for its API documentation markers (``tasks.python.core.optional_dependencies``) and does
    without it when it is missing, so the runtime commands start seconds sooner."""
    docs = "tensorflow.tools.docs"
    blocked = docs not in sys.modules
    if blocked:
        sys.modules[docs] = None  # `import` of it raises ModuleNotFoundError at once
    try:
        return importlib.import_module(name)
    finally:
        if blocked:
            del sys.modules[docs]


def blazeface_path():
    mediapipe = mediapipe_module()
    path = Path(mediapipe.__file__).parent / "modules/face_detection/face_detection_short_range.tflite"
    if not path.is_file():
        raise AntispoofError(f"{path}: BlazeFace model missing from the mediapipe package "
                             "(mediapipe 0.10.21 ships it; newer releases do not)")
    return path


@dataclass(frozen=True)
class Face:
    box: tuple  # (x, y, width, height) in frame pixels
    score: float

    @property
    def side(self):
        return max(self.box[2], self.box[3])


class FaceDetector:
    """BlazeFace short range over RGB frames; faces come largest first."""

    def __init__(self, min_score=0.5):
        self._mp = mediapipe_module()  # once: detect runs for every frame
        tasks = mediapipe_module("mediapipe.tasks.python")
        BaseOptions, vision = tasks.BaseOptions, tasks.vision
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(blazeface_path())),
            min_detection_confidence=min_score)
        self._detector = vision.FaceDetector.create_from_options(options)

    def detect(self, rgb):
        mp = self._mp
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        faces = [Face((d.bounding_box.origin_x, d.bounding_box.origin_y,
                       d.bounding_box.width, d.bounding_box.height), d.categories[0].score)
                 for d in self._detector.detect(image).detections]
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def close(self):
        self._detector.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def crop_square(box, scale=CROP_SCALE):
    """The square (x, y, side) centred on ``box`` whose side is ``scale`` × its longer side."""
    x, y, w, h = box
    side = max(1, int(round(scale * max(w, h))))
    return int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2)), side


def crop_face(frame, box, size, scale=CROP_SCALE):
    """The ``size``×``size`` crop around ``box``; parts outside the frame are black."""
    x, y, side = crop_square(box, scale)
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, width), min(y + side, height)
    square = np.zeros((side, side, 3), np.uint8)
    if x1 > x0 and y1 > y0:
        square[y0 - y:y1 - y, x0 - x:x1 - x] = frame[y0:y1, x0:x1]
    return to_model_input(square, size)


def sharpness(crop):
    """Variance of the Laplacian of the crop's grey levels: low means blurred."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())
