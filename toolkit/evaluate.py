"""Score a model over a split; the threshold comes from the dev split's EER point."""
from pathlib import Path

from . import metrics
from .data import FaceDataset
from .runtime import open_classifier


def evaluate(model_path, data_dir, split="test", protocol=None, threshold=None, threads=1,
             subject_regex=None, classifier=None):
    """Metrics of ``model_path`` on ``split``; with no ``threshold``, the dev split's EER one."""
    classifier = classifier or open_classifier(model_path, threads)
    dataset = FaceDataset(data_dir, protocol, subject_regex)
    skipped = []

    def score(name):
        images = dataset.load(name, classifier.input_size)
        skipped.extend(images.skipped)
        return images.labels, classifier.predict(images.pixels)

    source = "given"
    if threshold is None:
        _, threshold = metrics.eer(*score("dev"))
        source = "dev EER"
    labels, scores = score(split)
    result = {
        "model": str(model_path),
        "data": str(data_dir),
        "protocol": dataset.protocol.name,
        "split": split,
        **metrics.summary(labels, scores, threshold),
        "threshold_source": source,
        "runtime": classifier.runtime,
        "skipped_images": len(skipped),
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
    }
    return result
