"""Score a model over a split; thresholds come from the dev split (EER point unless given)."""
import csv
import logging

import numpy as np

from antispoof.core.model_contract import contract_threshold
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path
from antispoof.data.datasets import ALL, SPLITS, describe_data
from antispoof.data.loading import open_dataset
from antispoof.core import metrics
from antispoof.runtime.interpreter import open_classifier

log = logging.getLogger("antispoof")


class Scored:
    """A split's crops, their labels, subjects and attack types, and the model's scores."""

    def __init__(self, classifier, dataset, split, limit=None, images=None):
        """``images``: the split's crops, decoded already at the classifier's input size."""
        self.images = images if images is not None else dataset.load(split, classifier.input_size,
                                                                        limit)
        self.labels = self.images.labels
        self.subjects = np.array([s.subject for s in self.images.samples])
        self.attacks = np.array([s.attack for s in self.images.samples])
        self.datasets = np.array([s.dataset for s in self.images.samples])
        self.scores = classifier.predict(self.images.pixels)


def assess_run(classifier, config, resamples=1000):
    """``assess`` on exactly the crops a build scored (its config.json: the data, the protocol,
    the seed and ``--limit``), so that a report, a model card and a peer beside the model give
    the run's own figures."""
    options = config.get("options", {})
    dataset = open_dataset(config["data"], config.get("protocol_file"), seed=options.get("seed", 0))
    return assess(classifier, dataset, "test", resamples=resamples, limit=options.get("limit"))


def evaluate(model_path, data_dir, split="test", protocol=None, threshold=None, threads=1,
             subject_regex=None, resamples=1000, operating_point=None, scores_out=None):
    """Metrics of ``model_path`` on ``split`` (``"all"``: every image) at one threshold.

    The threshold is ``threshold`` if given; else, with ``operating_point`` (``"eer"`` or a name
    in ``metrics.OPERATING_POINTS``), the one the dev split sets there; else the one the model's
    ``model.json`` records for this file; else the dev split's EER point. ``resamples``:
    bootstrap resamples of the split's subjects for 95 % intervals (0: none). ``scores_out``:
    a CSV of every scored image (file, label, subject, attack, score).
    """
    if split not in SPLITS + (ALL,):
        raise AntispoofError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)} or {ALL}")
    source = "given"
    if threshold is None and operating_point is None:
        threshold, recorded = contract_threshold(model_path)
        source = f"model.json: {recorded}" if threshold is not None else source
    if split == ALL and threshold is None:
        raise AntispoofError(f"{model_path}: --split all scores every image, so no dev split is "
                             "left to choose a threshold: give --threshold (or a model with its "
                             "model.json)")
    classifier = open_classifier(model_path, threads)
    dataset = open_dataset(data_dir, protocol, subject_regex)
    if split == ALL and not hasattr(dataset, "samples"):
        raise AntispoofError(f"{data_dir}: a packed dataset holds its train/dev/test splits only; "
                             "--split all reads a folder of crops")
    if dataset.protocol.name.startswith("auto") and split != ALL:
        log.warning("warning: %s has no protocol.json: the %s split is a seeded choice of "
                    "subjects (%s); --split all scores every image", data_dir, split,
                    dataset.protocol.name)
    result, scored = assess(classifier, dataset, split, threshold, resamples,
                            operating_point or "eer", threshold_source=source)
    if scores_out:
        write_scores(scores_out, scored)
    return {"model": str(model_path), "data": describe_data(data_dir), **result}


def write_scores(path, scored):
    """One CSV row per scored image: file, label, subject, attack, score."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "subject", "attack", "score"])
        for sample, score in zip(scored.images.samples, scored.scores):
            writer.writerow([sample.path, ("real", "spoof")[sample.label], sample.subject,
                             sample.attack, f"{score:.6f}"])


def assess(classifier, dataset, split="test", threshold=None, resamples=1000, operating_point="eer",
           limit=None, threshold_source="given"):
    """(metrics, the scored split) of a classifier on a dataset's split (at most ``limit`` images
    of each split read). Without a ``threshold``, the dev split chooses one; with one, a dataset
    without a dev split is scored all the same (no operating points then)."""
    if operating_point != "eer" and operating_point not in metrics.OPERATING_POINTS:
        raise AntispoofError(f"unknown operating point {operating_point!r}: choose eer or "
                             f"{', '.join(metrics.OPERATING_POINTS)}")
    try:
        dev = Scored(classifier, dataset, "dev", limit) if split != ALL or threshold is None else None
    except AntispoofError:
        if threshold is None or split == "dev":
            raise
        dev = None  # every subject is in the scored split: the given threshold is all it needs
    scored = dev if split == "dev" else Scored(classifier, dataset, split, limit)
    source = threshold_source
    if threshold is None and operating_point == "eer":
        _, threshold = metrics.eer(dev.labels, dev.scores)
        source = "dev EER"
    elif threshold is None:
        choose, target = metrics.OPERATING_POINTS[operating_point]
        threshold = choose(dev.labels, dev.scores, target)
        source = f"dev {operating_point}"
    labels, scores = scored.labels, scored.scores
    result = {
        "protocol": dataset.protocol.name,
        "split": split,
        **metrics.summary(labels, scores, threshold, scored.attacks),
        "threshold_source": source,
        "operating_points": {},
        "runtime": classifier.runtime,
    }
    for name, (choose, target) in metrics.OPERATING_POINTS.items() if dev else ():
        t = choose(dev.labels, dev.scores, target)
        result["operating_points"][name] = {
            "threshold": t, "apcer": metrics.apcer(labels, scores, t),
            "bpcer": metrics.bpcer(labels, scores, t)}
    if resamples:
        attacks = scored.attacks
        result["ci95"] = {
            "auc": metrics.bootstrap_ci(labels, scored.subjects,
                                        lambda i: metrics.roc_auc(labels[i], scores[i]), resamples),
            "acer": metrics.bootstrap_ci(
                labels, scored.subjects,
                lambda i: metrics.acer(labels[i], scores[i], attacks[i], threshold), resamples),
            "resampled": f"{len(set(scored.subjects))} {split} subjects, {resamples} times",
        }
    result["subjects"] = metrics.per_group(labels, scores, scored.subjects, threshold)
    if len(set(scored.datasets)) > 1:  # several datasets: each one's figures at the same threshold
        result["datasets"] = {}
        for name in sorted(set(scored.datasets)):
            mine = scored.datasets == name
            if len(set(labels[mine])) == 2:
                result["datasets"][name] = metrics.summary(labels[mine], scores[mine], threshold,
                                                           scored.attacks[mine])
    skipped = (dev.images.skipped if dev else []) + (scored.images.skipped if scored is not dev else [])
    result["skipped_images"] = len(skipped)
    result["skipped"] = [{"file": f, "reason": r} for f, r in skipped]
    return result, scored
