"""Several datasets in one run: splits are unions, each dataset keeps its protocol, the train
split can be weighted, test is reported per dataset and per subject; the peer (ONNX) is scored
and distilled from like our own models."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from antispoof.models.specs import DEFAULT_INPUT_SIZE
from antispoof.data.datasets import FaceDataset, MultiDataset
from antispoof.data.loading import open_dataset
from antispoof.core.errors import AntispoofError
from antispoof.evaluation.evaluate import evaluate
from antispoof.runtime.peer import PeerClassifier
from antispoof.models.layers import PIXEL_MAP, main_output, with_pixel_map
from antispoof.data.images import load_face_crop
from conftest import NUAA, SHARED, run_cli

SIZE = DEFAULT_INPUT_SIZE  # the default build's input side (the small build's)

WEBCAM = SHARED / "data" / "webcam-multi"
PEER = SHARED / "weights" / "silentface" / "minifasnetv2_scale2.7_80x80.onnx"


def linked_webcam_subset(root):
    """A webcam-multi subset whose subject folders are symbolic links to the real ones, with
    the dataset's protocol (two of its train sources, one dev and one test source)."""
    protocol = json.loads((WEBCAM / "protocol.json").read_text())
    picks = {"train": ["gh_afzal91004", "gh_ahmedooode"], "dev": protocol["splits"]["dev"][:1],
             "test": protocol["splits"]["test"][:1]}
    for label in ("real", "spoof"):
        (root / label).mkdir(parents=True)
        for subject in sum(picks.values(), []):
            if (WEBCAM / label / subject).is_dir():
                (root / label / subject).symlink_to(WEBCAM / label / subject, target_is_directory=True)
    (root / "protocol.json").write_text(json.dumps(
        {"name": "webcam-subset", "splits": {"test": picks["test"], "dev": picks["dev"]}}))
    return root


@pytest.mark.shared
def test_symlinked_subject_folders_are_followed(tmp_path):
    data = linked_webcam_subset(tmp_path / "webcam")
    dataset = FaceDataset(data)
    expected = sum(1 for label in ("real", "spoof") for link in (data / label).iterdir()
                   for _ in link.glob("*.jpg"))
    assert len(dataset.samples) == expected > 0
    # no manifest.csv in the subset: a spoof's attack type is its class folder's name
    assert {s.attack for s in dataset.samples if s.label} == {"spoof"}


@pytest.mark.shared
def test_splits_are_unions_with_prefixed_subjects_and_weights_resample_train(tmp_path):
    webcam = linked_webcam_subset(tmp_path / "webcam")
    sources = [{"data": str(NUAA), "protocol": None, "weight": None},
               {"data": str(webcam), "protocol": None, "weight": None}]
    union = open_dataset(sources)
    nuaa, web = FaceDataset(NUAA), FaceDataset(webcam)
    for split in ("train", "dev", "test"):
        assert len(union.split(split)) == len(nuaa.split(split)) + len(web.split(split))
    assert set(union.protocol.test) == {f"nuaa/{s}" for s in nuaa.protocol.test} | {
        f"webcam/{s}" for s in web.protocol.test}
    assert {s.dataset for s in union.split("dev")} == {"nuaa", "webcam"}

    weighted = MultiDataset([{**sources[0], "weight": 1}, {**sources[1], "weight": 3}])
    train = weighted.split("train", seed=0)
    shares = {name: sum(s.dataset == name for s in train) / len(train) for name in ("nuaa", "webcam")}
    assert len(train) == len(union.split("train"))
    assert shares["nuaa"] == pytest.approx(0.25, abs=1e-3) and shares["webcam"] == pytest.approx(0.75, abs=1e-3)
    assert weighted.split("dev") == union.split("dev")  # weights touch train only
    with pytest.raises(AntispoofError, match="each takes its own protocol"):
        open_dataset(sources, protocol=NUAA / "protocol.json")
    with pytest.raises(AntispoofError, match="one non-negative weight per dataset"):
        MultiDataset([{**sources[0], "weight": 1}, sources[1]])


