"""Metrics against hand-computed values."""
import numpy as np
import pytest

from antispoof.core import metrics

# labels: 0 real, 1 spoof; scores are P(spoof)
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORES = [0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9]


def test_auc_counts_pairs():
    # 16 (real, spoof) pairs; spoof wins all but (0.7 vs 0.4) and (0.7 vs 0.6): 14/16
    assert metrics.roc_auc(LABELS, SCORES) == pytest.approx(14 / 16)


def test_auc_ties_count_half():
    assert metrics.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.roc_auc([0, 0, 1], [0.2, 0.5, 0.5]) == pytest.approx((1 + 0.5) / 2)


def test_apcer_bpcer_at_threshold():
    # at 0.5: spoof 0.4 is called real (1/4 APCER); real 0.7 is called spoof (1/4 BPCER)
    assert metrics.apcer(LABELS, SCORES, 0.5) == 0.25
    assert metrics.bpcer(LABELS, SCORES, 0.5) == 0.25
    # a score equal to the threshold is called spoof
    assert metrics.bpcer(LABELS, SCORES, 0.7) == 0.25
    assert metrics.apcer(LABELS, SCORES, 0.8) == 0.5


def test_eer_point():
    eer, threshold = metrics.eer(LABELS, SCORES)
    assert eer == 0.25
    assert metrics.apcer(LABELS, SCORES, threshold) == metrics.bpcer(LABELS, SCORES, threshold)


def test_eer_of_separable_scores_is_zero_at_the_gap_centre():
    eer, threshold = metrics.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert eer == 0.0 and threshold == 0.5  # centre of (0.2, 0.8], not its edge


def test_confusion_f1_and_summary():
    assert metrics.confusion_matrix(LABELS, SCORES, 0.5) == [[3, 1], [1, 3]]
    assert metrics.f1(LABELS, SCORES, 0.5) == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    s = metrics.summary(LABELS, SCORES, 0.5)
    assert (s["n_real"], s["n_spoof"]) == (4, 4)
    assert s["acer"] == 0.25 and s["accuracy"] == 0.75


def test_apcer_per_attack_and_iso_acer():
    attacks = ["", "", "", "", "print", "replay", "print", "replay"]
    # at 0.5: print 0.4 is missed (1/2), replay 0.6 is caught (0/2); BPCER 1/4
    assert metrics.apcer_per_attack(LABELS, SCORES, attacks, 0.5) == {"print": 0.5, "replay": 0.0}
    assert metrics.acer(LABELS, SCORES, attacks, 0.5) == (0.5 + 0.25) / 2
    s = metrics.summary(LABELS, SCORES, 0.5, attacks)
    assert s["apcer_max"] == 0.5 and s["hter"] == 0.25 and s["acer"] == 0.375
    assert s["precision"] == 0.75 and s["recall"] == 0.75


def test_operating_point_thresholds():
    # spoof scores 0.4 0.6 0.8 0.9: APCER <= 25 % allows one attack below → threshold 0.6
    t = metrics.threshold_at_apcer(LABELS, SCORES, 0.25)
    assert t == 0.6 and metrics.apcer(LABELS, SCORES, t) == 0.25
    assert metrics.apcer(LABELS, SCORES, metrics.threshold_at_apcer(LABELS, SCORES, 0.0)) == 0.0
    # real scores 0.1 0.2 0.3 0.7: BPCER <= 25 % allows one real at or above → just above 0.3
    t = metrics.threshold_at_bpcer(LABELS, SCORES, 0.25)
    assert 0.3 < t < 0.31 and metrics.bpcer(LABELS, SCORES, t) == 0.25
    assert metrics.bpcer(LABELS, SCORES, metrics.threshold_at_bpcer(LABELS, SCORES, 0.0)) == 0.0


def test_bootstrap_interval_over_subjects():
    import numpy as np

    labels = np.array([0, 1] * 6)
    scores = np.array([0.1, 0.9] * 6)
    subjects = np.repeat(["a", "b", "c"], 4)
    # perfectly separated in every subject: every resample has AUC 1
    assert metrics.bootstrap_ci(labels, subjects,
                                lambda i: metrics.roc_auc(labels[i], scores[i])) == [1.0, 1.0]
    scores[8:] = [0.9, 0.1] * 2  # subject c inverted: resamples vary, the interval is wide
    low, high = metrics.bootstrap_ci(labels, subjects, lambda i: metrics.roc_auc(labels[i], scores[i]))
    assert low < 0.5 < high == 1.0


def test_thresholds_give_the_same_calls_in_float32_and_float64():
    # int8 outputs: scores on a 1/256 grid, many ties; an app compares in float32
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 200)
    scores = (np.concatenate([rng.integers(0, 160, 200), rng.integers(90, 256, 200)]) / 256
              ).astype(np.float32)
    thresholds = [metrics.eer(labels, scores)[1]] + [
        choose(labels, scores, target) for choose in (metrics.threshold_at_apcer,
                                                      metrics.threshold_at_bpcer)
        for target in (0.0, 0.01, 0.05)]
    for t in thresholds:
        assert np.array_equal(scores >= np.float32(t), scores.astype(np.float64) >= t)


def test_source_auc_gives_pooled_mean_and_worst_source():
    labels = [0, 1, 0, 1, 0, 1, 0, 0]
    scores = [0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6]
    groups = ["a", "a", "b", "b", "c", "c", "d", "d"]  # d holds no attack: no AUC of its own
    result = metrics.source_auc(labels, scores, groups)
    assert result["sources"] == 3 and result["worst_source"] == "c"
    assert result["worst_per_source"] == 0.0 and result["mean_per_source"] == pytest.approx(2 / 3)
    assert result["pooled"] == pytest.approx(metrics.roc_auc(labels, scores))
