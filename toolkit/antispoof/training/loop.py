"""Fine-tuning on the train split, monitored on the dev split; resumable per epoch."""
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import tf_keras as keras

from antispoof.core import metrics
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path, check_same_record, read_json, write_json
from antispoof.core.rundir import RunDir
from antispoof.data.datasets import describe_data
from antispoof.data.stream import class_weights, tf_dataset
from antispoof.data.loading import open_dataset
from antispoof.data.packing import PackedDataset
from antispoof.models.builders import (SCORE, build_model, flip_averaged, freeze_batchnorm, predict,
                                       set_backbone_trainable)
from antispoof.models.efficientnet import build_server_model
from antispoof.models.layers import (PIXEL_MAP, SOURCE_HEAD, fold_central_difference, main_output,
                                     with_central_difference, with_mixstyle, with_pixel_map,
                                     with_source_head, without_mixstyle)
from antispoof.models.specs import SERVER_ARCH, backbone_spec
from antispoof.models.weights import resolve_weights
from antispoof.training.averaging import WeightAverage
from antispoof.training.batchnorm import precise_batchnorm
from antispoof.training.callbacks import EpochLog
from antispoof.training.distribute import make_strategy, worker_dir
from antispoof.training.losses import DistillationLoss, LabelAUC, PixelMapLoss, SourceLoss
from antispoof.training.optimizers import RectifiedAdam, learning_rate
from antispoof.training.options import SELECTION, TrainOptions
from antispoof.training.teacher import fit_teachers

log = logging.getLogger("antispoof")

# --probe-epochs trains the linear head alone at this many times the learning rate: a logistic
# regression on fixed features, which converges within an epoch where fine-tuning's rate would not
PROBE_RATE_SCALE = 10
# --restarts: candidate k trains with seed S + k * RESTART_SEED_STEP (candidate 0 is seed S's run)
RESTART_SEED_STEP = 1000


def train(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None):
    """Train and write ``model.keras``, ``history.json`` and ``config.json`` under ``out_dir``.

    An interrupted run restarts from its last completed epoch; a finished run is left as it is.
    The steps: open the data, resume (or build) the model, make the streams, fit, finish.
    """
    options = options or TrainOptions()
    if options.restarts > 1:
        return _best_candidate(data_dir, out_dir, weights, options, protocol, subject_regex)
    strategy = make_strategy(options.strategy)  # before any other TensorFlow work
    out = worker_dir(out_dir, options.strategy)
    run = RunDir(out)
    check_run(run, data_dir, options)
    if _complete(run):
        return run.model
    dataset = open_dataset(data_dir, protocol, subject_regex, seed=options.seed)  # a bad folder: now
    if options.init is None:  # "imagenet": the file, before any decoding or training
        weights = resolve_weights(weights, options.arch, backbone_spec(options.backbone).alpha)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(options.seed)

    data = _open_data(run, dataset, data_dir, weights, options, protocol, strategy)
    history, model = _resume(run, strategy, options, weights, data)
    train_ds, dev_ds, class_weight = _streams(run, strategy, data, options)
    started = time.time()
    average = _fit(model, run, history, data, train_ds, dev_ds, class_weight, options)
    return _finish(model, run, history, data, options, started, average)


def _complete(run):
    """Whether ``run`` holds a finished training (said in a log line): nothing to do then."""
    done = run.model.exists() and run.history.exists() and read_json(run.history)["complete"]
    if done:
        log.info("train: %s is complete, nothing to do", run.model)
    return done


def _figure_name(key):
    """An epoch log's dev figure as the log lines name it: ``val_worst_source_auc`` → ``dev
    worst source auc``."""
    return key.replace("val_", "dev ").replace("_", " ")


