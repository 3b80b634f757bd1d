"""The paper's server model and what the light model learns from it.

EfficientNet-B0 (``tf_keras.applications``; ImageNet weights downloaded, from a file, or random
initialisation), global pooling, then the paper's head: Dense 1024 → 256 → 32, each followed by
BatchNorm, swish and dropout, and a 2-way softmax. The backbone's stochastic depth is what
Keras and the paper call drop-connect. Trained with Rectified Adam and cross-entropy.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from .data import LABELS
from .errors import AntispoofError
from .files import read_json, write_bytes, write_json

ARCHS = ("mobilenetv2", "efficientnet-b0")
SERVER_HEAD = "paper-server"
HEAD_UNITS = (1024, 256, 32)
PAPER_TRAINABLE_PARAMETERS = 5_592_606
SERVER_INPUT_SIZE = 224


@keras.saving.register_keras_serializable(package="antispoof")
class RectifiedAdam(keras.optimizers.Optimizer):
    """Rectified Adam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", Algorithm 2). While the variance of the adaptive rate is intractable (ρ_t ≤ 4 in
    the first few steps) it takes bias-corrected momentum steps, as SGD with momentum; after
    that Adam steps scaled by the rectification term r_t."""

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="RectifiedAdam", **kwargs):
        super().__init__(name=name, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._built = True
        self._momentums = [self.add_variable_from_reference(v, "m") for v in var_list]
        self._velocities = [self.add_variable_from_reference(v, "v") for v in var_list]

    def update_step(self, gradient, variable):
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        gradient = tf.convert_to_tensor(gradient)
        m.assign_add((gradient - m) * (1 - beta_1))
        v.assign_add((tf.square(gradient) - v) * (1 - beta_2))
        m_hat = m / (1 - beta_1_power)
        rho_inf = 2 / (1 - beta_2) - 1
        rho = rho_inf - 2 * step * beta_2_power / (1 - beta_2_power)
        rect = tf.sqrt(tf.maximum(rho - 4, 0) * tf.maximum(rho - 2, 0) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho))
        adaptive = rect * m_hat * tf.sqrt(1 - beta_2_power) / (tf.sqrt(v) + self.epsilon)
        variable.assign_sub(lr * tf.where(rho > 4, adaptive, m_hat))

    def get_config(self):
        config = super().get_config()
        config.update(learning_rate=self._serialize_hyperparameter(self._learning_rate),
                      beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


def build_server_model(input_size=SERVER_INPUT_SIZE, weights="imagenet", dropout=0.2,
                       drop_connect=0.2):
    """Image (0..255 RGB) → EfficientNet-B0 → paper head → [P(real), P(spoof)]; one flat graph.

    ``weights``: ``"imagenet"`` (Keras downloads them), a path to EfficientNetB0 no-top
    weights, or None (random initialisation).
    """
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise AntispoofError(f"{weights}: weights file not found")
    image = keras.Input((input_size, input_size, 3), name="image")
    try:
        base = keras.applications.EfficientNetB0(include_top=False, weights=weights,
                                                 input_tensor=image,
                                                 drop_connect_rate=drop_connect)
    except (ValueError, OSError) as exc:
        raise AntispoofError(f"{weights}: not EfficientNetB0 no-top weights "
                             f"({str(exc).splitlines()[0]})") from None
    x = keras.layers.GlobalAveragePooling2D(name="pool")(base.output)
    for i, units in enumerate(HEAD_UNITS):
        x = keras.layers.Dense(units, name=f"head_dense{i}")(x)
        x = keras.layers.BatchNormalization(name=f"head_norm{i}")(x)
        x = keras.layers.Activation("swish", name=f"head_swish{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"head_dropout{i}")(x)
    out = keras.layers.Dense(2, activation="softmax", name="probabilities")(x)
    return keras.Model(image, out, name="antispoof_efficientnet-b0_paper-server")


def precise_batchnorm(model, pixels, batches=20, batch_size=64, seed=0):
    """Set every BatchNorm layer's moving statistics to the average over ``batches`` batches of
    ``pixels`` of the statistics training would see ("precise BN", Wu & Johnson 2021).

    Trained from random initialisation, EfficientNet-B0's moving averages lag behind weights
    that are still moving fast: measured here after 3 epochs, the dev crops all came out spoof
    in inference mode (P(spoof) 0.99 for real faces) yet were well separated with batch
    statistics; after this, dev AUC was 0.996.
    """
    layers = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)
              and l.trainable]
    momenta = [l.momentum for l in layers]
    order = np.random.default_rng(seed).permutation(len(pixels))
    count = min(batches, max(1, len(pixels) // batch_size))
    try:
        for k in range(count):
            for layer in layers:
                layer.momentum = k / (k + 1)  # a running mean of the batches' statistics
            batch = pixels[order[k * batch_size:(k + 1) * batch_size]].astype(np.float32)
            model(batch, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return count


def parameter_counts(model):
    trainable = sum(int(tf.size(w)) for w in model.trainable_weights)
    total = int(model.count_params())
    return {"parameters": total, "trainable_parameters": trainable,
            "non_trainable_parameters": total - trainable}


def architecture_info(input_size=SERVER_INPUT_SIZE):
    """The server architecture's parameter counts (random weights, no data), against the
    paper's figure, which is its trainable count."""
    model = build_server_model(input_size, weights=None)
    counts = parameter_counts(model)
    statistics = {"backbone": 0, "head": 0}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            part = "head" if layer.name.startswith("head_") else "backbone"
            statistics[part] += sum(int(tf.size(w)) for w in layer.non_trainable_weights)
    normalization = counts["non_trainable_parameters"] - sum(statistics.values())
    return {"arch": "efficientnet-b0", "head": SERVER_HEAD, "input_size": input_size,
            **counts, "layers": len(model.layers),
            "paper_parameters": PAPER_TRAINABLE_PARAMETERS,
            "trainable_minus_paper": counts["trainable_parameters"] - PAPER_TRAINABLE_PARAMETERS,
            "explanation": (
                f"The paper's {PAPER_TRAINABLE_PARAMETERS:,} is the trainable count. The total "
                f"adds {counts['non_trainable_parameters']:,} non-trainable numbers: BatchNorm "
                f"moving means and variances ({statistics['backbone']:,} in EfficientNet-B0, "
                f"{statistics['head']:,} in the head) and the {normalization} statistics of "
                "EfficientNet's input Normalization layer.")}


