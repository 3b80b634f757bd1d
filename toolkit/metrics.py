"""Presentation-attack-detection metrics (ISO/IEC 30107-3 terms).

Labels: 0 = bona fide (real), 1 = attack (spoof). Scores are P(spoof); a crop is
called spoof when its score is at or above the threshold.
APCER: share of attacks called real. BPCER: share of bona fide called spoof.
"""
import numpy as np


def _split(labels, scores):
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    return scores[labels == 0], scores[labels == 1]


def apcer(labels, scores, threshold):
    _, spoof = _split(labels, scores)
    return float(np.mean(spoof < threshold))


def bpcer(labels, scores, threshold):
    real, _ = _split(labels, scores)
    return float(np.mean(real >= threshold))


def roc_auc(labels, scores):
    """Probability that a random attack scores above a random bona fide one (ties count half)."""
    real, spoof = _split(labels, scores)
    ranks = _average_ranks(np.concatenate([real, spoof]))
    spoof_rank_sum = ranks[len(real):].sum()
    return float((spoof_rank_sum - len(spoof) * (len(spoof) + 1) / 2) / (len(real) * len(spoof)))


def _average_ranks(values):
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2
    return ranks


def eer(labels, scores):
    """Equal error rate and the threshold where APCER and BPCER are closest: (eer, threshold)."""
    real, spoof = (np.sort(s) for s in _split(labels, scores))
    above_all = np.nextafter(max(real.max(), spoof.max()), np.inf)
    candidates = np.unique(np.concatenate([real, spoof, [above_all]]))
    apcers = np.searchsorted(spoof, candidates, side="left") / len(spoof)
    bpcers = 1 - np.searchsorted(real, candidates, side="left") / len(real)
    best = int(np.argmin(np.abs(apcers - bpcers)))
    return float((apcers[best] + bpcers[best]) / 2), float(candidates[best])


def confusion_matrix(labels, scores, threshold):
    """Rows: true real, true spoof; columns: called real, called spoof."""
    labels = np.asarray(labels)
    called_spoof = np.asarray(scores) >= threshold
    return [[int(np.sum((labels == t) & (called_spoof == bool(c)))) for c in (0, 1)] for t in (0, 1)]


def f1(labels, scores, threshold):
    """F1 of the spoof class."""
    (tn, fp), (fn, tp) = confusion_matrix(labels, scores, threshold)
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


def summary(labels, scores, threshold):
    a, b = apcer(labels, scores, threshold), bpcer(labels, scores, threshold)
    matrix = confusion_matrix(labels, scores, threshold)
    equal_error, _ = eer(labels, scores)
    return {
        "n_real": int(np.sum(np.asarray(labels) == 0)),
        "n_spoof": int(np.sum(np.asarray(labels) == 1)),
        "auc": roc_auc(labels, scores),
        "eer": equal_error,
        "threshold": float(threshold),
        "apcer": a,
        "bpcer": b,
        "acer": (a + b) / 2,
        "f1": f1(labels, scores, threshold),
        "accuracy": (matrix[0][0] + matrix[1][1]) / len(labels),
        "confusion_matrix": matrix,
    }
