"""Where the model looks: Grad-CAM on the last feature map, and vanilla-gradient saliency.

Both explain P(spoof). A ``.tflite`` file is explained through the Keras model it was built
from: ``model.keras`` in the same run directory.
"""
from pathlib import Path

import cv2
import numpy as np

from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path
from antispoof.core.rundir import RunDir
from antispoof.data.images import load_face_crop
from antispoof.runtime.interpreter import KerasClassifier

METHODS = ("gradcam", "saliency")


def keras_model_for(path):
    """The Keras model to explain for a model file (a ``.tflite`` file's run directory's)."""
    path = Path(path)
    if path.suffix == ".tflite":
        source = path.with_name(RunDir.MODEL)
        if not source.exists():
            raise AntispoofError(f"{path}: explanations need the Keras model it was built from; "
                                 f"no {source.name} beside it (pass the run directory's model.keras)")
        path = source
    return KerasClassifier(path).model


def heatmaps(model, pixels, method):
    """N×S×S maps in [0, 1] for N×S×S×3 uint8 crops, and the model's P(spoof) for each."""
    import tensorflow as tf
    import tf_keras as keras

    if method not in METHODS:
        raise AntispoofError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    x = tf.convert_to_tensor(pixels.astype(np.float32))
    size = pixels.shape[1]
    if method == "gradcam":
        probe = keras.Model(model.input, [model.get_layer("pool").input, model.output])
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
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return maps / np.maximum(peak, 1e-12), score.numpy().reshape(-1)


def overlay(pixels, heatmap, scale=2):
    """The crop and its heat map blended, side by side, as a BGR image ready to save."""
    crop = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    heat = cv2.applyColorMap((255 * heatmap).astype(np.uint8), cv2.COLORMAP_JET)
    pair = np.hstack([crop, cv2.addWeighted(crop, 0.5, heat, 0.5, 0)])
    return cv2.resize(pair, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def explain(model_path, images, method="gradcam", out_dir="explanations"):
    """Write ``<image>_<method>.png`` (crop | overlay) for each image; return [(png, P(spoof))]."""
    model = keras_model_for(model_path)
    size = int(model.input_shape[1])
    crops = []
    for image in images:
        crop = load_face_crop(image, size)
        if crop is None:
            raise AntispoofError(f"{image}: cannot decode image")
        crops.append(crop)
    maps, scores = heatmaps(model, np.stack(crops), method)
    written = []
    for image, crop, heatmap, score in zip(images, crops, maps, scores):
        png = Path(out_dir) / f"{Path(image).stem}_{method}.png"
        with atomic_path(png, suffix=".png") as tmp:
            cv2.imwrite(str(tmp), overlay(crop, heatmap))
        written.append((png, float(score)))
    return written
