"""The server model (EfficientNet-B0 + the paper's FC head), Rectified Adam, distillation into
the light model, and the server model's SavedModel and float16 exports.

No EfficientNet-B0 ImageNet weights are at hand here (no internet, none in ../shared), so these
tests train from random initialisation; users pass `--weights imagenet` or a file.
"""
import json
import math
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from antispoof.models.specs import DEFAULT_INPUT_SIZE
from antispoof.data.datasets import FaceDataset, load_images
from antispoof.core.errors import AntispoofError
from antispoof.runtime.interpreter import TFLiteClassifier, open_classifier
from antispoof.models.efficientnet import HEAD, build_server_model, parameter_counts
from antispoof.training.losses import DistillationLoss
from antispoof.training.optimizers import RectifiedAdam
from antispoof.training.batchnorm import precise_batchnorm
from antispoof.training.options import TrainOptions
from conftest import NUAA, WEIGHTS_035, run_cli

SIZE = DEFAULT_INPUT_SIZE  # the default build's input side (the small build's)

pytestmark = pytest.mark.system  # trains the server model

SIZE = 32  # the smallest input EfficientNet-B0 takes: fast enough for CI on two cores


@pytest.fixture(scope="module")
def server_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("server") / "run"
    run_cli("train", "--arch", "efficientnet-b0", "--data", NUAA, "--weights", "none",
            "--input-size", SIZE, "--epochs", 4, "--limit", 96, "--batch-size", 16,
            "--learning-rate", 1e-3, "--out", out)
    return out


def test_architecture_and_parameter_count(tmp_path):
    out = tmp_path / "arch.json"
    run_cli("info", "--arch", "efficientnet-b0", "--head", "paper-server", "--json", out)
    info = json.loads(out.read_text())
    assert info["trainable_parameters"] == info["paper_parameters"] == 5_592_606
    assert info["parameters"] == 5_637_253 and info["non_trainable_parameters"] == 44_647
    assert "42,016 in EfficientNet-B0, 2,624 in the head" in info["explanation"]

    model = build_server_model(SIZE, weights=None)
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # flat graph
    names = [layer.name for layer in model.layers]
    assert names[names.index("pool"):] == ["pool", *[
        n for i in range(3) for n in (f"head_dense{i}", f"head_norm{i}", f"head_swish{i}",
                                      f"head_dropout{i}")], "probabilities"]
    for i, units in enumerate(HEAD.hidden):
        assert model.get_layer(f"head_dense{i}").units == units
        assert model.get_layer(f"head_swish{i}").activation.__name__ == "swish"
    output = model.get_layer("probabilities")
    assert output.units == 2 and output.activation.__name__ == "softmax"
    assert any(layer.name.startswith("block7a") for layer in model.layers)  # EfficientNet-B0
    assert parameter_counts(model)["trainable_parameters"] == 5_592_606  # size-independent


def radam_reference(gradients, lr=0.1, beta_1=0.9, beta_2=0.999, eps=1e-7, theta=1.0):
    """Algorithm 2 of Liu et al. (2020), written out for one scalar."""
    m = v = 0.0
    rho_inf = 2 / (1 - beta_2) - 1
    path = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1 ** t)
        rho = rho_inf - 2 * t * beta_2 ** t / (1 - beta_2 ** t)
        if rho > 4:
            l_t = math.sqrt(1 - beta_2 ** t) / (math.sqrt(v) + eps)
            r_t = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            theta -= lr * m_hat * r_t * l_t
        else:
            theta -= lr * m_hat
        path.append(theta)
    return path


def test_rectified_adam_follows_the_paper():
    gradients = [0.5, -0.2, 0.8, 0.1, -0.4, 0.3, 0.9, -0.7, 0.2, 0.6, -0.1, 0.05]
    variable = tf.Variable(1.0, dtype=tf.float64)
    optimizer = RectifiedAdam(learning_rate=0.1)
    path = []
    for g in gradients:
        optimizer.apply_gradients([(tf.constant(g, tf.float64), variable)])
        path.append(float(variable.numpy()))
    expected = radam_reference(gradients)
    np.testing.assert_allclose(path, expected, rtol=1e-6)  # hyperparameters are float32
    # the first steps are momentum-SGD steps (ρ_t ≤ 4), later ones rectified Adam steps
    assert path[0] == pytest.approx(1.0 - 0.1 * 0.5)
    assert RectifiedAdam.from_config(optimizer.get_config()).beta_2 == 0.999


def test_distillation_loss_on_a_hand_checked_batch():
    # [label, teacher P(spoof)] and the student's P(spoof); alpha 0.5, temperature 2
    y_true = np.array([[1, 0.8], [0, 0.3]], np.float32)
    y_pred = np.array([[0.6], [0.1]], np.float32)
    # row 1: hard −ln 0.6 = 0.510826; teacher logit ln 4 → σ(ln 4 / 2) = 2/3; student logit
    # ln 1.5 → σ(ln 1.5 / 2) = 0.550510; soft −(2/3 ln 0.550510 + 1/3 ln 0.449490) = 0.664534
    row1 = 0.5 * 0.510826 + 0.5 * 4 * 0.664534
    # row 2: hard −ln 0.9 = 0.105361; σ(ln(3/7) / 2) = 0.395644; σ(ln(1/9) / 2) = 0.25;
    # soft −(0.395644 ln 0.25 + 0.604356 ln 0.75) = 0.722333
    row2 = 0.5 * 0.105361 + 0.5 * 4 * 0.722333
    loss = DistillationLoss(alpha=0.5, temperature=2.0)
    assert float(loss(y_true, y_pred)) == pytest.approx((row1 + row2) / 2, abs=1e-4)
    hard_only = DistillationLoss(alpha=1.0)
    assert float(hard_only(y_true, y_pred)) == pytest.approx((0.510826 + 0.105361) / 2, abs=1e-5)


