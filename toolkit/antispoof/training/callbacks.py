"""What a fit shows: one line per epoch on our logger (stderr, with the stage's other lines),
and on a terminal a bar over the epoch's batches; Keras' own progress output (stdout) stays off."""
import logging
import time

import tf_keras as keras

from antispoof.core.console import progress

log = logging.getLogger("antispoof")


class EpochLog(keras.callbacks.Callback):
    """``STAGE: epoch 2/3: loss 0.4127, auc 0.9312, val_loss …, val_auc … (14 s)``."""

    def __init__(self, stage, epochs):
        super().__init__()
        self.stage, self.epochs, self.bar, self.started = stage, epochs, None, time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()
        self.bar = progress(total=self.params.get("steps"), desc=f"{self.stage} epoch {epoch + 1}",
                            unit="batch")

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update()

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()
        figures = ", ".join(f"{name} {value:.4f}" for name, value in (logs or {}).items()
                            if isinstance(value, (int, float)))
        log.info("%s: epoch %d/%d: %s (%.0f s)", self.stage, epoch + 1, self.epochs, figures,
                 time.time() - self.started)
