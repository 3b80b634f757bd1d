"""The one owner of file names: a run folder (``antispoof build``/``train``) and the folder of
exported artifacts (``antispoof export``). Other modules ask these classes for paths."""
from dataclasses import dataclass
from pathlib import Path

INT8_FILE = "antispoof_int8.tflite"  # the int8 model: in a run folder and in an export alike
CONTRACT_FILE = "model.json"  # the ModelContract beside a model file (antispoof.core.model_contract)


@dataclass(frozen=True)
class RunDir:
    """A run folder: the contracted backbone, training's files, the int8 model and its figures.

    ``train`` writes config, history, checkpoints and the model; ``build`` adds backbone, int8,
    parity, metrics, contract and report."""

    path: Path

    BACKBONE = "backbone.keras"
    MODEL = "model.keras"
    BEST = "best-epoch.keras"  # with --select-epoch: the epoch with the best dev AUC so far
    CHECKPOINT_GLOB = "checkpoint-epoch*.keras"
    AVERAGE_GLOB = "average-epoch*.npz"  # with --average-weights: the running mean beside it
    HISTORY = "history.json"
    CONFIG = "config.json"
    INT8 = INT8_FILE
    PARITY = "parity.json"
    METRICS = "metrics.json"
    CONTRACT = CONTRACT_FILE
    REPORT = "report.html"
    TEACHERS = "teachers.json"  # with --teacher: the ensemble's weights, chosen on dev

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    backbone = property(lambda self: self.path / self.BACKBONE)
    model = property(lambda self: self.path / self.MODEL)
    best = property(lambda self: self.path / self.BEST)
    history = property(lambda self: self.path / self.HISTORY)
    config = property(lambda self: self.path / self.CONFIG)
    int8 = property(lambda self: self.path / self.INT8)
    parity = property(lambda self: self.path / self.PARITY)
    metrics = property(lambda self: self.path / self.METRICS)
    teachers = property(lambda self: self.path / self.TEACHERS)
    contract = property(lambda self: self.path / self.CONTRACT)
    report = property(lambda self: self.path / self.REPORT)

    def checkpoint(self, epoch):
        return self.path / self.CHECKPOINT_GLOB.replace("*", str(epoch))

    def checkpoints(self):
        """{epoch: path} of the epoch checkpoints present."""
        return self._per_epoch(self.CHECKPOINT_GLOB)

    def average(self, epoch):
        return self.path / self.AVERAGE_GLOB.replace("*", str(epoch))

    def averages(self):
        """{epoch: path} of the weight averages present."""
        return self._per_epoch(self.AVERAGE_GLOB)

    def _per_epoch(self, pattern):
        prefix, suffix = pattern.split("*")
        return {int(p.name[len(prefix):-len(suffix)]): p for p in self.path.glob(pattern)}


@dataclass(frozen=True)
class ExportDir:
    """The artifacts an app takes (``models/``): the int8 model, its MediaPipe variant, labels,
    the contract and the model card; or the server model's SavedModel and float16 file."""

    path: Path

    INT8 = INT8_FILE
    MEDIAPIPE = "antispoof_mediapipe.tflite"
    LABELS = "labels.txt"
    CONTRACT = CONTRACT_FILE
    CARD = "MODEL_CARD.md"
    SAVED_MODEL = "saved_model"
    FP16 = "antispoof_server_fp16.tflite"

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def __truediv__(self, name):
        return self.path / name