@pytest.mark.shared
def test_source_balance_gives_each_source_an_equal_share_within_its_dataset(tmp_path):
    """--balance source: every train subject (source) of a dataset as many crops as the others,
    the dataset's total kept; dev and test untouched; the default keeps each crop once."""
    from collections import Counter

    from antispoof.training.options import TrainOptions

    webcam = linked_webcam_subset(tmp_path / "webcam")
    sources = [{"data": str(NUAA), "protocol": None, "weight": None},
               {"data": str(webcam), "protocol": None, "weight": None}]
    union = open_dataset(sources)
    plain, balanced = union.split("train"), union.split("train", seed=0, balance="source")
    assert plain == union.split("train", balance="size")
    for dataset in ("nuaa", "webcam"):
        before = [s for s in plain if s.dataset == dataset]
        after = Counter(s.subject for s in balanced if s.dataset == dataset)
        assert sum(after.values()) == len(before)  # the dataset's total is kept
        assert set(after) == {s.subject for s in before} and max(after.values()) - min(after.values()) <= 1
    assert union.split("dev", balance="source") == union.split("dev")
    assert balanced == union.split("train", seed=0, balance="source")  # seeded
    with pytest.raises(AntispoofError, match="unknown balance 'subjects'"):
        TrainOptions(balance="subjects")


def test_train_and_evaluate_take_several_datasets(tmp_path, small_build):
    webcam = linked_webcam_subset(tmp_path / "webcam")
    run = tmp_path / "run"
    data = ["--data", NUAA, "--data", webcam]
    run_cli("train", *data, "--data-weight", 1, "--data-weight", 1, "--init",
            small_build / "backbone.keras", "--epochs", 1, "--limit", 200, "--out", run)
    config = json.loads((run / "config.json").read_text())
    assert [d["data"] for d in config["data"]] == [str(NUAA), str(webcam)]
    assert config["protocol"] == "nuaa-subject-holdout-v1+webcam-subset"
    out = tmp_path / "eval.json"
    run_cli("evaluate", run / "model.keras", *data, "--operating-point", "eer", "--json", out)
    result = json.loads(out.read_text())
    assert set(result["datasets"]) == {"nuaa", "webcam"}
    n_test = len(FaceDataset(NUAA).split("test")) + len(FaceDataset(webcam).split("test"))
    assert result["n_real"] + result["n_spoof"] == n_test
    assert sum(d["n_real"] + d["n_spoof"] for d in result["datasets"].values()) == n_test
    assert {s.split("/")[0] for s in result["subjects"]} == {"nuaa", "webcam"}
    proc = run_cli("evaluate", run / "model.keras", *data, "--protocol", NUAA / "protocol.json",
                   check=False)
    assert proc.returncode == 2 and "give --protocol once per --data" in proc.stderr


