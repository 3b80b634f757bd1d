"""train → quantize → evaluate, info and bench on a real small build, through the CLI."""
import json
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from antispoof.models.specs import DEFAULT_INPUT_SIZE
from antispoof.data.datasets import FaceDataset
from antispoof.core.errors import AntispoofError
from antispoof.runtime.interpreter import TFLiteClassifier, open_classifier
from conftest import ANTISPOOF, WEIGHTS_035, make_subset, run_cli

SIZE = DEFAULT_INPUT_SIZE  # the default build's input side (the small build's)


def test_build_writes_model_history_int8_and_metrics(small_build):
    history = json.loads((small_build / "history.json").read_text())
    assert history["complete"] and len(history["epochs"]) == 1
    assert np.isfinite(history["epochs"][0]["loss"]) and "val_auc" in history["epochs"][0]
    metrics = json.loads((small_build / "metrics.json").read_text())
    for name in ("float", "int8"):
        assert 0.0 <= metrics[name]["auc"] <= 1.0 and metrics[name]["threshold_source"] == "dev EER"
    assert metrics["int8"]["size_bytes"] == (small_build / "antispoof_int8.tflite").stat().st_size
    assert not list(small_build.glob("checkpoint-epoch*"))


def test_training_freezes_batchnorm(small_build):
    import tf_keras as keras

    model = keras.models.load_model(small_build / "model.keras", compile=False)
    batchnorms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert batchnorms and not any(l.trainable for l in batchnorms)
    assert not any(isinstance(l, keras.Model) for l in model.layers)  # flat: QAT can wrap it


def test_int8_model_is_full_integer_with_pixel_input(small_build):
    info = json.loads(run_cli("info", small_build / "antispoof_int8.tflite").stdout)
    assert info["input_dtype"] == "int8" and info["outputs"][0]["dtype"] == "int8"
    assert info["inputs"][0]["quantization"] == {"scale": 1.0, "zero_point": -128}
    assert info["input_shape"] == [SIZE, SIZE, 3]
    assert info["quantization"].startswith("full-integer")
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(info["ops"])
    contract = json.loads((small_build / "model.json").read_text())
    assert contract["input"]["zero_point"] == -128 and contract["labels"] == ["real", "spoof"]


def test_keras_info_counts_parameters(small_build):
    info = json.loads(run_cli("info", small_build / "model.keras").stdout)
    assert info["parameters"] == 40169  # MobileNetV2 0.35 to block 8 (40,144) + Dense(24 → 1)
    assert info["input_shape"] == [SIZE, SIZE, 3]


def _independent_scores(tflite_path, samples):
    """P(spoof) through tf.lite directly, one crop at a time: not the toolkit's runtime path."""
    interpreter = tf.lite.Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    import cv2

    scores = []
    for sample in samples:
        bgr = cv2.imread(sample.path)
        rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (SIZE, SIZE), interpolation=cv2.INTER_AREA
                         if min(bgr.shape[:2]) > SIZE else cv2.INTER_LINEAR)
        interpreter.set_tensor(inp["index"], (rgb.astype(np.int16) - 128).astype(np.int8)[None])
        interpreter.invoke()
        scale, zero = out["quantization"]
        scores.append((int(interpreter.get_tensor(out["index"])[0, 0]) - zero) * scale)
    return np.array(scores)


