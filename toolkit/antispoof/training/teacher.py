"""Distillation teachers: trained models' or peers' P(spoof) on the training crops.

Several teachers (``--teacher`` repeated) teach their weighted mean, the weights the grid over
the simplex (steps of ``WEIGHT_STEP``) that scores best on dev by the run's selection criterion
(``--select-by``: pooled, mean or worst per-source AUC). A model file's scores (a peer's
``.onnx``, a ``.keras`` file) are cached per crop, keyed by the model file's bytes and the crop
file's bytes, so that every build after the first reads them instead of decoding and scoring each
crop again, wherever the data was copied or moved to since.

With ``--teacher-calibration``, the mixed P(spoof) is then recalibrated on the train split's
labels (Platt scaling: σ(a·logit + b), each class weighing half): one (a, b) for every crop
(``pooled``), or one per training source (``source``; a source of one class, and every crop of no
training source, takes the pooled fit). The teachers' order within a source stays; their offset
on these cameras (pooled), or on each camera (source), does not reach the student.

With ``--teacher-correction swap``, a crop whose (recalibrated) P(spoof) is on the wrong side of
0.5 for its label is taught 1 − P instead: the teacher's confidence kept, its side the label's
(Knowledge Adjustment's probability shift, Wen et al., "Preparing Lessons: Improve Knowledge
Distillation with Better Supervision", 2021, with two classes). The teachers' mistakes on the
training crops do not reach the student; what they order right does.
"""
import hashlib
import itertools
import logging
import os
from pathlib import Path

import numpy as np

from antispoof.core import metrics
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path, cache_folder, read_json, write_json
from antispoof.data.datasets import load_images
from antispoof.models.builders import load_trained, predict
from antispoof.runtime.interpreter import spoof_scores
from antispoof.runtime.peer import PEER_SUFFIX, PeerClassifier

log = logging.getLogger("antispoof")

KEYED_BY = "content"  # in the cache files' names: what their keys are (files keyed otherwise stay unread)
WEIGHT_STEP = 0.1
CALIBRATION_PRIOR = 1.0  # the fit's pull towards (a, b) = (1, 0), against crops' unit weights
CHUNK = 2048  # crops decoded at once at the teacher's size (HyperFAS: 224×224, 300 MB)
CRITERIA = {  # --select-by: the dev figure that chooses the ensemble's weights
    "pooled": lambda labels, scores, sources: metrics.roc_auc(labels, scores),
    "mean-source": lambda labels, scores, sources: metrics.source_auc(labels, scores, sources)["mean_per_source"],
    "worst-source": lambda labels, scores, sources: metrics.source_auc(labels, scores, sources)["worst_per_source"],
}


class ScoreCache:
    """A teacher file's P(spoof) per crop file, in one ``.npz`` per teacher file."""

    def __init__(self, model_file):
        digest = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()[:16]
        name = f"{Path(model_file).stem}-{digest}-{KEYED_BY}.npz"
        self.path = cache_folder("teacher-scores") / name
        self.scores = {}
        if self.path.is_file():
            with np.load(self.path) as stored:
                self.scores = dict(zip(stored["keys"].tolist(), stored["scores"].tolist()))

    def save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path, ".npz") as tmp:
            np.savez(tmp, keys=np.array(list(self.scores), dtype=str),
                     scores=np.array(list(self.scores.values()), np.float32))


def crop_keys(images):
    """The cache keys of ``images``' crops, in order: their content keys, read once per
    ``Images`` (fitting the ensemble or its recalibration, then the stream, reuse them)."""
    return images.content_keys


