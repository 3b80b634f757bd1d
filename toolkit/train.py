"""Fine-tuning on the train split, monitored on the dev split; resumable per epoch."""
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tf_keras as keras

from .data import class_weights, describe_data, load_images, open_dataset, tf_dataset
from .distribute import STRATEGIES, make_strategy, worker_dir
from .errors import AntispoofError
from .files import atomic_path, read_json, write_json
from .model import (build_model, flip_averaged, fold_central_difference, freeze_batchnorm,
                    load_model, with_central_difference)
from .model_spec import DEFAULT_BACKBONE, DEFAULT_HEAD
from .pack import PackedDataset
from .peer import PEER_SUFFIX, PeerClassifier
from .preprocess import INPUT_SIZE
from .runtime import spoof_scores
from .server import (ARCHS, SERVER_HEAD, SERVER_INPUT_SIZE, DistillationLoss, LabelAUC,
                     RectifiedAdam, build_server_model, precise_batchnorm)
from .synth import FAMILIES

log = logging.getLogger("antispoof")

MODEL_FILE = "model.keras"
CHECKPOINT_GLOB = "checkpoint-epoch*.keras"
BEST_FILE = "best-epoch.keras"  # with select_epoch: the epoch with the best dev AUC so far
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"


@dataclass
class TrainOptions:
    arch: str = "mobilenetv2"  # or "efficientnet-b0": the paper's server model (head paper-server)
    backbone: str = DEFAULT_BACKBONE
    head: str = DEFAULT_HEAD
    init: str | None = None  # a contracted backbone (``antispoof contract``) instead of ``backbone``
    input_size: int | None = None  # default: 96, or 224 for the server model
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-4
    freeze_batchnorm: bool = True
    seed: int = 0
    limit: int | None = None  # at most this many images per split (quick runs)
    teacher: str | None = None  # a trained run or model to distil from (e.g. the server model)
    distill_alpha: float = 0.5  # weight of the hard labels; 1 - alpha goes to the teacher
    temperature: float = 2.0
    strategy: str = "default"  # or "mirrored", "multiworker" (see antispoof.distribute)
    augment: bool = False  # photometric and zoom jitter of training crops (data.jitter)
    ema: float = 0.0  # > 0: the light model ends with this exponential moving average of its weights
    flip_average: bool = False  # the saved model averages each crop's score with its mirror's
    synth_spoof: float = 0.0  # share of crops through webcam effects, half of those reals turned
    # into synthetic screen/print attacks (data._synthetic_attacks)
    synth_families: tuple = FAMILIES  # which attack families the synthesis draws from
    degrade: float = 0.0  # share of crops (both classes) given a webcam's blur, noise, JPEG and
    # white balance (data._degrade)
    label_smoothing: float = 0.0  # hard labels pulled towards 0.5 by this much (less saturated scores)
    select_epoch: bool = False  # keep the epoch with the best dev AUC instead of the last one
    cdc: float = 0.0  # θ > 0: depthwise convolutions train as central difference convolutions,
    # folded into plain ones in the saved model (model.with_central_difference)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise AntispoofError(f"unknown arch {self.arch!r}: choose one of {', '.join(ARCHS)}")
        server = self.arch == "efficientnet-b0"
        if server and self.head not in (DEFAULT_HEAD, SERVER_HEAD):
            raise AntispoofError(f"efficientnet-b0 takes the {SERVER_HEAD} head, not {self.head!r}")
        if server and self.cdc:
            raise AntispoofError("--cdc trains the light model's depthwise convolutions")
        if not 0 <= self.cdc < 1:
            raise AntispoofError(f"central difference theta must be in [0, 1), not {self.cdc}")
        if server and self.select_epoch:
            raise AntispoofError("--select-epoch picks by dev AUC, which the light model reports")
        if server and self.teacher:
            raise AntispoofError("--teacher distils into the light model, not into efficientnet-b0")
        if server:
            self.head = SERVER_HEAD
        if self.input_size is None:
            self.input_size = SERVER_INPUT_SIZE if server else INPUT_SIZE
        if self.strategy not in STRATEGIES:
            raise AntispoofError(f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if not 0 <= self.distill_alpha <= 1 or not self.temperature > 0:
            raise AntispoofError("distillation needs 0 ≤ alpha ≤ 1 and temperature > 0")
        self.synth_families = tuple(self.synth_families)
        if not self.synth_families or set(self.synth_families) - set(FAMILIES):
            raise AntispoofError(f"synthetic attack families are {', '.join(FAMILIES)}, not "
                                 f"{', '.join(self.synth_families) or 'none'}")
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.degrade <= 1:
            raise AntispoofError("label smoothing takes 0 ≤ ε < 1 and degrade a rate 0 ≤ r ≤ 1")
        if self.synth_spoof and self.teacher:
            raise AntispoofError("--synth-spoof and --teacher do not mix: the teacher has no score "
                                 "for a synthetic attack")


def train(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None):
    """Train and write ``model.keras``, ``history.json`` and ``config.json`` under ``out_dir``.

    An interrupted run restarts from its last completed epoch; a finished run is left as it is.
    """
    options = options or TrainOptions()
    strategy = make_strategy(options.strategy)  # before any other TensorFlow work
    out = worker_dir(out_dir, options.strategy)
    history_path = out / HISTORY_FILE
    if (out / MODEL_FILE).exists() and history_path.exists() and read_json(history_path)["complete"]:
        log.info("train: %s is complete, nothing to do", out / MODEL_FILE)
        return out / MODEL_FILE
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(options.seed)

    dataset = open_dataset(data_dir, protocol, subject_regex, seed=options.seed)
    # a packed dataset streams its train split from the shards; quick (--limit) runs load it
    streaming = isinstance(dataset, PackedDataset) and options.limit is None
    if isinstance(dataset, PackedDataset) and options.teacher:
        raise AntispoofError(f"{data_dir}: --teacher reads crop files; give the unpacked dataset")
    if streaming and options.synth_spoof:
        raise AntispoofError(f"{data_dir}: --synth-spoof works on decoded crops; give the unpacked "
                             "dataset (or --limit)")
    train_images = None if streaming else dataset.load("train", options.input_size, options.limit,
                                                       options.seed)
    train_counts = dataset.counts("train") if streaming else train_images.counts
    dev_images = dataset.load("dev", options.input_size, options.limit, options.seed)
    log.info("train: %s train, %s dev images (protocol %s%s)", train_counts, dev_images.counts,
             dataset.protocol.name, f", {strategy.num_replicas_in_sync} replicas" if
             options.strategy != "default" else "")
    skipped = [] if streaming else train_images.skipped
    write_json(out / CONFIG_FILE, {
        "data": describe_data(data_dir), "protocol": dataset.protocol.name,
        "protocol_file": str(protocol) if protocol else None, "weights": str(weights),
        "options": asdict(options), "counts": {"train": train_counts, "dev": dev_images.counts},
        "replicas": strategy.num_replicas_in_sync,
        "skipped": [{"file": f, "reason": r} for f, r in skipped + dev_images.skipped],
    })

    history = {"complete": False, "epochs": []}
    checkpoint, done = _last_checkpoint(out)
    if checkpoint and history_path.exists():
        history = read_json(history_path)
        history["epochs"] = history["epochs"][:done]  # history is written before its checkpoint
        with strategy.scope():
            model = keras.models.load_model(checkpoint)  # compiled: optimizer state too
        log.info("train: resuming after epoch %d", done)
    else:
        with strategy.scope():
            model = _compiled_model(options, weights)
    weights_per_class = class_weights(train_counts)
    if options.teacher:
        teacher = _Teacher(options.teacher)
        train_ds = tf_dataset(train_images, options.batch_size, training=True, seed=options.seed,
                              teacher=teacher.scores(train_images), class_weight=weights_per_class,
                              augment=options.augment, degrade=options.degrade)
        dev_ds = tf_dataset(dev_images, options.batch_size, training=False,
                            teacher=teacher.scores(dev_images))
        weights_per_class = None  # in the samples' weights instead
    else:
        train_ds = (_stream(strategy, dataset, options, weights_per_class) if streaming else
                    tf_dataset(train_images, options.batch_size, training=True, seed=options.seed,
                               augment=options.augment, synth_spoof=options.synth_spoof,
                               synth_families=options.synth_families, degrade=options.degrade))
        weights_per_class = None if streaming else weights_per_class  # in the stream's weights
        dev_ds = tf_dataset(dev_images, options.batch_size, training=False)

    start = time.time()
    model.fit(
        train_ds,
        validation_data=dev_ds,
        epochs=options.epochs,
        steps_per_epoch=-(-sum(train_counts.values()) // options.batch_size) if streaming else None,
        initial_epoch=len(history["epochs"]),
        class_weight=weights_per_class,
        callbacks=[_EpochCheckpoint(out, history, options.select_epoch)],
        verbose=1 if sys.stderr.isatty() else 2,
    )
    if options.arch == "efficientnet-b0":
        pixels = (train_images.pixels if train_images else np.concatenate([
            x.numpy() for x, _ in dataset.stream("train", options.input_size, options.batch_size,
                                                 True, options.seed).take(20)]))
        history["precise_batchnorm_batches"] = precise_batchnorm(model, pixels, seed=options.seed)
    history.update(complete=True, seconds=history.get("seconds", 0) + time.time() - start)
    if options.select_epoch:  # the epoch dev liked best, not the last one
        best = max(history["epochs"], key=lambda e: e.get("val_auc", 0))
        history["selected_epoch"] = best["epoch"]
        model = keras.models.load_model(out / BEST_FILE)
        log.info("train: epoch %d has the best dev AUC (%.4f): kept", best["epoch"], best["val_auc"])
    model = fold_central_difference(model)  # plain convolutions again: nothing extra to export
    if options.flip_average:  # trained on single crops (randomly flipped); scores both views
        model = flip_averaged(model)
    with atomic_path(out / MODEL_FILE, suffix=".keras") as tmp:
        model.save(tmp)
    write_json(history_path, history)
    for stale in [*out.glob(CHECKPOINT_GLOB), out / BEST_FILE]:
        stale.unlink(missing_ok=True)
    return out / MODEL_FILE


def _stream(strategy, dataset, options, class_weight):
    """The packed train split, each input pipeline (one per worker) reading its own shards and
    making per-replica batches of the global batch; class weights as sample weights."""
    return strategy.distribute_datasets_from_function(
        lambda context: dataset.stream(
            "train", options.input_size, context.get_per_replica_batch_size(options.batch_size),
            True, options.seed, (context.input_pipeline_id, context.num_input_pipelines),
            class_weight, options.augment))


def _compiled_model(options, weights):
    """The model to train, compiled: the light model (Adam, binary cross-entropy, or the
    distillation loss with a teacher) or the server model (Rectified Adam, 2-way softmax
    cross-entropy). BatchNorm is frozen when fine-tuning pretrained weights."""
    if options.arch == "efficientnet-b0":
        model = build_server_model(options.input_size, weights)
        if options.freeze_batchnorm and weights is not None:
            freeze_batchnorm(model)
        model.compile(optimizer=RectifiedAdam(options.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    model = build_model(options.backbone, options.head, options.input_size, weights, options.init)
    if options.cdc:
        model = with_central_difference(model, options.cdc)
    if options.freeze_batchnorm:
        freeze_batchnorm(model)
    if options.teacher:
        model.compile(optimizer=keras.optimizers.Adam(options.learning_rate),
                      loss=DistillationLoss(options.distill_alpha, options.temperature),
                      metrics=[LabelAUC(name="auc")])
        return model
    model.compile(optimizer=keras.optimizers.Adam(options.learning_rate, use_ema=options.ema > 0,
                                                  ema_momentum=options.ema or 0.99),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=options.label_smoothing),
                  metrics=["accuracy", keras.metrics.AUC(name="auc"),
                           keras.metrics.Precision(name="precision"),
                           keras.metrics.Recall(name="recall")])
    return model


class _Teacher:
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


def _last_checkpoint(out):
    """The newest epoch checkpoint and its epoch number, or (None, 0)."""
    found = {int(p.stem.rsplit("epoch", 1)[1]): p for p in out.glob(CHECKPOINT_GLOB)}
    return (found[max(found)], max(found)) if found else (None, 0)


class _EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, atomically: the history, then ``checkpoint-epochN.keras``.

    A kill between the two leaves a history one epoch ahead of the newest checkpoint,
    which resuming truncates; the previous checkpoint goes once the new one is in place.
    """

    def __init__(self, out, history, keep_best=False):
        super().__init__()
        self.out, self.history, self.started, self.keep_best = out, history, time.time(), keep_best

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.history["epochs"].append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()},
                                       "seconds": time.time() - self.started})
        if self.keep_best and logs.get("val_auc", 0) >= max(
                e.get("val_auc", 0) for e in self.history["epochs"]):
            with atomic_path(self.out / BEST_FILE, suffix=".keras") as tmp:
                self.model.save(tmp)  # before the history that names it the best
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
