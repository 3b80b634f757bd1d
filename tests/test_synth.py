"""Each synthetic-attack transform leaves the measurable trace of the effect it models."""
import numpy as np
import pytest

from antispoof.data import synthesis as synth
from antispoof.data.images import load_face_crop
from conftest import NUAA, run_cli

SIZE = 96


def face():
    path = sorted((NUAA / "ClientFace" / "0001").glob("*.jpg"))[0]
    return load_face_crop(path, SIZE).astype(np.float32)


def flat(value=128.0):
    return np.full((SIZE, SIZE, 3), value, np.float32)


def spectrum(image):
    gray = image @ synth.LUMA
    return np.abs(np.fft.fft2(gray - gray.mean()))


def high_frequency_share(image):
    power = spectrum(image) ** 2
    f = np.fft.fftfreq(SIZE)
    radius = np.hypot(*np.meshgrid(f, f))
    return power[radius > 0.25].sum() / power.sum()


def test_moire_puts_energy_at_its_frequency():
    out = synth.moire(flat(), period=8, angle=0.0, strength=0.2)
    s = spectrum(out)
    peak = np.unravel_index(np.argmax(s), s.shape)
    assert peak in ((0, SIZE // 8), (0, SIZE - SIZE // 8))  # 12 cycles across, horizontally


def test_subpixel_stripes_favour_one_channel_per_third_of_a_pitch():
    out = synth.subpixel_stripes(flat(), pitch=6, strength=0.4)
    columns = out[0, :6]
    assert np.argmax(columns[0]) == 0 and np.argmax(columns[2]) == 1 and np.argmax(columns[4]) == 2
    assert np.allclose(out[:, 0], out[:, 6])  # period 6


@pytest.mark.shared
def test_gamut_compression_shrinks_the_chroma_range():
    image = face()

    def chroma_range(x):
        c = x - (x @ synth.LUMA)[..., None]
        return c.max() - c.min()

    assert chroma_range(synth.gamut(image, chroma=0.5, gamma=1.0)) < 0.55 * chroma_range(image)
    darker = synth.gamut(image, chroma=1.0, gamma=1.4)
    assert darker.mean() < image.mean()


def test_bloom_brightens_around_highlights_only():
    image = flat(40.0)
    image[40:56, 40:56] = 250
    out = synth.bloom(image, strength=0.8, sigma=4)
    assert (out[48, 36] > image[48, 36] + 5).all()  # next to the highlight
    assert np.array_equal(out[5, 5], image[5, 5])  # far from it


def test_glare_is_a_bright_patch_where_asked():
    out = synth.glare(flat(100.0), cx=0.25, cy=0.75, radius=0.1, strength=0.5)
    y, x = np.unravel_index(np.argmax(out[..., 0]), out.shape[:2])
    assert abs(x - 24) <= 1 and abs(y - 72) <= 1 and out[y, x, 0] > 200
    assert out[0, SIZE - 1, 0] < 101


@pytest.mark.shared
def test_border_paints_the_edge():
    out = synth.border(face(), side=1, width=0.1, colour=(10, 10, 10))
    assert np.all(out[:, -10:] == 10) and not np.all(out[:, -11] == 10)


def test_banding_modulates_rows_not_columns():
    out = synth.banding(flat(), period=16, strength=0.2)
    assert out[:, 0].std() > 5 and np.allclose(out[0, :], out[0, 0])


@pytest.mark.shared
def test_recapture_blurs_and_adds_noise():
    image = face()
    blurred = synth.recapture(image, sigma=1.5, noise=0.0, seed=0)
    assert high_frequency_share(blurred) < 0.5 * high_frequency_share(image)
    noisy = synth.recapture(flat(), sigma=0, noise=4.0, seed=0)
    assert 3.5 < noisy.std() < 4.5


@pytest.mark.shared
def test_jpeg_adds_8x8_block_edges():
    image = synth.recapture(face(), sigma=0, noise=6.0, seed=1)
    out = synth.jpeg(image, quality=20)
    steps = np.abs(np.diff(out @ synth.LUMA, axis=1))
    at_edges = steps[:, 7::8].mean()
    inside = np.delete(steps, np.s_[7::8], axis=1).mean()
    assert at_edges > 1.2 * inside


def test_halftone_puts_energy_at_the_cell_frequency():
    out = synth.halftone(flat(128.0), cell=4, strength=1.0)
    s = spectrum(out)
    assert s[0, SIZE // 4] > 10 * np.median(s)
    assert set(np.unique(out)) <= {0.0, 255.0}  # dots of ink on paper


def test_paper_texture_is_fine_grained_and_small():
    out = synth.paper(flat(), strength=0.05, seed=0)
    assert 1 < out.std() < 8
    assert high_frequency_share(out) > 0.1


def test_bend_shades_across_the_axis():
    out = synth.bend(flat(), amount=0.3, axis=0)
    assert out[0, 0, 0] == 128 and out[0, -1, 0] < 0.71 * 128 + 1
    assert np.allclose(out[:, 10], out[0, 10])


@pytest.mark.shared
def test_synthesize_is_seeded_and_changes_the_face():
    image = face()
    a = synth.synthesize(image, np.random.default_rng(3))
    b = synth.synthesize(image, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == image.shape and a.dtype == np.float32
    changed = [np.abs(synth.synthesize(image, np.random.default_rng(s)) - image).mean() > 1
               for s in range(10)]
    assert sum(changed) >= 8
    only_print = synth.synthesize(image, np.random.default_rng(0), families=("print",),
                                  disabled=("halftone", "paper", "gamut", "bend", "border",
                                            "recapture", "jpeg"))
    assert np.array_equal(only_print, image)


@pytest.mark.shared
def test_training_pipeline_turns_only_real_crops_into_attacks():
    from antispoof.data.datasets import Images
    from antispoof.data.stream import tf_dataset

    crop = face().astype(np.uint8)
    n = 200
    images = Images(np.repeat(crop[None], n, axis=0), np.array([0, 1] * (n // 2), np.int32), [], [])
    batches = list(tf_dataset(images, 50, training=True, seed=1, synth_spoof=0.5,
                              synth_families=("screen",)))
    pixels = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    # half the crops get camera effects, half of the real ones among them become attacks
    assert 100 + 10 <= labels.sum() <= 100 + 45
    changed = np.abs(pixels - crop.astype(np.float32)[None]).mean(axis=(1, 2, 3)) > 0.5
    changed_mirrored = np.abs(pixels - crop[:, ::-1].astype(np.float32)[None]).mean(axis=(1, 2, 3)) > 0.5
    assert 60 <= (changed & changed_mirrored).sum() <= 140  # untouched crops may only be flipped
    plain = np.concatenate([y.numpy() for _, y in tf_dataset(images, 50, training=True, seed=1)])
    assert plain.sum() == 100


def test_synthesis_options_are_checked(tmp_path):
    import pytest

    from antispoof.core.errors import AntispoofError
    from antispoof.training.options import TrainOptions

    result = run_cli("train", "--data", NUAA, "--out", tmp_path / "run", "--synth-spoof", 0.5,
                     "--synth-families", "screen,video", check=False)
    assert result.returncode == 1
    assert "synthetic attack families are screen, print, not screen, video" in result.stderr
    with pytest.raises(AntispoofError, match="--synth-spoof and --teacher do not mix"):
        TrainOptions(synth_spoof=0.5, teacher="runs/teacher")