class Teacher:
    """A trained model's (a run folder or a ``.keras`` file) or a peer's (``.onnx``) P(spoof) on
    a split's crops, decoded at the teacher's input size; the model is opened only when a crop
    is not in the cache. ``stage``: the pipeline stage its log lines name."""

    def __init__(self, path, stage="train"):
        self.path = Path(path)
        self.stage = stage
        self.cache = ScoreCache(self.path) if self.path.is_file() else None
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = (PeerClassifier(self.path, threads=os.cpu_count() or 1)
                           if self.path.suffix == PEER_SUFFIX else load_trained(self.path))
        return self._model

    @property
    def size(self):
        return self.model.input_size if isinstance(self.model, PeerClassifier) else int(self.model.input_shape[1])

    def scores(self, images, keys=None):
        """P(spoof) for the same crops as ``images``: cached ones read, the others decoded again
        at the teacher's size and scored. ``keys``: the crops' cache keys, when already read."""
        if not self.cache:
            keys = [None] * len(images.samples)
        elif keys is None:
            keys = crop_keys(images)
        known = self.cache.scores if self.cache else {}
        missing = [i for i, key in enumerate(keys) if key not in known]
        fresh = {}
        for start in range(0, len(missing), CHUNK):  # a chunk of crops in memory at a time
            chunk = missing[start:start + CHUNK]
            again = load_images([images.samples[i] for i in chunk], self.size, keep=False)
            if len(again.samples) != len(chunk):
                raise AntispoofError(f"{self.path}: the teacher could not decode every crop the student uses")
            if isinstance(self.model, PeerClassifier):
                scored = self.model.predict(again.pixels)
            else:
                scored = spoof_scores(predict(self.model, again.pixels, batch_size=128))
            fresh.update(zip(chunk, scored.tolist()))
        if missing and self.cache:
            known.update((keys[i], score) for i, score in fresh.items())
            self.cache.save()
        log.info("%s: teacher %s: %d crops scored, %d from its cache", self.stage, self.path.name,
                 len(missing), len(keys) - len(missing))
        return np.array([fresh[i] if i in fresh else known[key] for i, key in enumerate(keys)], np.float32)


def _logit(p, eps=1e-6):
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def platt(scores, labels, iterations=100):
    """(a, b) of σ(a·logit(score) + b) fitted to ``labels`` by Newton's method (steps halved
    until the loss falls) on the class-balanced log loss, with a Gaussian prior of weight
    ``CALIBRATION_PRIOR`` on (1, 0) so that a source the teachers order perfectly keeps finite
    scores."""
    z, y = _logit(scores), np.asarray(labels, np.float64)
    spoof = y.mean()
    weight = np.where(y > 0.5, 0.5 / max(spoof, 1e-9), 0.5 / max(1 - spoof, 1e-9))
    x, prior = np.stack([z, np.ones_like(z)], axis=1), np.array([1.0, 0.0])

    def loss(theta):
        margin = (x @ theta) * (2 * y - 1)  # log(1 + e^-m), the log loss of either class
        return weight @ np.logaddexp(0, -margin) + CALIBRATION_PRIOR / 2 * np.sum((theta - prior) ** 2)

    theta = prior.copy()
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ theta, -50, 50)))
        gradient = x.T @ (weight * (p - y)) + CALIBRATION_PRIOR * (theta - prior)
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + CALIBRATION_PRIOR * np.eye(2)
        step, before = np.linalg.solve(hessian, gradient), loss(theta)
        while loss(theta - step) > before and np.abs(step).max() > 1e-12:
            step /= 2
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return [float(theta[0]), float(theta[1])]


def choose_weights(each, labels, sources, criterion):
    """The weights (a point of the simplex grid, steps of WEIGHT_STEP) whose mix of the
    teachers' scores ``each`` (N×T) has the best ``criterion`` on these labels; the first of
    equals in grid order."""
    steps, count = round(1 / WEIGHT_STEP), each.shape[1]
    grid = [np.array(w) / steps for w in itertools.product(range(steps + 1), repeat=count) if sum(w) == steps]
    return max(grid, key=lambda weights: CRITERIA[criterion](labels, each @ weights, sources))


