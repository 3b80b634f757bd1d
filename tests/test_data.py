"""Dataset discovery, the subject-held-out protocol and bad data, on real NUAA crops."""
import json
import logging
from collections import Counter

import numpy as np
import pytest

from antispoof.core.model_contract import CROP_SCALE
from antispoof.data import datasets
from antispoof.data.datasets import FaceDataset, crop_scale, load_images
from antispoof.data.stream import class_weights
from antispoof.core.errors import AntispoofError
from conftest import NUAA, make_subset, run_cli


@pytest.mark.shared
def test_nuaa_protocol_split_is_subject_disjoint_and_matches_counts():
    dataset = FaceDataset(NUAA)
    splits = {name: dataset.split(name) for name in ("train", "dev", "test")}
    subjects = {name: {s.subject for s in samples} for name, samples in splits.items()}
    assert not subjects["train"] & subjects["dev"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["dev"] & subjects["test"]
    assert subjects["test"] == {"0005", "0010", "0015"}
    assert subjects["dev"] == {"0003", "0011"}
    expected = json.loads((NUAA / "protocol.json").read_text())["counts"]
    for name, samples in splits.items():
        counts = {"real": sum(s.label == 0 for s in samples), "spoof": sum(s.label == 1 for s in samples)}
        assert counts == expected[name], name


def test_generic_layout_auto_split_holds_out_subjects(small_data):
    dataset = FaceDataset(small_data, seed=3)
    assert len(dataset.subjects) == 8
    seen = [{s.subject for s in dataset.split(name)} for name in ("train", "dev", "test")]
    assert sum(map(len, seen)) == 8 and len(set().union(*seen)) == 8
    assert [len(s) for s in seen] == [5, 1, 2]


@pytest.mark.shared
def test_subject_regex_reads_subject_from_file_name(tmp_path):
    for label, folder in (("real", "ClientFace"), ("spoof", "ImposterFace")):
        (tmp_path / label).mkdir()
        for subject in ("0001", "0002", "0004"):
            for f in sorted((NUAA / folder / subject).glob("*.jpg"))[:3]:
                (tmp_path / label / f.name).symlink_to(f)  # flat: NUAA names start with the subject
    dataset = FaceDataset(tmp_path, subject_regex=r"^(\d{4})_")
    assert dataset.subjects == ["0001", "0002", "0004"]


@pytest.mark.shared
def test_corrupt_jpeg_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    data = make_subset(tmp_path / "data", ["0001", "0002", "0004"], 4)
    corrupt = data / "real" / "0001" / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    samples = FaceDataset(data).samples
    with caplog.at_level(logging.WARNING, logger="antispoof"):
        images = load_images(samples, 96)
    assert len(images.samples) == len(samples) - 1
    assert images.skipped == [(str(corrupt), "cannot decode image")]
    assert str(corrupt) in caplog.text
    assert images.pixels.shape == (len(samples) - 1, 96, 96, 3) and images.pixels.dtype == np.uint8


@pytest.mark.shared
def test_a_crop_file_is_decoded_once_across_the_splits_a_build_reads(tmp_path, caplog, monkeypatch):
    """A source-balanced train split repeats crops and QAT reads the same split unbalanced: each
    file is decoded (and warned about) once, and the crops are those a fresh decoding gives."""
    data = make_subset(tmp_path / "data", ["0001", "0002", "0004"], 4)
    corrupt = data / "real" / "0001" / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    samples = FaceDataset(data).samples
    bad = next(s for s in samples if s.path == str(corrupt))
    # as a source-balanced split repeats a small source's crops
    repeated = [s for s in samples if s != bad][:5] * 3 + [bad, bad]
    decoded = Counter()
    decode = datasets.load_face_crop
    monkeypatch.setattr(datasets, "load_face_crop", lambda path, size: (decoded.update([path]),
                                                                        decode(path, size))[1])
    with caplog.at_level(logging.WARNING, logger="antispoof"):
        first, every = load_images(repeated, 96), load_images(samples, 96)
    assert decoded == Counter({s.path: 1 for s in samples})
    assert caplog.text.count(str(corrupt)) == 1
    assert first.skipped == every.skipped == [(str(corrupt), "cannot decode image")]
    assert len(first.samples) == 15 and len(every.samples) == len(samples) - 1
    fresh = load_images(samples, 96, keep=False)
    assert fresh.samples == every.samples and np.array_equal(fresh.pixels, every.pixels)
    assert np.array_equal(first.pixels, fresh.pixels[[fresh.samples.index(s) for s in first.samples]])


@pytest.mark.shared
def test_empty_class_folder_is_a_clear_error(tmp_path):
    make_subset(tmp_path, ["0001", "0002", "0004"], 3)
    for f in (tmp_path / "spoof").rglob("*.jpg"):
        f.unlink()
    with pytest.raises(AntispoofError, match=r"spoof: no images in the 'spoof' class folder"):
        FaceDataset(tmp_path)


def test_empty_class_folder_cli_message_is_one_line(tmp_path):
    make_subset(tmp_path, ["0001", "0002", "0004"], 3)
    for f in (tmp_path / "real").rglob("*.jpg"):
        f.unlink()
    proc = run_cli("train", "--data", tmp_path, "--out", tmp_path / "run", check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert lines == [f"Error: {tmp_path / 'real'}: no images in the 'real' class folder"]
    assert "Traceback" not in proc.stderr


@pytest.mark.shared
def test_too_few_subjects_for_a_held_out_split(tmp_path):
    make_subset(tmp_path, ["0001", "0002"], 3)
    with pytest.raises(AntispoofError, match="needs at least 3"):
        FaceDataset(tmp_path)


def test_class_weights_balance_the_classes():
    weights = class_weights({"real": 30, "spoof": 90})
    assert weights[0] * 30 == pytest.approx(weights[1] * 90)
    assert weights[0] * 30 + weights[1] * 90 == pytest.approx(120)


def test_jitter_shifts_each_crop_by_its_own_bounded_brightness():
    import tensorflow as tf

    from antispoof.data.stream import jitter

    grey = tf.fill((8, 32, 32, 3), 128.0)  # contrast, saturation and zoom leave grey as it is
    out = tf.function(jitter)(grey, seed=3).numpy()  # in a graph, as tf.data runs it
    per_crop = out.reshape(8, -1)
    assert np.allclose(per_crop, per_crop[:, :1], atol=1e-3)  # uniform within each crop
    shifts = per_crop[:, 0] - 128
    assert np.all(np.abs(shifts) <= 25.5) and len(np.unique(np.round(shifts, 3))) == 8
    edge = np.zeros((1, 32, 32, 3), np.float32)
    edge[:, :, 16:] = 255
    zoomed = jitter(tf.constant(np.repeat(edge, 16, 0)), seed=5).numpy()
    assert zoomed.min() >= 0 and zoomed.max() <= 255
    assert not np.allclose(zoomed[0], zoomed[1])  # each crop its own zoom and colour


def test_crop_scale_comes_from_prepare_json_and_several_datasets_must_agree(tmp_path):
    plain, wide, wider = (make_subset(tmp_path / name, ["0001", "0002"], 2)
                          for name in ("plain", "wide", "wider"))
    for folder, scale in ((wide, 1.3), (wider, 1.5)):
        (folder / "prepare.json").write_text(json.dumps({"options": {"crop_scale": scale}}))
    assert crop_scale(plain) == CROP_SCALE  # not prepared by antispoof: the default
    assert crop_scale(wide) == 1.3
    assert crop_scale([{"data": str(wide)}, {"data": str(wide)}]) == 1.3
    with pytest.raises(AntispoofError, match="cut at different scales"):
        crop_scale([{"data": str(wide)}, {"data": str(wider)}])