def _logit(p, eps=1e-7):
    p = tf.clip_by_value(p, eps, 1 - eps)
    return tf.math.log(p) - tf.math.log1p(-p)


@keras.saving.register_keras_serializable(package="antispoof")
class DistillationLoss(keras.losses.Loss):
    """Loss for a sigmoid student; ``y_true`` rows are [label, teacher P(spoof)]:

    alpha · BCE(label, p) + (1 − alpha) · T² · BCE(σ(z_t / T), σ(z_s / T)),

    z being the logits of the teacher's and the student's P(spoof) (Hinton et al., 2015, with
    one logit; T² keeps the soft term's gradients on the hard term's scale).
    """

    def __init__(self, alpha=0.5, temperature=2.0, name="distillation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha, self.temperature = alpha, temperature

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        label, teacher = y_true[:, :1], y_true[:, 1:2]
        student = tf.reshape(tf.cast(y_pred, tf.float32), [-1, 1])
        hard = keras.losses.binary_crossentropy(label, student)
        t = self.temperature
        soft = keras.losses.binary_crossentropy(tf.sigmoid(_logit(teacher) / t),
                                                tf.sigmoid(_logit(student) / t))
        return self.alpha * hard + (1 - self.alpha) * t ** 2 * soft

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="antispoof")
class LabelAUC(keras.metrics.AUC):
    """AUC against the label column of distillation targets ([label, teacher P(spoof)])."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_true[:, :1], y_pred, sample_weight)


SAVED_MODEL_DIR = "saved_model"
FP16_FILE = "antispoof_server_fp16.tflite"


def is_server_run(run_dir):
    config = Path(run_dir) / "config.json"
    return config.is_file() and read_json(config)["options"].get("arch") == "efficientnet-b0"


def export_server(run_dir, out_dir):
    """The server model of a finished ``antispoof train --arch efficientnet-b0`` run as a
    TensorFlow SavedModel (for TF Serving, and ``antispoof evaluate``) and a float16 ``.tflite``
    (float32 in and out, weights stored as float16: half the size)."""
    from .train import load_trained

    model = load_trained(run_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = out_dir / SAVED_MODEL_DIR
    staging = Path(tempfile.mkdtemp(prefix=f".{SAVED_MODEL_DIR}.", dir=out_dir))
    try:
        model.save(staging, save_format="tf")
        staging.chmod(0o755)  # mkdtemp made it private
        shutil.rmtree(saved, ignore_errors=True)
        os.replace(staging, saved)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    write_bytes(out_dir / FP16_FILE, converter.convert())
    write_json(out_dir / "model.json", {
        "model": FP16_FILE, "saved_model": SAVED_MODEL_DIR, "arch": "efficientnet-b0",
        "input_size": int(model.input_shape[1]), "input": "RGB pixels 0..255, float32",
        "outputs": list(LABELS), "size_bytes": (out_dir / FP16_FILE).stat().st_size})
    return [SAVED_MODEL_DIR, FP16_FILE, "model.json"]