class Ensemble:
    """The teachers' weighted mean P(spoof); ``fit`` chooses the weights on dev."""

    def __init__(self, paths, criterion="pooled", stage="train"):
        self.teachers = [Teacher(p, stage) for p in paths]
        self.stage = stage
        self.criterion = criterion
        self.weights = np.full(len(self.teachers), 1 / len(self.teachers))
        self.calibration = None  # calibrate's fit, or none: the mix as it is
        self.correction = "none"  # or swap: wrong-side scores taught as 1 - P (module docstring)

    def fit(self, dev):
        """Weights of the best dev figure over the simplex grid (one teacher: 1); returns the
        record of the choice: each teacher's dev figure and the ensemble's."""
        each = self._each(dev)
        sources = [s.subject for s in dev.samples]
        self.weights = choose_weights(each, dev.labels, sources, self.criterion)
        figure = lambda weights: CRITERIA[self.criterion](dev.labels, each @ weights, sources)  # noqa: E731
        record = {"teachers": [str(t.path) for t in self.teachers], "criterion": self.criterion,
                  "weights": self.weights.tolist(), "dev": figure(self.weights),
                  "dev_each": [figure(np.eye(len(self.teachers))[i]) for i in range(len(self.teachers))]}
        if len(self.teachers) > 1:
            log.info("train: teachers' dev %s AUC %s; weights %s: %.4f", self.criterion,
                     ", ".join(f"{t.path.stem} {f:.4f}" for t, f in zip(self.teachers, record["dev_each"])),
                     "/".join(f"{w:.1f}" for w in self.weights), record["dev"])
        return record

    def scores(self, images):
        """The weighted mean, recalibrated where ``calibrate`` fitted it, then corrected against
        ``images``' labels (``correction``); a teacher of weight 0 is neither read nor scored."""
        scores = self._recalibrated(images)
        if self.correction == "swap":
            wrong = (scores > 0.5) != (np.asarray(images.labels) > 0.5)
            scores = np.where(wrong, 1 - scores, scores).astype(np.float32)
            log.info("%s: teachers corrected (swap) on %.1f %% of %d crops, on the wrong side of "
                     "0.5 for their labels", self.stage, 100 * wrong.mean(), len(wrong))
        return scores

    def _recalibrated(self, images):
        """The weighted mean, recalibrated where ``calibrate`` fitted it (what ``correction``
        corrects, and what ``calibrate`` fits on before it has a fit)."""
        used = np.flatnonzero(self.weights)
        mixed = self._each(images, used) @ self.weights[used]
        if not self.calibration:
            return mixed
        fits = self.calibration["sources"]
        a, b = np.array([fits.get(s.subject, self.calibration["pooled"]) for s in images.samples],
                        np.float64).reshape(-1, 2).T
        return (1 / (1 + np.exp(-np.clip(a * _logit(mixed) + b, -50, 50)))).astype(np.float32)

    def calibrate(self, train, kind):
        """Fit the mix's recalibration (``kind``: none, pooled or source) on ``train``'s labels;
        returns its record (the pooled (a, b) and each source's)."""
        self.calibration = None
        if kind == "none":
            return None
        mixed, labels = self._recalibrated(train), np.asarray(train.labels)
        subjects = np.array([s.subject for s in train.samples])
        sources = {}
        if kind == "source":
            for subject in np.unique(subjects):
                own = subjects == subject
                if 0 < labels[own].mean() < 1:  # both classes: its own fit
                    sources[str(subject)] = platt(mixed[own], labels[own])
        self.calibration = {"kind": kind, "pooled": platt(mixed, labels), "sources": sources}
        log.info("train: teachers recalibrated on the train labels (%s): pooled a %.2f b %.2f%s",
                 kind, *self.calibration["pooled"],
                 f", {len(sources)} sources of both classes fitted apart" if sources else "")
        return self.calibration

    def _each(self, images, which=None):
        """N×T: the scores of every teacher (or those indexed by ``which``), the crops' cache keys
        read once for all of them."""
        chosen = [self.teachers[i] for i in (range(len(self.teachers)) if which is None else which)]
        keys = crop_keys(images) if any(t.cache for t in chosen) else None
        return np.stack([t.scores(images, keys) for t in chosen], axis=1)


def fit_teachers(paths, dev, criterion, record_path, train=None, calibration="none",
                 correction="none"):
    """The ensemble of ``paths`` with weights chosen on ``dev`` and, with ``calibration``, its
    mix recalibrated on ``train``, then corrected by ``correction``; the choices written to
    ``record_path`` (JSON)."""
    ensemble = Ensemble(paths, criterion)
    record = ensemble.fit(dev)
    if calibration != "none":
        record["calibration"] = ensemble.calibrate(train, calibration)
    if correction != "none":
        ensemble.correction = record["correction"] = correction
    write_json(record_path, record)
    return ensemble


def recorded_teachers(record_path, stage="quantize"):
    """The ensemble a run trained with (its ``teachers.json``), the weights and the
    recalibration as chosen then."""
    record_path = Path(record_path)
    if not record_path.is_file():
        raise AntispoofError(f"{record_path.parent}: no {record_path.name} (a run trained with "
                             "--teacher): nothing to distil from")
    record = read_json(record_path)
    ensemble = Ensemble(record["teachers"], record["criterion"], stage)
    ensemble.weights = np.asarray(record["weights"], np.float64)
    ensemble.calibration = record.get("calibration")
    ensemble.correction = record.get("correction", "none")
    return ensemble
