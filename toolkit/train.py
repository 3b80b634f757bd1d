"""Fine-tuning on the train split, monitored on the dev split; resumable per epoch."""
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import tf_keras as keras

from .data import FaceDataset, class_weights, tf_dataset
from .errors import AntispoofError
from .files import atomic_path, read_json, write_json
from .model import build_model, freeze_batchnorm, load_model
from .model_spec import DEFAULT_BACKBONE, DEFAULT_HEAD
from .preprocess import INPUT_SIZE

log = logging.getLogger("antispoof")

MODEL_FILE = "model.keras"
CHECKPOINT_GLOB = "checkpoint-epoch*.keras"
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"


@dataclass
class TrainOptions:
    backbone: str = DEFAULT_BACKBONE
    head: str = DEFAULT_HEAD
    init: str | None = None  # a contracted backbone (``antispoof contract``) instead of ``backbone``
    input_size: int = INPUT_SIZE
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-4
    freeze_batchnorm: bool = True
    seed: int = 0
    limit: int | None = None  # at most this many images per split (quick runs)


def train(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None):
    """Train and write ``model.keras``, ``history.json`` and ``config.json`` under ``out_dir``.

    An interrupted run restarts from its last completed epoch; a finished run is left as it is.
    """
    options = options or TrainOptions()
    out = Path(out_dir)
    history_path = out / HISTORY_FILE
    if (out / MODEL_FILE).exists() and history_path.exists() and read_json(history_path)["complete"]:
        log.info("train: %s is complete, nothing to do", out / MODEL_FILE)
        return out / MODEL_FILE
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(options.seed)

    dataset = FaceDataset(data_dir, protocol, subject_regex, seed=options.seed)
    train_images = dataset.load("train", options.input_size, options.limit, options.seed)
    dev_images = dataset.load("dev", options.input_size, options.limit, options.seed)
    log.info("train: %s train, %s dev images (protocol %s)", train_images.counts,
             dev_images.counts, dataset.protocol.name)
    write_json(out / CONFIG_FILE, {
        "data": str(data_dir), "protocol": dataset.protocol.name,
        "protocol_file": str(protocol) if protocol else None, "weights": str(weights),
        "options": asdict(options), "counts": {"train": train_images.counts, "dev": dev_images.counts},
        "skipped": [{"file": f, "reason": r} for f, r in train_images.skipped + dev_images.skipped],
    })

    history = {"complete": False, "epochs": []}
    checkpoint, done = _last_checkpoint(out)
    if checkpoint and history_path.exists():
        history = read_json(history_path)
        history["epochs"] = history["epochs"][:done]  # history is written before its checkpoint
        model = keras.models.load_model(checkpoint)  # compiled: optimizer state too
        log.info("train: resuming after epoch %d", done)
    else:
        model = build_model(options.backbone, options.head, options.input_size, weights,
                            options.init)
        if options.freeze_batchnorm:
            freeze_batchnorm(model)
        model.compile(optimizer=keras.optimizers.Adam(options.learning_rate),
                      loss="binary_crossentropy",
                      metrics=["accuracy", keras.metrics.AUC(name="auc"),
                               keras.metrics.Precision(name="precision"),
                               keras.metrics.Recall(name="recall")])

    start = time.time()
    model.fit(
        tf_dataset(train_images, options.batch_size, training=True, seed=options.seed),
        validation_data=tf_dataset(dev_images, options.batch_size, training=False),
        epochs=options.epochs,
        initial_epoch=len(history["epochs"]),
        class_weight=class_weights(train_images.labels),
        callbacks=[_EpochCheckpoint(out, history)],
        verbose=1 if sys.stderr.isatty() else 2,
    )
    history.update(complete=True, seconds=history.get("seconds", 0) + time.time() - start)
    with atomic_path(out / MODEL_FILE, suffix=".keras") as tmp:
        model.save(tmp)
    write_json(history_path, history)
    for stale in out.glob(CHECKPOINT_GLOB):
        stale.unlink()
    return out / MODEL_FILE


def _last_checkpoint(out):
    """The newest epoch checkpoint and its epoch number, or (None, 0)."""
    found = {int(p.stem.rsplit("epoch", 1)[1]): p for p in out.glob(CHECKPOINT_GLOB)}
    return (found[max(found)], max(found)) if found else (None, 0)


class _EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, atomically: the history, then ``checkpoint-epochN.keras``.

    A kill between the two leaves a history one epoch ahead of the newest checkpoint,
    which resuming truncates; the previous checkpoint goes once the new one is in place.
    """

    def __init__(self, out, history):
        super().__init__()
        self.out, self.history = out, history

    def on_epoch_end(self, epoch, logs=None):
        self.history["epochs"].append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        write_json(self.out / HISTORY_FILE, self.history)
        previous, _ = _last_checkpoint(self.out)
        with atomic_path(self.out / f"checkpoint-epoch{epoch + 1}.keras", suffix=".keras") as tmp:
            self.model.save(tmp)
        if previous:
            previous.unlink()


def load_trained(run_dir):
    """The finished model of a run directory (or a model file given directly)."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.exists():
            raise AntispoofError(f"{path}: no trained model in this run directory "
                                 "(run `antispoof train` first)")
    return load_model(path)