@pytest.mark.system
def test_the_peer_scores_like_its_onnx_graph(tmp_path):
    import onnxruntime

    crops = [p for folder in ("ClientFace", "ImposterFace")
             for p in sorted((NUAA / folder / "0010").glob("*.jpg"))[:4]]
    peer = PeerClassifier(PEER)
    assert peer.input_size == 80 and peer.runtime.startswith("onnxruntime")
    pixels = np.stack([load_face_crop(p, 80) for p in crops])
    session = onnxruntime.InferenceSession(str(PEER), providers=["CPUExecutionProvider"])
    bgr = pixels[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    logits = session.run(None, {"bgr_0_255": np.ascontiguousarray(bgr)})[0]
    p_real = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    np.testing.assert_allclose(peer.predict(pixels), 1 - p_real, atol=1e-6)
    result = evaluate(PEER, NUAA, "test", resamples=0)  # the dev split sets its threshold
    assert result["runtime"].startswith("onnxruntime") and result["auc"] > 0.8


def test_distillation_from_the_peer(tmp_path, small_data, small_build):
    run = tmp_path / "student"
    proc = run_cli("train", "--data", small_data, "--init", small_build / "backbone.keras",
                   "--teacher", PEER, "--epochs", 1, "--limit", 60, "--out", run)
    counts = re.findall(rf"train: teacher {Path(PEER).name}: (\d+) crops scored, (\d+) from its cache",
                        proc.stderr)  # dev's 60 (the weights), the train split's 60, dev's again
    assert [int(scored) + int(cached) for scored, cached in counts] == [60, 60, 60], proc.stderr
    assert (run / "model.keras").exists()


def test_select_epoch_keeps_the_epoch_dev_liked_best(tmp_path, small_data, small_build):
    run = tmp_path / "run"
    run_cli("train", "--data", small_data, "--init", small_build / "backbone.keras", "--epochs", 3,
            "--select-epoch", "--limit", 80, "--learning-rate", 3e-3, "--out", run)
    history = json.loads((run / "history.json").read_text())
    aucs = [e["val_auc"] for e in history["epochs"]]
    assert history["selected_epoch"] == 1 + max(range(3), key=lambda i: (aucs[i], i))
    assert not (run / "best-epoch.keras").exists()
    # by the worst dev source instead: each epoch logs it, the best of it is kept
    run = tmp_path / "worst"
    proc = run_cli("train", "--data", small_data, "--init", small_build / "backbone.keras", "--epochs", 2,
                   "--select-epoch", "--select-by", "worst-source", "--limit", 80, "--learning-rate",
                   3e-3, "--out", run)
    history = json.loads((run / "history.json").read_text())
    worst = [e["val_worst_source_auc"] for e in history["epochs"]]
    assert all(0 <= w <= 1 for w in worst) and history["selected_by"] == "val_worst_source_auc"
    assert history["selected_epoch"] == 1 + max(range(2), key=lambda i: (worst[i], i))
    assert "has the best dev worst source auc" in proc.stderr


def test_restarts_keep_the_candidate_dev_liked_best(tmp_path, small_data, small_build):
    """--restarts 2: two runs of seeds S and S+1000 under candidates/, each keeping its best
    epoch; the run is the candidate whose kept epoch has the best dev figure (its model file, its
    history with both figures); a rerun trains nothing; without --select-epoch: one line."""
    from antispoof.training.loop import RESTART_SEED_STEP
    from antispoof.training.options import TrainOptions

    run = tmp_path / "run"
    args = ["train", "--data", small_data, "--init", small_build / "backbone.keras", "--epochs", 1,
            "--select-epoch", "--select-by", "worst-source", "--limit", 80, "--learning-rate", 3e-3,
            "--seed", 3, "--restarts", 2, "--out", run]
    proc = run_cli(*args)
    seeds = [3, 3 + RESTART_SEED_STEP]
    figures = {seed: json.loads((run / "candidates" / f"seed-{seed}" / "history.json").read_text())
               ["epochs"][0]["val_worst_source_auc"] for seed in seeds}
    history = json.loads((run / "history.json").read_text())
    best = max(seeds, key=figures.get)
    assert history["complete"] and history["chosen_seed"] == best
    assert history["candidates"] == [{"seed": seed, "dev": figures[seed]} for seed in seeds]
    assert (run / "model.keras").read_bytes() == (run / "candidates" / f"seed-{best}" / "model.keras").read_bytes()
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["restarts"] == 2 and config["options"]["seed"] == 3
    assert f"candidate seed {best} has the best dev worst source auc" in proc.stderr
    again = run_cli(*args)
    assert "is complete, nothing to do" in again.stderr and "candidate 1 of 2" not in again.stderr
    with pytest.raises(AntispoofError, match="--restarts .* give --select-epoch too"):
        TrainOptions(restarts=2)


def test_label_smoothing_and_degradation_reach_training(small_data):
    import tensorflow as tf

    from antispoof.data.stream import tf_dataset
    from antispoof.training.options import TrainOptions
    from antispoof.training.loop import _compiled_model

    model = _compiled_model(TrainOptions(label_smoothing=0.2, input_size=32), None)
    assert model.loss.get_config()["label_smoothing"] == 0.2
    images = FaceDataset(small_data).load("test", 32, limit=16)
    tf.random.set_seed(0)
    plain = next(iter(tf_dataset(images, 16, training=True, seed=0)))
    tf.random.set_seed(0)
    degraded = next(iter(tf_dataset(images, 16, training=True, seed=0, degrade=1.0)))
    # same shuffle and flips, labels kept; every crop's pixels changed by the webcam effects
    np.testing.assert_array_equal(plain[1].numpy(), degraded[1].numpy())
    changed = np.abs(plain[0].numpy() - degraded[0].numpy()).reshape(16, -1).mean(axis=1)
    assert (changed > 1.0).all()


def test_the_decoded_crops_stream_has_no_autotuning_thread(small_data):
    """Without tf.data's autotuning thread, freeing the stream's iterator does not wait for it
    (it held fit's return up to half a minute), in training and for dev alike."""
    from antispoof.data.stream import tf_dataset

    images = FaceDataset(small_data).load("test", 32, limit=16)
    for training in (True, False):
        ds = tf_dataset(images, 8, training=training, seed=0)
        assert ds.options().autotune.enabled is False
        assert sum(len(y) for _, y in ds) == len(images.labels)


def test_the_cosine_schedule_decays_to_zero_over_the_epochs():
    from antispoof.training.loop import _compiled_model
    from antispoof.training.optimizers import learning_rate
    from antispoof.training.options import TrainOptions

    constant = _compiled_model(TrainOptions(input_size=32, epochs=2), None, steps_per_epoch=10)
    assert float(constant.optimizer.learning_rate) == pytest.approx(3e-4)
    cosine = _compiled_model(TrainOptions(input_size=32, epochs=2, lr_schedule="cosine"), None,
                             steps_per_epoch=10).optimizer.get_config()["learning_rate"]
    assert cosine["config"]["decay_steps"] == 20  # two epochs of ten steps
    schedule = learning_rate(3e-4, "cosine", 20)
    assert [round(float(schedule(step)) / 3e-4, 3) for step in (0, 10, 20)] == [1.0, 0.5, 0.0]
    with pytest.raises(AntispoofError, match="schedule"):
        TrainOptions(lr_schedule="linear")


def test_central_difference_trains_and_folds_into_plain_convolutions(tmp_path, small_data, small_build):
    import tf_keras as keras

    from antispoof.models.layers import (CentralDifferenceDepthwise, fold_central_difference,
        with_central_difference)
    from antispoof.models.builders import build_model, load_model
    from antispoof.runtime.interpreter import TFLiteClassifier

    model = build_model(init=small_build / "backbone.keras")
    pixels = FaceDataset(small_data).load("test", SIZE, limit=8).pixels.astype(np.float32)
    features = lambda m: keras.Model(m.input, m.get_layer("pool").output).predict(pixels, verbose=0)  # noqa: E731
    cdc = with_central_difference(model, 0.7)
    depthwise = [layer for layer in cdc.layers if isinstance(layer, CentralDifferenceDepthwise)]
    assert len(depthwise) == sum(type(layer).__name__ == "DepthwiseConv2D" for layer in model.layers)
    scale = np.abs(features(model)).max()
    np.testing.assert_allclose(features(cdc), features(model), atol=1e-5 * scale)  # same at start
    rng = np.random.default_rng(0)
    for layer in depthwise:  # as if trained: the folded model must follow the CDC one exactly
        kernel, *rest = layer.get_weights()
        layer.set_weights([kernel + rng.normal(0, 0.05, kernel.shape).astype(np.float32), *rest])
    folded = fold_central_difference(cdc)
    assert not any(isinstance(layer, CentralDifferenceDepthwise) for layer in folded.layers)
    np.testing.assert_allclose(features(folded), features(cdc), atol=1e-5 * scale)

    from antispoof.compress.config import QuantizationConfig
    from antispoof.compress.quantization import quantize
    from antispoof.training.loop import train
    from antispoof.training.options import TrainOptions

    # the functions `train` and `quantize --mode ptq` call, in this process (no start-up each)
    runs = {"plain": {}, "cdc": {"cdc": 0.7}, "pixel": {"pixel_supervision": 0.5, "select_epoch": True},
            "mixstyle": {"mixstyle": 0.5, "select_epoch": True},
            "adversarial": {"adversarial": 0.1, "select_epoch": True}}
    for name, fields in runs.items():
        train(small_data, tmp_path / name, None,
              TrainOptions(init=str(small_build / "backbone.keras"), epochs=1, limit=32, **fields))
        quantize(tmp_path / name, small_data, tmp_path / name / "int8.tflite",
                 QuantizationConfig(mode="ptq"))
    saved = load_model(tmp_path / "cdc" / "model.keras")
    assert not any(isinstance(layer, CentralDifferenceDepthwise) for layer in saved.layers)
    saved = load_model(tmp_path / "mixstyle" / "model.keras")
    assert not any("mixstyle" in layer.name for layer in saved.layers)
    saved = load_model(tmp_path / "pixel" / "model.keras")
    assert len(saved.outputs) == 1 and PIXEL_MAP not in [layer.name for layer in saved.layers]
    epoch, = json.loads((tmp_path / "pixel" / "history.json").read_text())["epochs"]
    assert {"auc", "val_auc", "pixel_map_loss", "val_pixel_map_loss"} <= set(epoch)
    saved = load_model(tmp_path / "adversarial" / "model.keras")
    assert len(saved.outputs) == 1 and not {"source", "source_reversal"} & {layer.name for layer in saved.layers}
    epoch, = json.loads((tmp_path / "adversarial" / "history.json").read_text())["epochs"]
    assert {"auc", "val_auc", "source_loss", "val_source_loss"} <= set(epoch)
    assert epoch["source_loss"] > 0 and epoch["val_source_loss"] == 0  # dev sources: none of training's
    ops = [sorted(op["op_name"] for op in TFLiteClassifier(tmp_path / name / "int8.tflite",
                                                           runtime="tf.lite").interpreter._get_ops_details())
           for name in runs]
    # the same op list: central difference, the pixel map, MixStyle and the source head cost
    # nothing at inference
    assert all(op == ops[0] for op in ops)
    sizes = {(tmp_path / name / "int8.tflite").stat().st_size for name in runs}
    assert max(sizes) - min(sizes) < 1024  # the same tensors (a few bytes of quantization metadata)


def test_mixstyle_mixes_feature_statistics_in_training_only():
    """After the last blocks at 1/4 and 1/8 of the input side; the identity at inference; in
    training (p = 1, λ ≈ 0.5) each crop's channel means become the mean of its own and those of
    the crop it was paired with (itself or the other), its spatial pattern kept."""
    import tensorflow as tf

    from antispoof.models.builders import build_model
    from antispoof.models.layers import MixStyle, with_mixstyle, without_mixstyle

    model = build_model(input_size=64, weights=None)
    mixed = with_mixstyle(model, 0.5)
    assert [layer.name for layer in mixed.layers if isinstance(layer, MixStyle)] == \
        ["mixstyle_block_2_add", "mixstyle_block_5_add"]
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(mixed.predict(pixels, verbose=0), model.predict(pixels, verbose=0))
    assert len(without_mixstyle(mixed).layers) == len(model.layers)

    x = tf.constant(np.random.default_rng(1).normal([[[[0, 5]]], [[[10, -5]]]], [[[[1, 2]]], [[[3, 1]]]],
                                                    (2, 6, 6, 2)), tf.float32)
    layer = MixStyle(p=1.0, alpha=1e4)
    tf.random.set_seed(0)
    for _ in range(4):
        out = layer(x, training=True).numpy()
        means, own = out.mean(axis=(1, 2)), x.numpy().mean(axis=(1, 2))
        assert np.allclose(means, own, atol=0.05) or np.allclose(means, own.mean(axis=0), atol=0.05)
        pattern = lambda a: (a - a.mean(axis=(1, 2), keepdims=True)) / a.std(axis=(1, 2), keepdims=True)  # noqa: E731
        np.testing.assert_allclose(pattern(out), pattern(x.numpy()), atol=1e-3)


def test_the_source_head_learns_sources_while_its_gradient_reverses():
    """Gradient reversal: the identity forward, −scale × the gradient back; the source loss
    counts live crops of training sources only (single-side), as cross-entropy."""
    import tensorflow as tf

    from antispoof.models.builders import build_model
    from antispoof.models.layers import GradientReversal, SOURCE_HEAD, main_output, with_source_head
    from antispoof.training.losses import SourceLoss

    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = GradientReversal(scale=0.5)(x)
        total = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), [[-0.5, -1.0, -1.5]])

    logits = tf.constant([[2.0, 0.0, 0.0]] * 4)
    rows = tf.constant([[0, 0], [1, 0], [0, 1], [-1, 0]], tf.float32)  # live, live, spoof, dev
    per_crop = SourceLoss(reduction="none")(rows, logits).numpy()
    p = np.exp(2) / (np.exp(2) + 2)
    np.testing.assert_allclose(per_crop, [-np.log(p), -np.log((1 - p) / 2), 0, 0], rtol=1e-5)

    model = build_model(input_size=64, weights=None)
    headed = with_source_head(model, 5)
    assert [o.name.split("/")[0] for o in headed.outputs] == ["score", SOURCE_HEAD]
    assert tuple(headed.outputs[1].shape) == (None, 5)
    assert len(main_output(headed).layers) == len(model.layers)
    with pytest.raises(AntispoofError, match="two training sources"):
        with_source_head(model, 1)
    from antispoof.training.options import TrainOptions
    with pytest.raises(AntispoofError, match="--adversarial .* does not mix with --synth-spoof"):
        TrainOptions(adversarial=0.1, synth_spoof=0.5)


