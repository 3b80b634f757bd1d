"""Presentation-attack-detection metrics (ISO/IEC 30107-3 terms).

Labels: 0 = bona fide (real), 1 = attack (spoof). Scores are P(spoof); a crop is
called spoof when its score is at or above the threshold. Scores are float32 (what every runtime
returns); a threshold that has to sit just above a score is the next float32, so comparing in
float32 (an app, numpy with a float32 array) and in float64 gives the same calls.
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


def _just_above(score):
    """The next float32 above ``score``: the lowest threshold that calls ``score`` real."""
    return float(np.nextafter(np.float32(score), np.float32(np.inf)))


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
    """Equal error rate and its threshold: (eer, threshold).

    Rates only change at score values, so the best |APCER - BPCER| holds on an interval of
    thresholds (wide when the classes separate). The threshold is its centre, not an edge that
    one class's extreme score defines.
    """
    real, spoof = (np.sort(s) for s in _split(labels, scores))
    above_all = _just_above(max(real.max(), spoof.max()))
    candidates = np.unique(np.concatenate([real, spoof, [above_all]]))
    apcers = np.searchsorted(spoof, candidates, side="left") / len(spoof)
    bpcers = 1 - np.searchsorted(real, candidates, side="left") / len(real)
    gaps = np.abs(apcers - bpcers)
    first = int(np.argmin(gaps))
    last = first
    while last + 1 < len(candidates) and gaps[last + 1] == gaps[first] \
            and apcers[last + 1] == apcers[first] and bpcers[last + 1] == bpcers[first]:
        last += 1
    # every threshold in (candidates[first - 1], candidates[last]] gives these rates
    threshold = candidates[last]
    if first:  # the centre, as a float32 strictly above the interval's open end
        threshold = max(np.float32((candidates[first - 1] + threshold) / 2),
                        _just_above(candidates[first - 1]))
    return float((apcers[first] + bpcers[first]) / 2), float(threshold)


def apcer_per_attack(labels, scores, attacks, threshold):
    """APCER of each attack type (``attacks`` holds each sample's type; bona fide ones are ignored)."""
    labels, scores, attacks = np.asarray(labels), np.asarray(scores), np.asarray(attacks)
    return {str(a): float(np.mean(scores[(labels == 1) & (attacks == a)] < threshold))
            for a in sorted(set(attacks[labels == 1]))}


def threshold_at_apcer(labels, scores, target):
    """The highest threshold whose APCER is at most ``target`` (lowest BPCER under that bound)."""
    _, spoof = _split(labels, scores)
    spoof = np.sort(spoof)
    allowed = int(np.floor(target * len(spoof) + 1e-9))  # attacks that may score below it
    return float(spoof[allowed]) if allowed < len(spoof) else _just_above(spoof[-1])


def threshold_at_bpcer(labels, scores, target):
    """The lowest threshold whose BPCER is at most ``target`` (lowest APCER under that bound)."""
    real, _ = _split(labels, scores)
    descending = np.sort(real)[::-1]
    allowed = int(np.floor(target * len(real) + 1e-9))  # bona fide that may score at or above it
    return _just_above(descending[allowed]) if allowed < len(real) \
        else float(descending[-1])


def bootstrap_ci(labels, subjects, metric, resamples=1000, seed=0, level=0.95):
    """Percentile interval of ``metric(indices)`` over resampled subjects (with replacement);
    resamples that lack a class are skipped."""
    labels, subjects = np.asarray(labels), np.asarray(subjects)
    ids = np.unique(subjects)
    members = {s: np.flatnonzero(subjects == s) for s in ids}
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = np.concatenate([members[s] for s in rng.choice(ids, len(ids))])
        if len(np.unique(labels[idx])) == 2:
            values.append(metric(idx))
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def confusion_matrix(labels, scores, threshold):
    """Rows: true real, true spoof; columns: called real, called spoof."""
    labels = np.asarray(labels)
    called_spoof = np.asarray(scores) >= threshold
    return [[int(np.sum((labels == t) & (called_spoof == bool(c)))) for c in (0, 1)] for t in (0, 1)]


def f1(labels, scores, threshold):
    """F1 of the spoof class."""
    (tn, fp), (fn, tp) = confusion_matrix(labels, scores, threshold)
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


def acer(labels, scores, attacks, threshold):
    """ISO/IEC 30107-3 ACER: the worst attack type's APCER and the BPCER, averaged."""
    worst = max(apcer_per_attack(labels, scores, attacks, threshold).values())
    return (worst + bpcer(labels, scores, threshold)) / 2


def summary(labels, scores, threshold, attacks=None):
    """Every metric at one threshold; ``attacks`` (per-sample attack type) splits APCER."""
    attacks = np.where(np.asarray(labels) == 1, "attack", "") if attacks is None else attacks
    a, b = apcer(labels, scores, threshold), bpcer(labels, scores, threshold)
    per_attack = apcer_per_attack(labels, scores, attacks, threshold)
    (tn, fp), (fn, tp) = matrix = confusion_matrix(labels, scores, threshold)
    equal_error, _ = eer(labels, scores)
    return {
        "n_real": tn + fp,
        "n_spoof": fn + tp,
        "auc": roc_auc(labels, scores),
        "eer": equal_error,
        "threshold": float(threshold),
        "apcer": a,
        "apcer_per_attack": per_attack,
        "apcer_max": max(per_attack.values()),
        "bpcer": b,
        "acer": (max(per_attack.values()) + b) / 2,
        "hter": (a + b) / 2,
        "f1": f1(labels, scores, threshold),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn),
        "accuracy": (tn + tp) / len(labels),
        "confusion_matrix": matrix,
    }


def per_group(labels, scores, groups, threshold):
    """Counts and error rates per group (subject, source) at one threshold; AUC where a group
    holds both classes, APCER where it holds attacks, BPCER where it holds bona fide faces."""
    labels, scores, groups = np.asarray(labels), np.asarray(scores), np.asarray(groups)
    result = {}
    for group in sorted(set(groups.tolist())):
        mine = groups == group
        n_real, n_spoof = int((labels[mine] == 0).sum()), int((labels[mine] == 1).sum())
        result[group] = {
            "n_real": n_real, "n_spoof": n_spoof,
            "auc": roc_auc(labels[mine], scores[mine]) if n_real and n_spoof else None,
            "apcer": apcer(labels[mine], scores[mine], threshold) if n_spoof else None,
            "bpcer": bpcer(labels[mine], scores[mine], threshold) if n_real else None,
        }
    return result


def source_auc(labels, scores, groups):
    """The pooled AUC and, over the groups (sources) that hold both classes, the mean and the
    worst AUC, and which group is the worst: how a model does on every held-out source, not
    only on the largest ones."""
    per = {g: r["auc"] for g, r in per_group(labels, scores, groups, 0.5).items() if r["auc"] is not None}
    worst = min(per, key=per.get) if per else None
    return {"pooled": roc_auc(labels, scores), "sources": len(per),
            "mean_per_source": float(np.mean(list(per.values()))) if per else None,
            "worst_per_source": per[worst] if per else None, "worst_source": worst}


# name -> (function choosing a threshold on dev, target rate)
OPERATING_POINTS = {
    "bpcer@apcer=1%": (threshold_at_apcer, 0.01),
    "bpcer@apcer=5%": (threshold_at_apcer, 0.05),
    "bpcer@apcer=10%": (threshold_at_apcer, 0.10),
    "apcer@bpcer=1%": (threshold_at_bpcer, 0.01),
}
OPERATING_POINT_NAMES = ("eer", *OPERATING_POINTS)  # "eer": the equal-error point of dev
