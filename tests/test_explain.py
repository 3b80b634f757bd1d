"""Grad-CAM and saliency: right shapes, and maps that depend on what the crop shows."""
import numpy as np
import pytest

from antispoof.models.specs import DEFAULT_INPUT_SIZE
from antispoof.core.errors import AntispoofError
from antispoof.evaluation.explain import explain, heatmaps, keras_model_for
from antispoof.data.images import load_face_crop
from conftest import NUAA, run_cli

SIZE = DEFAULT_INPUT_SIZE  # the default build's input side (the small build's)

SPOOF = sorted((NUAA / "ImposterFace" / "0005").glob("*.jpg"))[:2]
LIVE = sorted((NUAA / "ClientFace" / "0005").glob("*.jpg"))[:2]


@pytest.fixture(scope="module")
def model(small_build):
    return keras_model_for(small_build / "antispoof_int8.tflite")


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_maps_have_the_crop_shape_and_range(model, method):
    pixels = np.stack([load_face_crop(p, SIZE) for p in SPOOF])
    maps, scores = heatmaps(model, pixels, method)
    assert maps.shape == (2, SIZE, SIZE) and scores.shape == (2,)
    assert maps.min() >= 0 and np.allclose(maps.reshape(2, -1).max(axis=1), 1.0)


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_map_mass_moves_when_the_face_is_occluded(model, method):
    crop = load_face_crop(SPOOF[0], SIZE)
    occluded = crop.copy()
    occluded[24:72, 24:72] = 128  # grey square over the face
    maps, _ = heatmaps(model, np.stack([crop, occluded]), method)
    mass = maps / maps.sum(axis=(1, 2), keepdims=True)
    moved = 0.5 * np.abs(mass[0] - mass[1]).sum()  # total variation distance
    assert moved > 0.05, moved
    # and the maps are not all the same everywhere
    assert maps[0].std() > 0.05


def test_explain_cli_writes_overlays(small_build, tmp_path):
    out = tmp_path / "maps"
    proc = run_cli("explain", small_build / "antispoof_int8.tflite", *SPOOF, "--method", "saliency",
                   "--out", out)
    pngs = sorted(out.glob("*_saliency.png"))
    assert len(pngs) == 2 and "P(spoof)" in proc.stdout


def test_tflite_without_its_keras_model_is_a_clear_error(tmp_path, small_build):
    lone = tmp_path / "lone.tflite"
    lone.write_bytes((small_build / "antispoof_int8.tflite").read_bytes())
    with pytest.raises(AntispoofError, match="no model.keras beside it"):
        explain(lone, SPOOF)


@pytest.mark.shared
def test_occlusion_explains_any_tflite_the_shipped_one_too(tmp_path):
    """Occlusion needs only outputs: the shipped .tflite (no model.keras beside it) is explained,
    and covering the face moves the map; the score is the model's own. On live faces: the
    shipped model gives these prints 255/256, its top int8 step, which no square moves."""
    from antispoof.core.shipped import DEFAULT_MODEL
    from antispoof.evaluation.explain import occlusion_maps
    from antispoof.runtime.interpreter import open_classifier

    classifier = open_classifier(DEFAULT_MODEL)
    size = classifier.input_size
    crop = load_face_crop(LIVE[0], size)
    occluded = crop.copy()
    occluded[size // 4:3 * size // 4, size // 4:3 * size // 4] = 128
    maps, scores = occlusion_maps(classifier, np.stack([crop, occluded]))
    assert maps.shape == (2, size, size) and maps.min() >= 0
    peaks = maps.reshape(2, -1).max(axis=1)
    assert peaks[0] == pytest.approx(1.0) and maps[0].std() > 0.05
    # a map peaks at 1, or is all 0 where no square moves the score (one int8 output step)
    assert peaks[1] == pytest.approx(1.0) or peaks[1] == 0
    assert scores == pytest.approx(classifier.predict(np.stack([crop, occluded])))
    assert np.abs(maps[0] - maps[1]).mean() > 0.05  # covering the face moves the map
    proc = run_cli("explain", DEFAULT_MODEL, *LIVE, "--method", "occlusion", "--out", tmp_path)
    assert len(list(tmp_path.glob("*_occlusion.png"))) == 2 and "P(spoof)" in proc.stdout