def test_probe_epochs_train_the_head_alone_then_the_whole_network(tmp_path, small_data, small_build):
    """LP-FT: the probe epochs move the head alone (at PROBE_RATE_SCALE times the rate), the
    rest the whole network at the rate given, BatchNorm still frozen; a probe must leave an
    epoch to fine-tune, and --ema does not mix with --select-epoch (which keeps raw weights)."""
    import tf_keras as keras
    from antispoof.models.builders import load_model
    from antispoof.training.loop import PROBE_RATE_SCALE, _compiled_model, _fine_tune_all, train
    from antispoof.training.options import TrainOptions

    init = small_build / "backbone.keras"
    options = TrainOptions(init=str(init), epochs=2, probe_epochs=1, limit=32)
    model = _compiled_model(options, None)
    assert {w.name.split("/")[0] for w in model.trainable_weights} == {"score"}
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4 * PROBE_RATE_SCALE)
    _fine_tune_all(model, options, 1)
    trainable = {w.name.split("/")[0] for w in model.trainable_weights}
    batchnorm = {layer.name for layer in model.layers
                 if isinstance(layer, keras.layers.BatchNormalization)}
    assert "score" in trainable and "Conv1" in trainable and batchnorm and not trainable & batchnorm
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)

    train(small_data, tmp_path / "probe", None, options)
    history = json.loads((tmp_path / "probe" / "history.json").read_text())
    assert history["complete"] and [e["epoch"] for e in history["epochs"]] == [1, 2]
    saved, start = load_model(tmp_path / "probe" / "model.keras"), load_model(init)
    assert not np.allclose(saved.get_layer("Conv1").get_weights()[0],
                           start.get_layer("Conv1").get_weights()[0])  # epoch 2 tuned the stem
    with pytest.raises(AntispoofError, match="--probe-epochs 2 leaves no epoch of --epochs 2"):
        TrainOptions(epochs=2, probe_epochs=2)
    with pytest.raises(AntispoofError, match="--ema .* --select-epoch"):
        TrainOptions(ema=0.99, select_epoch=True)


