"""Score a model over a split; thresholds come from the dev split (EER point unless given)."""
import numpy as np

from . import metrics
from .data import open_dataset
from .errors import AntispoofError
from .runtime import open_classifier

# name -> (function choosing a threshold on dev, target rate)
OPERATING_POINTS = {
    "bpcer@apcer=1%": (metrics.threshold_at_apcer, 0.01),
    "bpcer@apcer=5%": (metrics.threshold_at_apcer, 0.05),
    "bpcer@apcer=10%": (metrics.threshold_at_apcer, 0.10),
    "apcer@bpcer=1%": (metrics.threshold_at_bpcer, 0.01),
}


class Scored:
    """A split's crops, their labels, subjects and attack types, and the model's scores."""

    def __init__(self, classifier, dataset, split):
        self.images = dataset.load(split, classifier.input_size)
        self.labels = self.images.labels
        self.subjects = np.array([s.subject for s in self.images.samples])
        self.attacks = np.array([s.attack for s in self.images.samples])
        self.scores = classifier.predict(self.images.pixels)


def evaluate(model_path, data_dir, split="test", protocol=None, threshold=None, threads=1,
             subject_regex=None, resamples=1000, operating_point="eer"):
    """Metrics of ``model_path`` on ``split`` at a threshold from the dev split.

    ``operating_point``: ``"eer"`` or a name in ``OPERATING_POINTS``, where the dev split sets
    the threshold (ignored when ``threshold`` is given). ``resamples``: bootstrap resamples of
    the split's subjects for 95 % intervals (0: none).
    """
    classifier = open_classifier(model_path, threads)
    dataset = open_dataset(data_dir, protocol, subject_regex)
    result, _ = assess(classifier, dataset, split, threshold, resamples, operating_point)
    return {"model": str(model_path), "data": str(data_dir), **result}


def assess(classifier, dataset, split="test", threshold=None, resamples=1000, operating_point="eer"):
    """(metrics, the scored split) of a classifier on a dataset's split."""
    if operating_point != "eer" and operating_point not in OPERATING_POINTS:
        raise AntispoofError(f"unknown operating point {operating_point!r}: choose eer or "
                             f"{', '.join(OPERATING_POINTS)}")
    dev = Scored(classifier, dataset, "dev")
    scored = dev if split == "dev" else Scored(classifier, dataset, split)
    source = "given"
    if threshold is None and operating_point == "eer":
        _, threshold = metrics.eer(dev.labels, dev.scores)
        source = "dev EER"
    elif threshold is None:
        choose, target = OPERATING_POINTS[operating_point]
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
    for name, (choose, target) in OPERATING_POINTS.items():
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
    skipped = dev.images.skipped + (scored.images.skipped if scored is not dev else [])
    result["skipped_images"] = len(skipped)
    result["skipped"] = [{"file": f, "reason": r} for f, r in skipped]
    return result, scored