def test_evaluate_json_matches_independent_recomputation(small_build, small_data, tmp_path):
    model = small_build / "antispoof_int8.tflite"
    out = tmp_path / "eval.json"
    run_cli("evaluate", model, "--data", small_data, "--split", "test", "--json", out)
    result = json.loads(out.read_text())
    for key in ("n_real", "n_spoof", "auc", "eer", "threshold", "apcer", "bpcer", "acer", "f1",
                "accuracy", "confusion_matrix", "runtime"):
        assert key in result
    assert result["runtime"].startswith("litert")

    dataset = FaceDataset(small_data)
    test, dev = dataset.split("test"), dataset.split("dev")
    labels = np.array([s.label for s in test])
    # the metrics are recomputed exactly from the scores evaluate used (batched LiteRT) ...
    scores = TFLiteClassifier(model).predict(dataset.load("test", SIZE).pixels)
    # ... and those scores match an independent decode + tf.lite pass, one crop at a time, to the
    # output's 1-LSB step (XNNPACK batched and reference kernels may round differently)
    assert np.abs(scores - _independent_scores(model, test)).max() <= 1 / 256 + 1e-6
    real, spoof = scores[labels == 0], scores[labels == 1]
    assert (result["n_real"], result["n_spoof"]) == (len(real), len(spoof))
    # AUC by brute force over all (real, spoof) pairs
    pairs = (spoof[:, None] > real[None, :]).mean() + 0.5 * (spoof[:, None] == real[None, :]).mean()
    assert result["auc"] == pytest.approx(pairs, abs=1e-9)
    t = result["threshold"]
    assert result["apcer"] == pytest.approx(np.mean(spoof < t))
    assert result["bpcer"] == pytest.approx(np.mean(real >= t))
    assert result["acer"] == pytest.approx((result["apcer"] + result["bpcer"]) / 2)
    assert result["confusion_matrix"] == [[int(np.sum(real < t)), int(np.sum(real >= t))],
                                          [int(np.sum(spoof < t)), int(np.sum(spoof >= t))]]
    assert result["apcer_per_attack"] == {"spoof": result["apcer"]}  # generic layout: one type
    assert set(result["operating_points"]) == {"bpcer@apcer=1%", "bpcer@apcer=5%",
                                               "bpcer@apcer=10%", "apcer@bpcer=1%"}
    for point in result["operating_points"].values():
        assert point["apcer"] == pytest.approx(np.mean(spoof < point["threshold"]))
        assert point["bpcer"] == pytest.approx(np.mean(real >= point["threshold"]))
    low, high = result["ci95"]["acer"]
    assert low <= result["acer"] <= high
    # the threshold is the dev split's EER point: no dev score gives a smaller |APCER - BPCER|
    dev_labels = np.array([s.label for s in dev])
    dev_scores = TFLiteClassifier(model).predict(dataset.load("dev", SIZE).pixels)
    gap = lambda th: abs(np.mean(dev_scores[dev_labels == 1] < th) - np.mean(dev_scores[dev_labels == 0] >= th))
    assert gap(t) <= min(gap(th) for th in np.unique(dev_scores)) + 1e-12


def test_operating_point_sets_the_threshold_on_dev(small_build, small_data, tmp_path):
    out = tmp_path / "eval.json"
    run_cli("evaluate", small_build / "antispoof_int8.tflite", "--data", small_data,
            "--operating-point", "apcer@bpcer=1%", "--json", out)
    result = json.loads(out.read_text())
    assert result["threshold_source"] == "dev apcer@bpcer=1%"
    assert result["threshold"] == result["operating_points"]["apcer@bpcer=1%"]["threshold"]


def test_int8_scores_track_the_float_model(small_build, small_data):
    """A wiring check on a one-epoch model (PTQ of a barely trained net is coarse: measured
    correlation 0.89 here; the NUAA model agrees on 99.9 % of test decisions)."""
    pixels = FaceDataset(small_data).load("test", SIZE).pixels
    floats = open_classifier(small_build / "model.keras")
    int8 = open_classifier(small_build / "antispoof_int8.tflite")
    assert floats.runtime.startswith("tf_keras") and int8.runtime.startswith("litert")
    assert np.corrcoef(floats.predict(pixels), int8.predict(pixels))[0, 1] > 0.75


def test_runtimes_fall_back_in_order_and_agree(small_build, small_data):
    pixels = FaceDataset(small_data).load("test", SIZE).pixels
    model = small_build / "antispoof_int8.tflite"
    assert TFLiteClassifier(model).runtime_name == "litert"
    scores = {r: TFLiteClassifier(model, runtime=r).predict(pixels)
              for r in ("litert", "tflite-runtime", "tf.lite")}
    # tf.lite 2.19 runs the same kernels as LiteRT 2.3; tflite-runtime 2.14 is an older
    # kernel build (measured here: mean 0.016, max 0.09 on P(spoof))
    assert np.max(np.abs(scores["tf.lite"] - scores["litert"])) <= 1 / 256
    difference = np.abs(scores["tflite-runtime"] - scores["litert"])
    assert difference.mean() < 0.04 and difference.max() < 0.2


def test_wrong_input_shape_is_a_clear_error(small_build):
    classifier = TFLiteClassifier(small_build / "antispoof_int8.tflite")
    with pytest.raises(AntispoofError, match=rf"expects N×{SIZE}×{SIZE}×3 RGB crops, got .*\(2, 64, 64, 3\)"):
        classifier.predict(np.zeros((2, 64, 64, 3), np.uint8))