def test_the_pixel_map_is_a_training_only_output(small_data):
    import tensorflow as tf

    from antispoof.models.builders import build_model
    from antispoof.training.losses import PixelMapLoss
    from antispoof.training.loop import _compiled_model, _score_metrics
    from antispoof.training.options import TrainOptions

    model = build_model(input_size=64, weights=None)
    mapped = with_pixel_map(model)
    assert [tuple(o.shape) for o in mapped.outputs] == [(None, 1), (None, 8, 8, 1)]
    assert mapped.get_layer(PIXEL_MAP).input.name.startswith("block_5_add")  # stride 8, last block
    assert len(main_output(mapped).layers) == len(model.layers)
    pixels = FaceDataset(small_data).load("test", 64, limit=8).pixels.astype(np.float32)
    np.testing.assert_array_equal(main_output(mapped).predict(pixels, verbose=0),
                                  model.predict(pixels, verbose=0))

    loss = PixelMapLoss()
    spoof_map = tf.fill([2, 4, 4, 1], 0.9)
    for target in ([[1.0], [1.0]], [[1.0, 0.2], [1.0, 0.7]], [1.0, 1.0]):  # labels, distillation rows
        assert float(loss(tf.constant(target), spoof_map)) == pytest.approx(-np.log(0.9), rel=1e-5)
    assert float(loss(tf.constant([[0.0], [0.0]]), spoof_map)) == pytest.approx(-np.log(0.1), rel=1e-5)

    compiled = _compiled_model(TrainOptions(pixel_supervision=0.5, input_size=64), None)
    assert compiled.compiled_loss._loss_weights == {"score": 1.0, PIXEL_MAP: 0.5}
    assert _score_metrics({"loss": 1, "score_loss": 2, "score_auc": 3, "val_score_auc": 4,
                           "val_score_loss": 5, "pixel_map_loss": 6}) == {
        "loss": 1, "score_loss": 2, "auc": 3, "val_auc": 4, "val_score_loss": 5, "pixel_map_loss": 6}
    with pytest.raises(AntispoofError):
        TrainOptions(pixel_supervision=-1)