def _best_candidate(data_dir, out_dir, weights, options, protocol, subject_regex):
    """--restarts N: N runs of the same options but the seed, one after another under
    ``candidates/seed-K`` (each resumable); the one whose kept epoch has the best dev figure of
    --select-by (the first of equals) becomes the run: its model, teachers' record and history,
    with every candidate's figure in the history and config.json."""
    run = RunDir(out_dir)
    check_run(run, data_dir, options)
    if _complete(run):
        return run.model
    key, candidates = SELECTION[options.select_by], {}
    for k in range(options.restarts):
        seed = options.seed + k * RESTART_SEED_STEP
        folder = RunDir(run.path / "candidates" / f"seed-{seed}")
        log.info("train: candidate %d of %d, seed %d → %s", k + 1, options.restarts, seed, folder.path)
        train(data_dir, folder.path, weights, replace(options, seed=seed, restarts=1), protocol,
              subject_regex)
        history = read_json(folder.history)
        candidates[seed] = (folder, history["epochs"][history["selected_epoch"] - 1][key],
                            history["seconds"])
    best = max(candidates, key=lambda seed: candidates[seed][1])
    chosen = candidates[best][0]
    figures = [{"seed": seed, "dev": figure} for seed, (_, figure, _) in candidates.items()]
    log.info("train: candidate seed %d has the best %s (%s): kept", best,
             _figure_name(key), ", ".join(f"seed {f['seed']} {f['dev']:.4f}" for f in figures))
    write_json(run.config, {**read_json(chosen.config), **_record(data_dir, options),
                            "candidates": figures, "chosen_seed": best})
    if chosen.teachers.exists():
        write_json(run.teachers, read_json(chosen.teachers))
    with atomic_path(run.model, suffix=".keras") as tmp:
        shutil.copyfile(chosen.model, tmp)
    history = read_json(chosen.history)  # last: its "complete" marks the run done
    write_json(run.history, {**history, "candidates": figures, "chosen_seed": best, "selected_by": key,
                             "seconds": sum(seconds for _, _, seconds in candidates.values())})
    return run.model


def _record(data_dir, options):
    """What makes a training run this run: its data and options (config.json records them)."""
    return {"data": describe_data(data_dir), "options": asdict(options)}


def _counted(counts):
    """{"real": 93, "spoof": 107} → ``93 real + 107 spoof``."""
    return " + ".join(f"{n} {name}" for name, n in counts.items())


def check_run(run, data_dir, options):
    """A run folder of other data or options is never resumed or reused: one error naming the
    flags that differ."""
    if run.config.exists():
        recorded, record = read_json(run.config), _record(data_dir, options)
        # an option added since the run was made had its default then; before --teacher was
        # repeatable, the teacher was one path or null
        recorded["options"] = {**asdict(TrainOptions()), **recorded.get("options", {})}
        teacher = recorded["options"]["teacher"]
        if not isinstance(teacher, (list, tuple)):
            recorded["options"]["teacher"] = [teacher] if teacher else []
        check_same_record(run.path, recorded, record, "a training run")


@dataclass
class _Data:
    """What training reads: the dataset, its decoded train split (None when the packed train
    split is streamed from its shards), the decoded dev split and the train counts."""
    dataset: object
    train: object
    dev: object
    counts: dict
    streaming: bool
    steps_per_epoch: int

    @property
    def sources(self):
        """The train split's sources (subjects), sorted: the source head's classes."""
        return sorted({s.subject for s in self.train.samples})

    def source_targets(self, images):
        """[source index, label] per crop of ``images`` for the source head (index −1: a
        source training does not have, e.g. a dev source)."""
        index = {name: i for i, name in enumerate(self.sources)}
        return np.array([[index.get(s.subject, -1), s.label] for s in images.samples], np.float32)


