"""Distillation teachers: each peer read by its own input contract (its README), an ensemble
weighted on dev by the selection criterion, every teacher's scores cached per crop file."""
import dataclasses
import json
import shutil

import numpy as np
import pytest

from antispoof.core import metrics
from antispoof.core.files import CACHE_ENV
from antispoof.data.datasets import FaceDataset, load_images
from antispoof.runtime.peer import PeerClassifier
from antispoof.testing.checkout import NUAA, PEERS, WEIGHTS_035
from antispoof.training import teacher as teachers

pytestmark = pytest.mark.shared

# AUC on NUAA test as each peer's README gives it (the whole crop stretched to the input size)
README_NUAA_AUC = {"peer MiniFASNetV2": 0.937, "peer suri": 0.950, "peer HyperFAS": 0.998}


@pytest.fixture(scope="module")
def nuaa_test():
    samples = FaceDataset(NUAA).split("test")
    return samples[::3]  # a third of the split: AUC within a few thousandths of the whole


@pytest.mark.parametrize("name", README_NUAA_AUC)
def test_each_peer_reads_its_own_input_contract(name, nuaa_test):
    """A wrong channel order, layout, scaling or output index would not keep the README's AUC."""
    peer = PeerClassifier(PEERS[name], threads=2)
    images = load_images(nuaa_test, peer.input_size)
    auc = metrics.roc_auc(images.labels, peer.predict(images.pixels))
    assert abs(auc - README_NUAA_AUC[name]) < 0.02, auc


def test_an_ensemble_is_weighted_on_dev_and_each_score_cached(tmp_path, monkeypatch):
    """The weights are the grid point with the best dev figure (so no worse than any teacher
    alone, the grid's corners); scores made a chunk at a time equal the peer's on the whole
    split; a second ensemble reads every score from the cache, equal to the first's, and so do
    copies of the crops; `train` takes --teacher twice and records the choice in teachers.json."""
    from conftest import run_cli

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(teachers, "CHUNK", 7)  # crops decoded and scored 7 at a time
    dev = load_images(FaceDataset(NUAA).split("dev")[::6], 64)
    paths = [PEERS["peer MiniFASNetV2"], PEERS["peer suri"]]
    for criterion in ("pooled", "worst-source"):
        ensemble = teachers.Ensemble(paths, criterion)
        record = ensemble.fit(dev)
        assert sum(record["weights"]) == pytest.approx(1) and len(record["weights"]) == 2
        assert record["dev"] >= max(record["dev_each"])
        assert all(round(w * 10) == pytest.approx(w * 10) for w in record["weights"])
    cached = teachers.Teacher(paths[1])
    assert len(cached.cache.scores) == len(dev.samples)
    again = cached.scores(dev)
    assert np.array_equal(again, teachers.Teacher(paths[1]).scores(dev))
    assert np.allclose(again, PeerClassifier(paths[1]).predict(load_images(dev.samples, 128).pixels))
    # keyed by the crops' bytes: the same crops copied elsewhere (new paths, new times) are read
    # from the cache, nothing scored or added
    (tmp_path / "copy").mkdir()
    copies = [dataclasses.replace(s, path=shutil.copy(s.path, tmp_path / "copy" / f"{i}.jpg"))
              for i, s in enumerate(dev.samples)]
    moved = teachers.Teacher(paths[1])
    assert np.array_equal(moved.scores(load_images(copies, 64)), again)
    assert len(moved.cache.scores) == len(cached.cache.scores)

    # once the weights are set, a teacher of weight 0 is neither opened nor scored
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "fresh-cache"))
    one = teachers.Ensemble(paths)
    one.weights = np.array([0.0, 1.0])
    assert np.array_equal(one.scores(dev), again)
    assert one.teachers[0]._model is None and not one.teachers[0].cache.path.exists()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))

    out = tmp_path / "student"
    run_cli("train", "--data", NUAA, "--weights", WEIGHTS_035, "--input-size", 64, "--epochs", 1,
            "--limit", 64, "--teacher", paths[0], "--teacher", paths[1], "--teacher-calibration",
            "source", "--teacher-correction", "swap", "--out", out)
    record = json.loads((out / "teachers.json").read_text())
    assert record["teachers"] == [str(p) for p in paths] and record["criterion"] == "pooled"
    # the recalibration fitted on the train labels is recorded and read back as it was
    assert record["calibration"]["kind"] == "source" and record["calibration"]["sources"]
    assert teachers.recorded_teachers(out / "teachers.json").calibration == record["calibration"]
    assert record["correction"] == "swap" == teachers.recorded_teachers(out / "teachers.json").correction
    assert json.loads((out / "config.json").read_text())["options"]["teacher"] == [str(p) for p in paths]

    # quantization-aware training on the targets training had: the teachers at their recorded
    # weights and recalibration (every score from the cache), the run's alpha and temperature; a
    # model file alone names no teachers
    qat = run_cli("quantize", out, "--data", NUAA, "--epochs", 1, "--limit", 64, "--distill",
                  "--out", tmp_path / "qat.tflite")
    weights = "/".join(f"{w:g}" for w in record["weights"])
    assert (f"distilled from the run's teachers (weights {weights}, alpha 0.5, temperature 2, "
            "recalibrated: source, corrected: swap)"
            in qat.stderr), qat.stderr[-2000:]
    assert "quantize: teacher" in qat.stderr and "train: teacher" not in qat.stderr
    assert " 0 crops scored" in qat.stderr and " crops scored" not in qat.stderr.replace(" 0 crops scored", "")
    assert (tmp_path / "qat.tflite").stat().st_size > 0
    proc = run_cli("quantize", out / "model.keras", "--data", NUAA, "--distill", "--out",
                   tmp_path / "no.tflite", check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"Error: {out / 'model.keras'}: distilling while quantizing needs the run folder (its "
        "teachers.json and config.json), not a model file"), proc.stderr[-2000:]

    # the model card names each teacher with its weight and the licence beside its file
    from antispoof.core.rundir import RunDir
    from antispoof.pipeline.export import licence_of, run_teachers, teaching

    listed = run_teachers(RunDir(out))
    assert [t["file"] for t in listed] == [p.name for p in paths]
    assert [t["weight"] for t in listed] == record["weights"]
    assert [t["licence"] for t in listed] == ["Apache License", "Apache License"]
    assert run_teachers(RunDir(tmp_path)) == []  # no teachers.json, no config.json
    a, b = record["calibration"]["pooled"]  # and how their mix was recalibrated and corrected
    assert teaching(RunDir(out)) == (
        f"Their mix recalibrated on the train labels (source: Platt scaling, σ({a:.2f}·logit "
        f"{'-' if b < 0 else '+'} {abs(b):.2f}) for every crop but those of the "
        f"{len(record['calibration']['sources'])} training sources fitted apart) and corrected "
        "(swap: a crop's P(spoof) on the wrong side of 0.5 for its label taught as 1 - P).")
    assert teaching(RunDir(tmp_path)) == ""
    assert licence_of(PEERS["peer HyperFAS"]) == "BSD 3-Clause License"


