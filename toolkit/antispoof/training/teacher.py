"""Distillation teacher: a trained model's (or the ONNX peer's) P(spoof) on the training crops."""
import logging
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.data.datasets import load_images
from antispoof.models.builders import load_trained
from antispoof.runtime.interpreter import spoof_scores
from antispoof.runtime.peer import PEER_SUFFIX, PeerClassifier

log = logging.getLogger("antispoof")


class Teacher:
    """A trained model's (or the ONNX peer's) P(spoof) on a split's crops, decoded at the
    teacher's input size."""

    def __init__(self, path):
        if Path(path).suffix == PEER_SUFFIX:
            self.model = PeerClassifier(path)
            self.size = self.model.input_size
        else:
            self.model = load_trained(path)
            self.size = int(self.model.input_shape[1])

    def scores(self, images):
        """P(spoof) for the same crops as ``images`` (decoded again at the teacher's size)."""
        again = load_images(images.samples, self.size)
        if len(again.samples) != len(images.samples):
            raise AntispoofError("the teacher could not decode every crop the student uses")
        if isinstance(self.model, PeerClassifier):
            scores = self.model.predict(again.pixels)
        else:
            scores = spoof_scores(self.model.predict(again.pixels.astype("float32"),
                                                     batch_size=128, verbose=0))
        log.info("train: teacher scored %d crops", len(scores))
        return scores