def _open_data(run, dataset, data_dir, weights, options, protocol, strategy):
    """Decode the splits, check the options against the dataset, write config.json."""
    # a packed dataset streams its train split from the shards; quick (--limit) runs load it
    streaming = isinstance(dataset, PackedDataset) and options.limit is None
    if isinstance(dataset, PackedDataset) and options.teacher:
        raise AntispoofError(f"{data_dir}: --teacher reads crop files; give the unpacked dataset")
    if streaming and options.synth_spoof:
        raise AntispoofError(f"{data_dir}: --synth-spoof works on decoded crops; give the unpacked "
                             "dataset (or --limit)")
    if streaming and options.balance != "size":
        raise AntispoofError(f"{data_dir}: --balance {options.balance} resamples decoded crops; give "
                             "the unpacked dataset (or --limit)")
    if streaming and options.adversarial:
        raise AntispoofError(f"{data_dir}: --adversarial needs each decoded crop's source; give the "
                             "unpacked dataset (or --limit)")
    train_images = None if streaming else dataset.load("train", options.input_size, options.limit,
                                                       options.seed, balance=options.balance)
    train_counts = dataset.counts("train") if streaming else train_images.counts
    dev_images = dataset.load("dev", options.input_size, options.limit, options.seed)
    log.info("train: %s train and %s dev crops (protocol %s%s)", _counted(train_counts),
             _counted(dev_images.counts), dataset.protocol.name,
             f", {strategy.num_replicas_in_sync} replicas" if options.strategy != "default" else "")
    skipped = [] if streaming else train_images.skipped
    write_json(run.config, {
        **_record(data_dir, options), "protocol": dataset.protocol.name,
        "protocol_file": str(protocol) if protocol else None, "weights": str(weights),
        "counts": {"train": train_counts, "dev": dev_images.counts},
        "replicas": strategy.num_replicas_in_sync,
        "skipped": [{"file": f, "reason": r} for f, r in skipped + dev_images.skipped],
    })
    steps_per_epoch = -(-sum(train_counts.values()) // options.batch_size)
    return _Data(dataset, train_images, dev_images, train_counts, streaming, steps_per_epoch)


def _resume(run, strategy, options, weights, data):
    """(history, compiled model): from the newest epoch checkpoint, or new."""
    history = {"complete": False, "epochs": []}
    checkpoint, done = _last_checkpoint(run)
    if checkpoint and run.history.exists():
        history = read_json(run.history)
        history["epochs"] = history["epochs"][:done]  # history is written before its checkpoint
        with strategy.scope():
            model = keras.models.load_model(checkpoint)  # compiled: optimizer state too
            if done == options.probe_epochs:  # the head is probed: now the whole network
                _fine_tune_all(model, options, data.steps_per_epoch)
        log.info("train: resuming after epoch %d", done)
    else:
        with strategy.scope():
            model = _compiled_model(options, weights, data.steps_per_epoch,
                                    len(data.sources) if options.adversarial else 0)
    return history, model


def _streams(run, strategy, data, options):
    """(train stream, dev stream, Keras class_weight or None when the stream carries the
    weights): the teachers' scores as a second target column when distilling, each crop's
    [source, label] as the source head's target with --adversarial."""
    weights_per_class = class_weights(data.counts)
    if options.teacher or options.adversarial:  # class weights as the samples' weights
        teacher = (fit_teachers(options.teacher, data.dev, options.select_by, run.teachers,
                                data.train, options.teacher_calibration,
                                options.teacher_correction)
                   if options.teacher else None)

        def stream(images, training):
            return tf_dataset(images, options.batch_size, training=training, seed=options.seed,
                              teacher=teacher.scores(images) if teacher else None,
                              class_weight=weights_per_class if training else None,
                              augment=training and options.augment,
                              degrade=options.degrade if training else 0.0,
                              extra_targets={SOURCE_HEAD: data.source_targets(images)}
                              if options.adversarial else None, score=SCORE)
        return stream(data.train, True), stream(data.dev, False), None
    if data.streaming:
        return (_stream(strategy, data.dataset, options, weights_per_class),
                tf_dataset(data.dev, options.batch_size, training=False), None)
    train_ds = tf_dataset(data.train, options.batch_size, training=True, seed=options.seed,
                          augment=options.augment, synth_spoof=options.synth_spoof,
                          synth_families=options.synth_families, degrade=options.degrade)
    return train_ds, tf_dataset(data.dev, options.batch_size, training=False), weights_per_class


def _fit(model, run, history, data, train_ds, dev_ds, class_weight, options):
    """The remaining epochs, each checkpointed (and the best kept with --select-epoch): with
    --probe-epochs, the head alone first, then the whole network. With --average-weights, the
    weights' running mean (``WeightAverage``) over the whole network's epochs; returned."""
    average = (WeightAverage(run, options.probe_epochs, len(history["epochs"]))
               if options.average_weights else None)

    def fit(epochs):
        model.fit(
            train_ds,
            validation_data=dev_ds,
            epochs=epochs,
            steps_per_epoch=data.steps_per_epoch if data.streaming else None,
            initial_epoch=len(history["epochs"]),
            class_weight=class_weight,
            callbacks=[*([average] if average else []),
                       *([_DevSourceAUC(data.dev, options.batch_size)]
                         if options.select_epoch and options.select_by != "pooled" else []),
                       _EpochCheckpoint(run, history,
                                        options.select_epoch and SELECTION[options.select_by],
                                        average),
                       EpochLog("train", options.epochs)],
            verbose=0,  # EpochLog: our lines on stderr, a bar on a terminal
        )

    if len(history["epochs"]) < options.probe_epochs:
        fit(options.probe_epochs)
        _fine_tune_all(model, options, data.steps_per_epoch)
    fit(options.epochs)
    return average


def _finish(model, run, history, data, options, started, average=None):
    """Precise BatchNorm (server model), the epoch dev liked best (--select-epoch) or the
    weights' mean (--average-weights), the score alone with plain convolutions (and
    flip-averaged): saved as model.keras; checkpoints go."""
    if options.arch == SERVER_ARCH:
        pixels = (data.train.pixels if data.train else np.concatenate([
            x.numpy() for x, _ in data.dataset.stream("train", options.input_size, options.batch_size,
                                                      True, options.seed).take(20)]))
        history["precise_batchnorm_batches"] = precise_batchnorm(model, pixels, seed=options.seed)
    history.update(complete=True, seconds=history.get("seconds", 0) + time.time() - started)
    if options.select_epoch:  # the epoch dev liked best, not the last one
        key = SELECTION[options.select_by]
        # a tie goes to the later epoch, as _EpochCheckpoint kept it (>=)
        best = max(history["epochs"], key=lambda e: (e.get(key, 0), e["epoch"]))
        history["selected_epoch"], history["selected_by"] = best["epoch"], key
        model = keras.models.load_model(run.best)
        log.info("train: epoch %d has the best %s (%.4f): kept", best["epoch"],
                 _figure_name(key), best[key])
    elif average:
        average.load_into(model)
    # the score alone (no pixel map, no source head), plain convolutions: nothing extra to export
    model = fold_central_difference(without_mixstyle(main_output(model)))
    if options.flip_average:  # trained on single crops (randomly flipped); scores both views
        model = flip_averaged(model)
    with atomic_path(run.model, suffix=".keras") as tmp:
        model.save(tmp)
    write_json(run.history, history)
    for stale in [*run.checkpoints().values(), *run.averages().values(), run.best]:
        stale.unlink(missing_ok=True)
    return run.model


def _stream(strategy, dataset, options, class_weight):
    """The packed train split, each input pipeline (one per worker) reading its own shards and
    making per-replica batches of the global batch; class weights as sample weights."""
    return strategy.distribute_datasets_from_function(
        lambda context: dataset.stream(
            "train", options.input_size, context.get_per_replica_batch_size(options.batch_size),
            True, options.seed, (context.input_pipeline_id, context.num_input_pipelines),
            class_weight, options.augment))


def _compiled_model(options, weights, steps_per_epoch=1, sources=0):
    """The model to train, compiled: the light model (Adam, binary cross-entropy, or the
    distillation loss with a teacher; with ``options.adversarial``, a head classifying its
    ``sources`` training sources) or the server model (Rectified Adam, 2-way softmax
    cross-entropy). BatchNorm is frozen when fine-tuning pretrained weights; the learning rate
    follows ``options.lr_schedule`` over ``options.epochs`` of ``steps_per_epoch`` (with
    ``options.probe_epochs``: over those, the head alone, and ``_fine_tune_all`` starts the rest)."""
    if options.arch == SERVER_ARCH:
        rate = learning_rate(options.learning_rate, options.lr_schedule,
                             options.epochs * steps_per_epoch)
        model = build_server_model(options.input_size, weights)
        if options.freeze_batchnorm and weights is not None:
            freeze_batchnorm(model)
        model.compile(optimizer=RectifiedAdam(rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    model = build_model(options.backbone, options.head, options.input_size, weights, options.init)
    if options.cdc:
        model = with_central_difference(model, options.cdc)
    if options.mixstyle:
        model = with_mixstyle(model, options.mixstyle)
    if options.freeze_batchnorm:
        freeze_batchnorm(model)
    if options.adversarial:
        model = with_source_head(model, sources)
    elif options.pixel_supervision:
        model = with_pixel_map(model)  # the score's target serves both outputs
    if options.probe_epochs:  # the head alone first (_fine_tune_all frees the rest)
        set_backbone_trainable(model, False)
        return _compile(model, options, options.probe_epochs * steps_per_epoch, PROBE_RATE_SCALE)
    return _compile(model, options, options.epochs * steps_per_epoch)


def _fine_tune_all(model, options, steps_per_epoch):
    """After the probe epochs: the whole network trainable (BatchNorm frozen again as asked),
    compiled anew for the epochs left."""
    set_backbone_trainable(model, True)
    if options.freeze_batchnorm:
        freeze_batchnorm(model)
    _compile(model, options, (options.epochs - options.probe_epochs) * steps_per_epoch)


def _compile(model, options, steps, rate_scale=1):
    """Compile the light model for ``steps`` training steps: Adam (at ``rate_scale`` times the
    learning rate), and binary cross-entropy or the distillation loss with a teacher; a
    training-only output gets its own loss."""
    rate = learning_rate(options.learning_rate * rate_scale, options.lr_schedule, steps)
    optimizer = keras.optimizers.Adam(rate, use_ema=options.ema > 0,
                                      ema_momentum=options.ema or 0.99)
    if options.teacher:
        loss, metrics = (DistillationLoss(options.distill_alpha, options.temperature),
                         [LabelAUC(name="auc")])
    else:
        loss = keras.losses.BinaryCrossentropy(label_smoothing=options.label_smoothing)
        metrics = ["accuracy", keras.metrics.AUC(name="auc"), keras.metrics.Precision(name="precision"),
                   keras.metrics.Recall(name="recall")]
    if options.adversarial:  # the score and the source head, each with its own target
        model.compile(optimizer=optimizer, loss={SCORE: loss, SOURCE_HEAD: SourceLoss()},
                      loss_weights={SCORE: 1.0, SOURCE_HEAD: options.adversarial},
                      metrics={SCORE: metrics})
        return model
    if not options.pixel_supervision:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return model
    model.compile(optimizer=optimizer, loss={SCORE: loss, PIXEL_MAP: PixelMapLoss()},
                  loss_weights={SCORE: 1.0, PIXEL_MAP: options.pixel_supervision},
                  metrics={SCORE: metrics})
    return model


def _score_metrics(logs):
    """Epoch logs with the score's metrics under their one-output names (``score_auc`` →
    ``auc``, ``val_score_auc`` → ``val_auc``) when a training-only output is attached; the
    losses keep theirs (``loss`` is the total)."""
    return {re.sub(r"^(val_)?score_(?!loss$)", r"\1", k): float(v) for k, v in logs.items()}


def _last_checkpoint(run):
    """The newest epoch checkpoint and its epoch number, or (None, 0)."""
    found = run.checkpoints()
    return (found[max(found)], max(found)) if found else (None, 0)


class _DevSourceAUC(keras.callbacks.Callback):
    """After each epoch, the mean and the worst AUC over the dev split's sources (subjects),
    added to the epoch's logs (``val_mean_source_auc``, ``val_worst_source_auc``) before the
    checkpoint reads them."""

    def __init__(self, dev, batch_size):
        super().__init__()
        self.dev, self.batch_size = dev, batch_size
        self.subjects = np.array([s.subject for s in dev.samples])

    def on_epoch_end(self, epoch, logs=None):
        outputs = predict(self.model, self.dev.pixels, self.batch_size)
        scores = (outputs[0] if isinstance(outputs, list) else outputs).reshape(-1)
        sources = metrics.source_auc(self.dev.labels, scores, self.subjects)
        logs["val_mean_source_auc"] = sources["mean_per_source"] or 0.0
        logs["val_worst_source_auc"] = sources["worst_per_source"] or 0.0


class _EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, atomically: the history, then ``checkpoint-epochN.keras``.

    A kill between the two leaves a history one epoch ahead of the newest checkpoint,
    which resuming truncates; the previous checkpoint goes once the new one is in place.
    """

    def __init__(self, run, history, keep_best=None, average=None):
        """``keep_best``: the epoch log entry whose highest value keeps ``best-epoch.keras``;
        ``average``: a ``WeightAverage`` whose mean the figures and the best model are of, and
        which is kept beside each checkpoint (training's own weights)."""
        super().__init__()
        self.run, self.history, self.started, self.keep_best = run, history, time.time(), keep_best
        self.average = average

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = _score_metrics(logs)
        self.history["epochs"].append({"epoch": epoch + 1, **logs, "seconds": time.time() - self.started})
        if self.keep_best and logs.get(self.keep_best, 0) >= max(
                e.get(self.keep_best, 0) for e in self.history["epochs"]):
            with atomic_path(self.run.best, suffix=".keras") as tmp:
                self.model.save(tmp)  # before the history that names it the best
        write_json(self.run.history, self.history)
        previous, done = _last_checkpoint(self.run)
        if self.average:
            self.average.end_epoch(epoch + 1)
        with atomic_path(self.run.checkpoint(epoch + 1), suffix=".keras") as tmp:
            self.model.save(tmp)
        if previous:
            previous.unlink()
            self.run.average(done).unlink(missing_ok=True)