def test_precise_batchnorm_averages_the_batch_statistics():
    inputs = keras.Input((3,))
    norm = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Model(inputs, norm(inputs))
    norm.set_weights([np.ones(3), np.zeros(3), np.full(3, 50.0), np.full(3, 9.0)])  # stale
    x = np.random.default_rng(0).normal(2.0, 3.0, (128, 3)).astype(np.float32)
    assert precise_batchnorm(model, x, batches=2, batch_size=64, seed=0) == 2
    order = np.random.default_rng(0).permutation(128)
    batches = [x[order[:64]], x[order[64:]]]
    mean, variance = norm.get_weights()[2:]
    np.testing.assert_allclose(mean, np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(variance, np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    assert norm.momentum == 0.99  # restored


def test_short_server_training_lowers_the_loss(server_run):
    history = json.loads((server_run / "history.json").read_text())
    losses = [epoch["loss"] for epoch in history["epochs"]]
    assert history["complete"] and len(losses) == 4
    assert history["precise_batchnorm_batches"] == 1  # 96 crops: one batch of 64
    assert losses[-1] < losses[0]
    config = json.loads((server_run / "config.json").read_text())
    assert config["options"]["arch"] == "efficientnet-b0"
    assert config["options"]["head"] == "paper-server" and config["weights"] == "None"
    with zipfile.ZipFile(server_run / "model.keras") as saved:  # compiled with its optimizer
        compiled = json.loads(saved.read("config.json"))["compile_config"]
    assert compiled["optimizer"]["registered_name"] == "antispoof>RectifiedAdam"


def test_server_exports_evaluate_alike(server_run, tmp_path):
    """End to end, one of the three tests allowed over a minute: the only one of the server
    model's SavedModel and float16 exports, and of evaluating both."""
    out = tmp_path / "export"
    listing = run_cli("export", server_run, "--out", out).stdout
    assert "saved_model" in listing and "antispoof_server_fp16.tflite" in listing
    fp16 = TFLiteClassifier(out / "antispoof_server_fp16.tflite")
    assert fp16.input["dtype"] == np.float32 and fp16.input_size == SIZE
    float32_bytes = 4 * 5_637_253
    assert (out / "antispoof_server_fp16.tflite").stat().st_size < 0.6 * float32_bytes
    assert "DEQUANTIZE" in {op["op_name"] for op in fp16.interpreter._get_ops_details()}
    saved = open_classifier(out / "saved_model")
    crops = load_images(FaceDataset(NUAA).split("test", limit=64), SIZE).pixels
    agree = (fp16.predict(crops) >= 0.5) == (saved.predict(crops) >= 0.5)
    assert agree.mean() >= 0.95  # float16 weights; a 4-epoch model has near-ties
    from antispoof.evaluation.evaluate import evaluate

    report = tmp_path / "fp16.json"  # the command for the float16 file (no TensorFlow to load)
    run_cli("evaluate", out / "antispoof_server_fp16.tflite", "--data", NUAA, "--json", report)
    # the function it calls for the SavedModel, in this process (TensorFlow is loaded already)
    for metrics in (json.loads(report.read_text()), evaluate(out / "saved_model", NUAA)):
        assert (metrics["n_real"], metrics["n_spoof"]) == (384, 1217)
        assert 0 <= metrics["auc"] <= 1


def test_distillation_trains_the_light_model(server_run, tmp_path):
    out = tmp_path / "student"
    run_cli("train", "--data", NUAA, "--weights", WEIGHTS_035, "--input-size", 64,
            "--epochs", 1, "--limit", 96, "--teacher", server_run, "--distill-alpha", 0.3,
            "--temperature", 3, "--out", out)
    history = json.loads((out / "history.json").read_text())
    epoch = history["epochs"][0]
    assert {"loss", "auc", "val_loss", "val_auc"} <= set(epoch) and math.isfinite(epoch["loss"])
    options = json.loads((out / "config.json").read_text())["options"]
    assert options["teacher"] == [str(server_run)] and options["distill_alpha"] == 0.3
    student = keras.models.load_model(out / "model.keras", compile=False)
    assert student.output_shape == (None, 1) and student.input_shape[1] == 64


def test_bad_server_options_are_clear_errors(tmp_path):
    proc = run_cli("build", "--data", NUAA, "--weights", "none", "--out", tmp_path / "run",
                   check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        "Error: contraction keeps pretrained weights: give --weights, or --budget-kb 0 to "
        "train --backbone from random initialisation")
    with pytest.raises(AntispoofError, match="efficientnet-b0 takes the paper-server head"):
        TrainOptions(arch="efficientnet-b0", head="paper")
    with pytest.raises(AntispoofError, match="unknown arch"):
        TrainOptions(arch="resnet")
    assert TrainOptions(arch="efficientnet-b0").input_size == 224
    assert TrainOptions().input_size == DEFAULT_INPUT_SIZE
