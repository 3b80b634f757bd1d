"""Losses and metrics of training with a teacher (distillation targets are [label, P(spoof)]),
of the training-only pixel map and of the training-only source head."""
import tensorflow as tf
import tf_keras as keras


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


@keras.saving.register_keras_serializable(package="antispoof")
class PixelMapLoss(keras.losses.Loss):
    """Binary cross-entropy of every cell of a P(spoof) map (batch, h, w, 1) against its crop's
    label, averaged over the cells. ``y_true`` is the score's target: labels, or distillation
    rows whose first column is the label."""

    def __init__(self, name="pixel_map_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = tf.cast(y_pred, tf.float32)
        label = tf.reshape(tf.cast(y_true, tf.float32), [tf.shape(y_pred)[0], -1])[:, :1]
        target = tf.ones_like(y_pred) * tf.reshape(label, [-1, 1, 1, 1])
        return tf.reduce_mean(keras.backend.binary_crossentropy(target, y_pred), axis=[1, 2, 3])


@keras.saving.register_keras_serializable(package="antispoof")
class SourceLoss(keras.losses.Loss):
    """Cross-entropy of the source head's logits against the crop's training source, on live
    crops only (single-side adversarial training: Jia et al., "Single-Side Domain
    Generalization for Face Anti-Spoofing", CVPR 2020, where live faces from every source are
    made alike and attacks are left free to differ). ``y_true`` rows are [source index, label];
    a source index below 0 (a dev crop, of no training source) counts nothing."""

    def __init__(self, name="source_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1, 2])
        source, label = y_true[:, 0], y_true[:, 1]
        counted = tf.cast((source >= 0) & (label < 0.5), tf.float32)
        loss = keras.losses.sparse_categorical_crossentropy(
            tf.maximum(source, 0.0), tf.cast(y_pred, tf.float32), from_logits=True)
        return loss * counted
