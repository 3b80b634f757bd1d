"""Every entry of every registry works: each named backbone and head builds and converts to a
full-integer file the runtime accepts, each architecture builds, each quantization mode and
criterion is known to the CLI, and each dataset adapter reads a sample of its layout."""
import json

import numpy as np
import pytest

from antispoof.compress.config import CRITERIA, INT8_MODES, QUANTIZATIONS
from antispoof.compress.quantization import convert_float16, convert_int8
from antispoof.data.sources import ADAPTERS, detect_format, list_sources
from antispoof.models.builders import build_model, predict
from antispoof.models.layers import with_pixel_map
from antispoof.models.specs import ARCHS, BACKBONES, HEADS, SERVER_ARCH, SERVER_HEAD
from antispoof.runtime.interpreter import TFLiteClassifier
from conftest import NUAA

SIZE = 48  # every backbone takes it; small enough to convert in seconds


def _convertible(model, path):
    pixels = np.random.default_rng(0).uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    path.write_bytes(convert_int8(model, pixels))
    classifier = TFLiteClassifier(path)  # the contract check: one int8 input, one score
    scores = classifier.predict(pixels.astype(np.uint8))
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))


LIGHT_HEADS = [h for h in HEADS if h != SERVER_HEAD]


@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("head", LIGHT_HEADS)
def test_every_backbone_and_head_build(backbone, head):
    model = build_model(backbone, head, SIZE, weights=None)
    assert model.name == f"antispoof_{backbone}_{head}" and model.output_shape == (None, 1)
    assert model.input_shape == (None, SIZE, SIZE, 3)


def test_predict_gives_keras_predicts_outputs_for_one_output_and_several():
    """``predict`` (one traced call per batch) against Keras' own ``predict``: the same scores,
    a partial last batch included, and the pixel-map model's two outputs in Keras' order."""
    pixels = np.random.default_rng(0).integers(0, 256, (37, SIZE, SIZE, 3), dtype=np.uint8)
    model = build_model("mnv2-0.35-b8", "linear", SIZE, weights=None)
    for m in (model, with_pixel_map(model)):
        ours = predict(m, pixels, batch_size=16)
        theirs = m.predict(pixels.astype(np.float32), batch_size=16, verbose=0)
        assert isinstance(ours, list) == (m is not model) == isinstance(theirs, list)
        for a, b in zip(*((ours, theirs) if isinstance(theirs, list) else ([ours], [theirs]))):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-5)  # float32 sums in another order


@pytest.mark.system  # a conversion each: 10-40 s
@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_every_backbone_converts(backbone, tmp_path):
    _convertible(build_model(backbone, "linear", SIZE, weights=None), tmp_path / "m.tflite")


@pytest.mark.system
@pytest.mark.parametrize("head", LIGHT_HEADS)
def test_every_light_head_converts(head, tmp_path):
    _convertible(build_model("mnv2-0.35-b8", head, SIZE, weights=None), tmp_path / "m.tflite")


@pytest.mark.system  # EfficientNet-B0's conversion takes a minute
def test_the_server_architecture_builds_and_converts_to_float16(tmp_path):
    from antispoof.models.efficientnet import build_server_model

    assert ARCHS[SERVER_ARCH].heads == (SERVER_HEAD,)
    model = build_server_model(SIZE, weights=None)
    (tmp_path / "s.tflite").write_bytes(convert_float16(model))
    assert TFLiteClassifier(tmp_path / "s.tflite").predict(
        np.zeros((1, SIZE, SIZE, 3), np.uint8)).shape == (1,)


def test_the_cli_offers_exactly_the_registries():
    from antispoof.cli import main

    options = {p.name: p for c in main.commands.values() for p in c.params}
    by_command = {name: {p.name: p for p in c.params} for name, c in main.commands.items()}
    assert list(by_command["train"]["backbone"].type.choices) == list(BACKBONES)
    assert list(by_command["train"]["head"].type.choices) == list(HEADS)
    assert list(by_command["train"]["arch"].type.choices) == list(ARCHS)
    assert list(by_command["build"]["criterion"].type.choices) == list(CRITERIA)
    assert list(by_command["build"]["mode"].type.choices) == list(INT8_MODES)
    assert list(by_command["prepare"]["source_format"].type.choices) == ["auto", *ADAPTERS]
    assert set(INT8_MODES) < set(QUANTIZATIONS) and "float16" in QUANTIZATIONS
    assert "verbose" in options


def _touch(root, *relatives):
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def _celeba(root):
    _touch(root, "Data/train/4980/live/000001.jpg", "Data/train/4980/spoof/000002.jpg")
    (root / "metas/intra_test").mkdir(parents=True)
    labels = {"Data/train/4980/live/000001.jpg": [0] * 44,
              "Data/train/4980/spoof/000002.jpg": [0] * 40 + [9, 0, 0, 1]}
    (root / "metas/intra_test/train_label.json").write_text(json.dumps(labels))
    (root / "metas/intra_test/test_label.json").write_text("{}")
    return root


SAMPLES = {  # adapter -> a minimal tree of its layout (names only: listing reads no pixels)
    "rose-youtu": lambda root: _touch(root, "rgb/adaptation/2/G_NT_5s_g_E_2_1.mp4",
                                      "rgb/test/7/Vm_NT_IP_g_E_7_2.mp4"),
    "replay-attack": lambda root: _touch(
        root, "train/real/client001_session01_webcam_authenticate_adverse_1.mov",
        "devel/attack/fixed/attack_highdef_client003_session01_highdef_photo_adverse.mov"),
    "oulu-npu": lambda root: _touch(root, "Train_files/1_1_01_1.avi", "Dev_files/2_3_21_2.avi"),
    "celeba-spoof": _celeba,
    "nuaa": lambda root: NUAA,
    "folders": lambda root: _touch(root, "real/0001/a.jpg", "spoof/0001/b.jpg"),
}


def test_every_adapter_has_a_sample():
    assert set(SAMPLES) == set(ADAPTERS)


@pytest.mark.parametrize("adapter", [pytest.param(a, marks=pytest.mark.shared) if a == "nuaa" else a
                                     for a in ADAPTERS])
def test_every_adapter_reads_its_sample(adapter, tmp_path):
    root = SAMPLES[adapter](tmp_path / adapter)
    assert detect_format(root) == adapter
    name, listing = list_sources(root, adapter)
    assert name == adapter and listing.sources
    assert {s.label for s in listing.sources} == {0, 1}
