"""Face-crop preprocessing shared by training, evaluation and prediction.

A model takes RGB pixels as values 0..255 (uint8, or float32 for Keras); the
normalization to [-1, 1] is a layer inside the model, so callers never scale.
"""
import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_image(path):
    """An image file as H×W×3 uint8 BGR, or None if it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def load_face_crop(path, size):
    """Read an image file as a ``size``×``size`` RGB uint8 array, or None if it cannot be decoded."""
    image = read_image(path)
    return None if image is None else to_model_input(image, size, bgr=True)


def to_model_input(image, size, bgr=False):
    """Resize a face crop (H×W×3 uint8) to the model's square input, in RGB order, with the
    filter ``model.json`` names (``core.model_contract.RESIZE``: area when shrinking)."""
    if bgr:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    interpolation = cv2.INTER_AREA if min(image.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)