def test_teachers_recalibrated_per_source_on_the_train_labels(tmp_path, monkeypatch):
    """Platt scaling per training source: each source's order is kept (its AUC unchanged), the
    class-balanced log loss against the labels falls on every source fitted (the pooled fit on
    all crops), a source of one class takes the pooled fit, and crops of no training source too;
    without recalibration the mix is returned as it is."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    train = load_images(FaceDataset(NUAA).split("train")[::25], 64)
    ensemble = teachers.Ensemble([PEERS["peer MiniFASNetV2"]])
    raw = ensemble.scores(train)
    assert ensemble.calibrate(train, "none") is None and np.array_equal(ensemble.scores(train), raw)
    record = ensemble.calibrate(train, "source")
    fitted = ensemble.scores(train)
    labels, subjects = np.asarray(train.labels), np.array([s.subject for s in train.samples])

    def balanced_loss(scores, own):
        p, y = np.clip(scores[own], 1e-6, 1 - 1e-6), labels[own]
        return np.mean(-np.log(p[y == 1])) + np.mean(-np.log(1 - p[y == 0]))

    one_class = [s for s in np.unique(subjects) if labels[subjects == s].mean() in (0, 1)]
    assert one_class and not set(one_class) & set(record["sources"])  # NUAA 0013, 0016
    for subject, (a, b) in record["sources"].items():
        own = subjects == subject
        assert a > 0  # the teacher orders every NUAA train subject better than chance
        assert metrics.roc_auc(labels[own], fitted[own]) == pytest.approx(
            metrics.roc_auc(labels[own], raw[own]), abs=1e-9)
        assert balanced_loss(fitted, own) < balanced_loss(raw, own)
    a, b = record["pooled"]
    for subject in one_class:
        own = subjects == subject
        assert np.allclose(fitted[own], 1 / (1 + np.exp(-(a * teachers._logit(raw[own]) + b))),
                           atol=1e-6)
    stranger = [dataclasses.replace(train.samples[0], subject="no training source")]
    alone = dataclasses.replace(train, samples=stranger, labels=train.labels[:1],
                                pixels=train.pixels[:1])
    assert ensemble.scores(alone)[0] == pytest.approx(
        1 / (1 + np.exp(-(a * teachers._logit(raw[:1]) + b)))[0], abs=1e-6)


def test_teachers_wrong_side_scores_swapped(tmp_path, monkeypatch):
    """--teacher-correction swap: a crop whose recalibrated P(spoof) is on the wrong side of 0.5
    for its label is taught 1 - P (as confident, on the label's side); every other crop keeps
    its score; dev crops are corrected against their own labels too."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    train = load_images(FaceDataset(NUAA).split("train")[::25], 64)
    ensemble = teachers.Ensemble([PEERS["peer MiniFASNetV2"]])
    ensemble.calibrate(train, "pooled")
    before = ensemble.scores(train)
    ensemble.correction = "swap"
    after = ensemble.scores(train)
    spoof = np.asarray(train.labels) > 0.5
    wrong = (before > 0.5) != spoof
    assert 0 < wrong.mean() < 0.5  # the peer errs on some NUAA train crops, not on most
    assert np.array_equal(after[~wrong], before[~wrong])
    assert np.allclose(after[wrong], 1 - before[wrong], atol=1e-6)
    assert np.all((after >= 0.5) == spoof)  # every crop now on its label's side
    assert np.allclose(np.abs(after - 0.5), np.abs(before - 0.5), atol=1e-6)  # as confident

