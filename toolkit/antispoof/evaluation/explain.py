"""Where the model looks: Grad-CAM on the last feature map, vanilla-gradient saliency, and
occlusion sensitivity.

All explain P(spoof). Grad-CAM and saliency need gradients: a ``.tflite`` file is explained
through the Keras model it was built from (``model.keras`` in the same run directory).
Occlusion (Zeiler and Fergus, 2014) needs only the model's outputs, so it explains any model
file, the shipped ``.tflite`` too, without TensorFlow.
"""
from pathlib import Path

import cv2
import numpy as np

from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path
from antispoof.core.rundir import RunDir
from antispoof.data.images import load_face_crop
from antispoof.models.specs import POOL
from antispoof.runtime.interpreter import KerasClassifier, open_classifier

METHODS = ("gradcam", "saliency", "occlusion")
GRADIENT_METHODS = METHODS[:2]
OCCLUDER = 128  # the grey that covers a patch


def keras_model_for(path):
    """The Keras model to explain for a model file (a ``.tflite`` file's run directory's)."""
    path = Path(path)
    if path.suffix == ".tflite":
        source = path.with_name(RunDir.MODEL)
        if not source.exists():
            raise AntispoofError(f"{path}: gradient explanations need the Keras model it was built "
                                 f"from; no {source.name} beside it (pass the run directory's "
                                 "model.keras, or --method occlusion, which needs only outputs)")
        path = source
    return KerasClassifier(path).model


def heatmaps(model, pixels, method):
    """N×S×S maps in [0, 1] for N×S×S×3 uint8 crops, and the model's P(spoof) for each."""
    import tensorflow as tf
    import tf_keras as keras

    if method not in GRADIENT_METHODS:
        raise AntispoofError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    x = tf.convert_to_tensor(pixels.astype(np.float32))
    size = pixels.shape[1]
    if method == "gradcam":
        probe = keras.Model(model.input, [model.get_layer(POOL).input, model.output])
        with tf.GradientTape() as tape:
            features, score = probe(x, training=False)
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        maps = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
        if len(maps) == 2 * len(pixels):  # a flip-averaged model: the crops, then their mirrors
            maps = (maps[:len(pixels)] + maps[len(pixels):, :, ::-1]) / 2
        maps = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in maps])
    else:
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = model(x, training=False)
        maps = tf.reduce_max(tf.abs(tape.gradient(score, x)), axis=-1).numpy()
    return _peak_normalized(maps), score.numpy().reshape(-1)


def _peak_normalized(maps):
    """Each map divided by its own maximum: values in [0, 1]."""
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return maps / np.maximum(peak, 1e-12)


def occlusion_maps(classifier, pixels, patch=None, stride=None):
    """N×S×S maps in [0, 1] of how much P(spoof) moves when a grey square (``patch``, a sixth of
    the side by default, every ``stride`` pixels) covers each part of the crop, averaged over
    the squares that cover a pixel; and the model's P(spoof) for each crop. Any classifier
    with ``predict`` (a .tflite file through LiteRT) will do."""
    count, size = len(pixels), pixels.shape[1]
    patch = patch or max(4, size // 6)
    stride = stride or max(1, patch // 2)
    corners = [(y, x) for y in range(0, size - patch + 1, stride)
               for x in range(0, size - patch + 1, stride)]
    cover = np.zeros((size, size), np.float32)
    for y, x in corners:
        cover[y:y + patch, x:x + patch] += 1
    scores = classifier.predict(pixels)
    maps = np.zeros((count, size, size), np.float32)
    for i in range(count):
        covered = np.repeat(pixels[i:i + 1], len(corners), axis=0)
        for k, (y, x) in enumerate(corners):
            covered[k, y:y + patch, x:x + patch] = OCCLUDER
        change = np.abs(classifier.predict(covered) - scores[i])
        for k, (y, x) in enumerate(corners):
            maps[i, y:y + patch, x:x + patch] += change[k]
    maps /= np.maximum(cover, 1)
    return _peak_normalized(maps), np.asarray(scores, np.float32).reshape(-1)


def overlay(pixels, heatmap, scale=2):
    """The crop and its heat map blended, side by side, as a BGR image ready to save."""
    crop = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    heat = cv2.applyColorMap((255 * heatmap).astype(np.uint8), cv2.COLORMAP_JET)
    pair = np.hstack([crop, cv2.addWeighted(crop, 0.5, heat, 0.5, 0)])
    return cv2.resize(pair, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def explain(model_path, images, method="gradcam", out_dir="explanations"):
    """Write ``<image>_<method>.png`` (crop | overlay) for each image; return [(png, P(spoof))]."""
    if method == "occlusion":
        classifier = open_classifier(model_path)
        size, explain_crops = classifier.input_size, lambda crops: occlusion_maps(classifier, crops)
    else:
        model = keras_model_for(model_path)
        size, explain_crops = int(model.input_shape[1]), lambda crops: heatmaps(model, crops, method)
    crops = []
    for image in images:
        crop = load_face_crop(image, size)
        if crop is None:
            raise AntispoofError(f"{image}: cannot decode image")
        crops.append(crop)
    maps, scores = explain_crops(np.stack(crops))
    written = []
    for image, crop, heatmap, score in zip(images, crops, maps, scores):
        png = Path(out_dir) / f"{Path(image).stem}_{method}.png"
        with atomic_path(png, suffix=".png") as tmp:
            cv2.imwrite(str(tmp), overlay(crop, heatmap))
        written.append((png, float(score)))
    return written