@pytest.mark.shared
def test_the_cards_source_table_counts_train_and_dev_crops_never_test(tmp_path):
    """The model card's table of a dataset's sources: webcam-multi's source repositories (read
    from its manifest), NUAA's subjects (it has no manifest), the subjects of a dataset whose
    manifest names no repository (as `prepare` writes it), saying which; every train and dev
    crop counted once, no test source named."""
    from antispoof.pipeline.export import _source_table
    from antispoof.testing.nuaa import make_subset

    subset = make_subset(tmp_path / "subset", ("0001", "0002", "0003"), 4)
    (subset / "manifest.csv").write_text("file,label,subject,attack,source\n"
                                         "real/0001/a.jpg,real,0001,,a.mp4\n")
    for folder, says in ((WEBCAM, "as its manifest states them"),
                         (NUAA, "each subject from its protocol (no manifest of sources beside it)"),
                         (subset, "each subject from its protocol (its manifest names no source "
                                  "repository)")):
        lines = _source_table(folder)
        assert lines[1] == (f"Sources of `{folder.name}` used for training (train) and choosing "
                            f"(dev), {says}:"), lines[1]
        rows = [line.strip("|").split(" | ") for line in lines[5:]]
        dataset = FaceDataset(folder)
        assert {row[1] for row in rows} <= {"train", "dev"} and "train" in {row[1] for row in rows}
        assert not {row[0] for row in rows} & {s.subject for s in dataset.split("test")}
        counted = sum(int(row[2].replace(",", "")) + int(row[3].replace(",", "")) for row in rows)
        assert counted == len(dataset.split("train")) + len(dataset.split("dev")), folder