def test_bench_json_fields(small_build, tmp_path):
    out = tmp_path / "bench.json"
    run_cli("bench", small_build / "antispoof_int8.tflite", "--runs", 30, "--warmup", 5, "--json", out)
    result = json.loads(out.read_text())
    inference = result["inference"]
    assert result["runtime"] == "litert" and result["threads"] == 1 and inference["count"] == 30
    assert 0 < inference["min"] <= inference["p50"] <= inference["p90"]
    assert inference["std"] >= 0 and result["machine"] and result["cpu"]


@pytest.mark.parametrize("command", ["evaluate", "bench", "info"])
def test_non_tflite_file_is_a_one_line_error(command, tmp_path, small_data):
    fake = tmp_path / "model.tflite"
    fake.write_text("not a model at all")
    extra = ["--data", small_data] if command == "evaluate" else []
    proc = run_cli(command, fake, *extra, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Error: {fake}: not a TFLite model (no TFL3 flatbuffer identifier)")


@pytest.mark.system
def test_interrupted_training_resumes_from_last_epoch(tmp_path):
    """Killed after a checkpoint, the run goes on from it; the first epoch trains the head
    alone (--probe-epochs 1), so a kill after it resumes across the switch to fine-tuning."""
    data = make_subset(tmp_path / "data", ["0001", "0002", "0004", "0006", "0007"], 12)
    out = tmp_path / "run"
    args = [str(ANTISPOOF), "train", "--data", str(data), "--weights", str(WEIGHTS_035),
            "--out", str(out), "--epochs", "3", "--batch-size", "8", "--probe-epochs", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not list(out.glob("checkpoint-epoch*.keras")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    history = json.loads((out / "history.json").read_text())
    assert not history["complete"] and not (out / "model.keras").exists()
    done = len(history["epochs"])
    assert 1 <= done < 3
    rerun = run_cli(*args[1:])
    assert f"resuming after epoch {done}" in rerun.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["complete"] and [e["epoch"] for e in history["epochs"]] == [1, 2, 3]


def test_a_run_folder_built_otherwise_is_never_reused(small_build, small_data):
    """Rebuilding into a finished run with another option stops at once with one line naming
    the option (training's and the build's own; one added since the run was built counts at its
    default); --qat-distill without a teacher stops at once too."""
    metrics = json.loads((small_build / "metrics.json").read_text())
    metrics["build"].pop("qat_distill", None)  # as written before the option existed
    (small_build / "metrics.json").write_text(json.dumps(metrics))
    built = ["config.json", "history.json", "model.keras", "backbone.keras", "antispoof_int8.tflite",
             "metrics.json", "model.json"]  # the build's own files (other tests add theirs)
    before = {name: (small_build / name).stat().st_mtime_ns for name in built}
    common = ["build", "--data", small_data, "--weights", WEIGHTS_035, "--out", small_build,
              "--epochs", 1, "--qat-epochs", 1]
    for extra, says in ((["--input-size", 64], f"--input-size {SIZE} there, 64 now"),
                        (["--epochs", 2], "--epochs 1 there, 2 now"),
                        (["--mode", "ptq"], "--mode qat there, ptq now"),
                        (["--qat-learning-rate", 3e-5], "--qat-learning-rate 1e-05 there, 3e-05 now")):
        proc = run_cli(*common, *extra, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(f"Error: {small_build}: holds a ") and says in line, line
        # a build recorded before --qat-distill existed had its default: only the flag given differs
        assert "--qat-distill" not in line
    proc = run_cli(*common, "--qat-distill", check=False)  # no teacher to distil from: before any work
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "Error: --qat-distill distils from the run's teachers: give --teacher"), proc.stderr[-2000:]
    assert {name: (small_build / name).stat().st_mtime_ns for name in built} == before


def test_a_run_made_before_an_option_existed_is_still_the_same_run(tmp_path):
    """A config.json written before --mixstyle existed and with --teacher as one path (not yet
    a list) is the run the same options make now; another value of the new option is not."""
    from antispoof.core.files import write_json
    from antispoof.core.rundir import RunDir
    from antispoof.training.loop import _record, check_run
    from antispoof.training.options import TrainOptions

    teacher = str(tmp_path / "teacher.onnx")
    options = TrainOptions(teacher=teacher, epochs=2)
    old = _record(str(tmp_path), options)
    del old["options"]["mixstyle"]
    old["options"]["teacher"] = teacher
    write_json(tmp_path / "config.json", old)
    check_run(RunDir(tmp_path), str(tmp_path), options)
    with pytest.raises(AntispoofError, match=r"--mixstyle 0.0 there, 0.5 now"):
        check_run(RunDir(tmp_path), str(tmp_path), TrainOptions(teacher=teacher, epochs=2, mixstyle=0.5))
