"""The tf.data training stream over decoded crops (``datasets.Images``): shuffling, flips,
photometric and geometric jitter, synthetic attacks and webcam degradations, teacher scores and
per-class weights as extra columns. Training and QAT read it alike."""
import numpy as np

from antispoof.core.model_contract import LABELS
from antispoof.data.synthesis import FAMILIES, camera, synthesize


def class_weights(counts):
    """Weights that give both classes equal total weight, from {"real": n, "spoof": m}."""
    total = sum(counts[name] for name in LABELS)
    return {c: total / (2 * counts[name]) for c, name in enumerate(LABELS)}


def jitter(x, seed=0):
    """Per-crop photometric and geometric jitter of a float32 batch of 0..255 pixels:
    brightness ±10 % of the range, contrast and saturation ×0.85–1.15, and a zoom into a
    random 85–100 % square of the crop, resized back."""
    import tensorflow as tf

    batch, size = tf.shape(x)[0], tf.shape(x)[1]

    def uniform(low, high, shape=(1, 1, 1)):
        return tf.random.uniform(tf.stack([batch, *shape]), low, high, seed=seed)

    x = x + uniform(-25.5, 25.5)
    mean = tf.reduce_mean(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * uniform(0.85, 1.15) + mean
    grey = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - grey) * uniform(0.85, 1.15) + grey
    side = uniform(0.85, 1.0, [])
    top, left = uniform(0.0, 1.0, []) * (1 - side), uniform(0.0, 1.0, []) * (1 - side)
    boxes = tf.stack([top, left, top + side, left + side], axis=1)
    x = tf.image.crop_and_resize(x, boxes, tf.range(batch), tf.stack([size, size]))
    return tf.clip_by_value(x, 0.0, 255.0)


def _synthetic_attacks(rate, seed, families):
    """A tf.data map: with probability ``rate`` a crop goes through a webcam's blur, noise and
    JPEG (``antispoof.data.synthesis.camera``), and half of the real ones so chosen first become a
    synthetic attack of one of ``families`` (``antispoof.data.synthesis.FAMILIES``), labelled spoof."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def convert(pixels, label):
        if rng.random() >= rate:
            return pixels, label
        image = pixels.astype(np.float32)
        if label == 0 and rng.random() < 0.5:
            image, label = synthesize(image, rng, families), np.float32(1)
        return np.clip(camera(image, rng), 0, 255).astype(np.uint8), label

    def apply(pixels, label, *rest):
        x, y = tf.numpy_function(convert, [pixels, label], [pixels.dtype, label.dtype])
        x.set_shape(pixels.shape)
        y.set_shape(label.shape)
        return (x, y, *rest)

    return apply


def _degrade(rate, seed):
    """A tf.data map: with probability ``rate`` a crop, real or spoof, goes through a webcam's
    white balance, blur, noise and JPEG (``antispoof.data.synthesis.camera``); labels are kept."""
    import tensorflow as tf

    rng = np.random.default_rng(seed + 1)

    def convert(pixels):
        if rng.random() >= rate:
            return pixels
        image = pixels.astype(np.float32) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
        return np.clip(camera(image, rng), 0, 255).astype(np.uint8)

    def apply(pixels, *rest):
        x = tf.numpy_function(convert, [pixels], pixels.dtype)
        x.set_shape(pixels.shape)
        return (x, *rest)

    return apply


def tf_dataset(images, batch_size, training, seed=0, teacher=None, class_weight=None,
               augment=False, synth_spoof=0.0, synth_families=FAMILIES, degrade=0.0,
               extra_targets=None, score="score"):
    """A tf.data pipeline over decoded crops: shuffle and flip when training (and ``jitter``
    with ``augment``; with ``synth_spoof``, ``_synthetic_attacks`` at that rate), prefetch
    always.

    With ``teacher`` (its P(spoof) per crop) the targets are [label, teacher score] rows and,
    with ``class_weight``, each crop carries its class's weight (Keras' ``class_weight`` only
    understands one label per row).

    With ``extra_targets`` ({output name: one target per crop}, for a model's training-only
    outputs) the targets are a dict: those, and the labels under ``score``.
    """
    import tensorflow as tf

    labels = images.labels.astype(np.float32)
    if teacher is not None:
        labels = np.stack([labels, np.asarray(teacher, np.float32)], axis=1)
    columns = (images.pixels, labels if extra_targets is None else
               {score: labels, **{k: np.asarray(v, np.float32) for k, v in extra_targets.items()}})
    if class_weight is not None:
        columns += (np.array([class_weight[c] for c in images.labels], np.float32),)
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if training:
        ds = ds.shuffle(len(images.labels), seed=seed, reshuffle_each_iteration=True)
    if training and synth_spoof > 0:
        ds = ds.map(_synthetic_attacks(synth_spoof, seed, synth_families))
    if training and degrade > 0:
        ds = ds.map(_degrade(degrade, seed), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)

    def to_float(x, *rest):
        x = tf.cast(x, tf.float32)
        if training:
            x = tf.image.random_flip_left_right(x, seed=seed)
        if training and augment:
            x = jitter(x, seed)
        return (x, *rest)

    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(without_autotuning())


def without_autotuning():
    """tf.data options without the autotuning thread: AUTOTUNE maps then run one call per core
    and prefetch buffers grow when training waits. Freeing an iterator waits for that thread to
    stop, which held Keras' ``fit`` for 26-31 s after its last epoch in three
    of six quantization-aware runs at 104x104 and 112x112 (benchmarks/README.md); the decoded
    crops' stream does little work per batch, so there is little for the thread to tune."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options