def test_weight_average_is_the_mean_of_the_steps_and_training_keeps_its_own_weights(tmp_path):
    """--average-weights: dev scores the running mean of the weights over the steps of the
    epochs from ``start`` on (the probe's left out); training goes on from its own weights; the
    mean kept beside the checkpoint carries a resumed run on; the option's exclusions."""
    import tf_keras as keras
    from antispoof.core.rundir import RunDir
    from antispoof.training.averaging import WeightAverage
    from antispoof.training.options import TrainOptions

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    steps, own = [], []

    class Record(keras.callbacks.Callback):
        def __init__(self, average):
            super().__init__()
            self.average = average

        def on_train_batch_end(self, batch, logs=None):
            steps.append([w.numpy() for w in self.model.weights])

        def on_epoch_end(self, epoch, logs=None):  # as _EpochCheckpoint does
            self.average.end_epoch(epoch + 1)
            own.append([w.numpy() for w in self.model.weights])

    def mse(weights):
        kernel, bias = weights
        return float(np.mean((x @ kernel + bias - y) ** 2))

    run = RunDir(tmp_path)
    average = WeightAverage(run, start=1)
    logs = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), shuffle=False, verbose=0,
                     callbacks=[average, Record(average)]).history["val_loss"]
    assert len(steps) == 8
    mean = [np.mean(ws, axis=0) for ws in zip(*steps[4:])]  # epoch 2's four steps
    assert logs[0] == pytest.approx(mse(steps[3]), rel=1e-5)  # epoch 1: its own weights
    assert logs[1] == pytest.approx(mse(mean), rel=1e-5) and abs(mse(mean) - mse(steps[7])) > 1e-4
    for kept, last in zip(own[1], steps[7]):
        np.testing.assert_allclose(kept, last)  # training's own weights back
    assert sorted(run.averages()) == [2]  # nothing from the probe epoch
    with np.load(run.average(2)) as saved:
        assert int(saved["count"]) == 4
        np.testing.assert_allclose(saved["w0"], mean[0], rtol=1e-5)

    resumed = WeightAverage(run, start=1, resumed_epoch=2)  # a new process goes on after epoch 2
    fitted = model.fit(x, y, batch_size=4, epochs=3, initial_epoch=2, validation_data=(x, y),
                       shuffle=False, verbose=0, callbacks=[resumed, Record(resumed)])
    logs = fitted.history["val_loss"]
    mean = [np.mean(ws, axis=0) for ws in zip(*steps[4:])]  # epochs 2 and 3: eight steps
    assert logs[0] == pytest.approx(mse(mean), rel=1e-5)
    resumed.load_into(model)
    np.testing.assert_allclose(model.weights[0].numpy(), mean[0], rtol=1e-5)
    with pytest.raises(AntispoofError, match="--average-weights and --ema"):
        TrainOptions(average_weights=True, ema=0.99)
    with pytest.raises(AntispoofError, match="--average-weights .* --strategy mirrored"):
        TrainOptions(average_weights=True, strategy="mirrored")


def test_a_run_with_average_weights_keeps_the_mean_and_leaves_no_averages(tmp_path, small_data,
                                                                          small_build):
    """A real LP-FT run with --average-weights --select-epoch: complete, the mean's dev figures
    per epoch, the kept model saved and no checkpoint or average left behind."""
    from antispoof.training.loop import train
    from antispoof.training.options import TrainOptions

    run = tmp_path / "run"
    train(small_data, run, None, TrainOptions(init=str(small_build / "backbone.keras"), epochs=3,
                                              probe_epochs=1, limit=40, batch_size=16,
                                              average_weights=True, select_epoch=True,
                                              select_by="worst-source"))
    history = json.loads((run / "history.json").read_text())
    assert history["complete"] and [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert all(0 <= e["val_worst_source_auc"] <= 1 for e in history["epochs"])
    assert (run / "model.keras").exists()
    assert not list(run.glob("average-epoch*")) and not list(run.glob("checkpoint-epoch*"))
