"""--average-weights: the running mean of the weights over every step of whole-network training
(dense weight averaging, as in SWAD, Cha et al. 2021), which dev scores at each epoch's end.

Training itself goes on from its own weights: the mean is swapped in when the epoch's validation
begins and swapped out (``end_epoch``) before the epoch's checkpoint is written, beside which it
is kept (``RunDir.average``) so that a resumed run carries on with it."""
import numpy as np
import tensorflow as tf
import tf_keras as keras

from antispoof.core.files import atomic_path


class WeightAverage(keras.callbacks.Callback):
    """The mean of ``model.weights`` over the training steps of epochs ``start`` + 1 onwards
    (0-based ``start``: the probe epochs are left out)."""

    def __init__(self, run, start, resumed_epoch=0):
        """``resumed_epoch``: the epoch a resumed run's checkpoint holds, whose mean is read."""
        super().__init__()
        self.run, self.start, self.resumed_epoch = run, start, resumed_epoch
        self.means, self.count, self.own, self.active = None, 0, None, False

    def on_train_begin(self, logs=None):
        if self.means is not None:  # one fit after another (the probe, then the whole network)
            return
        self.means = [tf.Variable(v, trainable=False) for v in self.model.weights]
        saved = self.run.averages().get(self.resumed_epoch)
        if saved is not None:
            with np.load(saved) as arrays:
                self.count = int(arrays["count"])
                for i, mean in enumerate(self.means):
                    mean.assign(arrays[f"w{i}"])

    def on_epoch_begin(self, epoch, logs=None):
        self.active = epoch >= self.start

    def on_train_batch_end(self, batch, logs=None):
        if self.active:
            self.count += 1
            _update(self.means, self.model.weights, tf.constant(1.0 / self.count))

    def on_test_begin(self, logs=None):
        """The epoch's validation scores the mean (from the first averaged step on)."""
        if self.active and self.count and self.own is None:
            self.own = [v.numpy() for v in self.model.weights]
            for variable, mean in zip(self.model.weights, self.means):
                variable.assign(mean)

    def end_epoch(self, epoch):
        """After the epoch's figures and best model: training's own weights back, the mean kept
        beside checkpoint ``epoch`` (atomically, before it)."""
        if self.own is not None:
            for variable, value in zip(self.model.weights, self.own):
                variable.assign(value)
            self.own = None
        if self.count:
            arrays = {f"w{i}": mean.numpy() for i, mean in enumerate(self.means)}
            with atomic_path(self.run.average(epoch), suffix=".npz") as tmp, tmp.open("wb") as f:
                np.savez(f, count=self.count, **arrays)

    def load_into(self, model):
        """The mean into ``model`` (the run's end without --select-epoch)."""
        for variable, mean in zip(model.weights, self.means):
            variable.assign(mean)


@tf.function
def _update(means, values, share):
    for mean, value in zip(means, values):
        mean.assign_add((tf.cast(value, mean.dtype) - mean) * tf.cast(share, mean.dtype))
