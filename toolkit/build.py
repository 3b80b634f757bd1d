"""contract → train → quantize → evaluate → report, resumable, everything under one directory."""
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .contract import contract
from .data import describe_data, open_dataset
from .errors import AntispoofError
from .evaluate import assess
from .files import read_json, write_json
from .info import model_info
from .quantize import quantize_ptq, quantize_qat
from .report import report
from .runtime import TFLiteClassifier, open_classifier
from .train import HISTORY_FILE, MODEL_FILE, TrainOptions, load_trained, train

log = logging.getLogger("antispoof")

BACKBONE_FILE = "backbone.keras"
INT8_FILE = "antispoof_int8.tflite"
METRICS_FILE = "metrics.json"
PARITY_FILE = "parity.json"
CONTRACT_FILE = "model.json"


@dataclass
class BuildOptions:
    budget_kb: float | None = 100  # contract the backbone to fit; None: the named backbone as is
    criterion: str = "l1"
    mode: str = "qat"  # or "ptq"
    qat_epochs: int = 2
    qat_learning_rate: float = 1e-5
    width: float | None = None  # contract to this width and depth instead of searching the
    blocks: int = 16  # budget's grid (what ``antispoof search`` chose)
    per_channel: bool = True  # False: per-tensor weights (PTQ only)

    def __post_init__(self):
        if not self.per_channel and self.mode == "qat":
            raise AntispoofError("per-tensor quantization needs --mode ptq (tfmot's QAT learns "
                                 "per-channel weight ranges)")

    @property
    def budget_bytes(self):
        return int(self.budget_kb * 1024) if self.budget_kb is not None else None


def build(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None,
          build_options=None):
    """Build a run directory; a rerun after an interruption skips the finished stages."""
    options = replace(options or TrainOptions())  # a copy: the contracted backbone goes in it
    plan = build_options or BuildOptions()
    out = Path(out_dir)
    start = time.time()
    dataset = open_dataset(data_dir, protocol, subject_regex, seed=options.seed)
    dataset.check()  # a folder without both classes in every split fails now, not after contraction
    if plan.budget_kb is not None and options.init is None:
        backbone = out / BACKBONE_FILE
        if backbone.exists():
            log.info("[1/4] contract: %s exists", backbone)
        elif weights is None:
            raise AntispoofError("contraction keeps pretrained weights: give --weights, or "
                                 "--budget-kb 0 to train --backbone from random initialisation")
        else:
            log.info("[1/4] contract %s to fit %g KB → %s", weights, plan.budget_kb, backbone)
            fit = ({"width": plan.width, "blocks": plan.blocks} if plan.width
                   else {"budget_kb": plan.budget_kb})
            contract(weights, backbone, criterion=plan.criterion, calibration_dir=data_dir,
                     head=options.head, protocol=protocol, input_size=options.input_size, **fit)
        options.init = str(backbone)
    log.info("[2/4] train → %s", out / MODEL_FILE)
    train(data_dir, out, weights, options, protocol, subject_regex)

    int8 = out / INT8_FILE
    if int8.exists() and int8.stat().st_mtime >= (out / MODEL_FILE).stat().st_mtime:
        log.info("[3/4] quantize: %s is up to date", int8)
    else:
        log.info("[3/4] quantize (%s) → %s", plan.mode, int8)
        if plan.mode == "qat":
            reference = quantize_qat(out, data_dir, int8, protocol, plan.qat_epochs,
                                     plan.qat_learning_rate, options.batch_size, seed=options.seed,
                                     limit=options.limit)
        else:
            quantize_ptq(out, data_dir, int8, protocol, seed=options.seed,
                         per_channel=plan.per_channel)
            reference = load_trained(out)
        parity = int8_parity(reference, int8, data_dir, protocol, subject_regex, options.limit)
        write_json(out / PARITY_FILE, {"reference": f"{plan.mode} Keras model", **parity})

    log.info("[4/4] evaluate float and int8 on the test split (threshold from dev)")
    paths = {"float": out / MODEL_FILE, "int8": int8}
    assessed = {name: assess(open_classifier(path), dataset, limit=options.limit)
                for name, path in paths.items()}
    results = {name: {"model": str(path), "data": describe_data(data_dir), **assessed[name][0]}
               for name, path in paths.items()}
    size = int8.stat().st_size
    results["int8"]["size_bytes"] = size
    results["parity"] = read_json(out / PARITY_FILE)
    results["build"] = {**asdict(plan), "budget_bytes": plan.budget_bytes,
                        "parameters": model_info(out / MODEL_FILE)["parameters"]}
    results["build_seconds"] = time.time() - start  # this invocation; a resumed run skips stages
    results["train_seconds"] = read_json(out / HISTORY_FILE)["seconds"]  # across resumes
    write_json(out / METRICS_FILE, results)
    write_json(out / CONTRACT_FILE, {**model_contract(int8, results["int8"]),
                                     "thresholds": {path.name: results[name]["threshold"]
                                                    for name, path in paths.items()}})
    for name in ("float", "int8"):
        r = results[name]
        log.info("%-5s test: AUC %.4f  APCER %.2f%%  BPCER %.2f%%  ACER %.2f%%  (threshold %.4f, %s)",
                 name, r["auc"], 100 * r["apcer"], 100 * r["bpcer"], 100 * r["acer"],
                 r["threshold"], r["runtime"])
    log.info("int8 vs %s on test: %.2f%% of decisions agree, max score difference %.4f",
             results["parity"]["reference"], 100 * results["parity"]["decision_agreement"],
             results["parity"]["max_score_difference"])
    log.info("report: %s", report(out, data_dir=data_dir, protocol=protocol, assessed=assessed))
    log.info("int8 model: %s (%d bytes); build took %.0f s", int8, size, results["build_seconds"])
    if plan.budget_bytes and size > plan.budget_bytes:
        raise AntispoofError(f"{int8}: {size} bytes, over the budget of {plan.budget_bytes} bytes")
    return results


def read_build_config(path):
    """(BuildOptions, TrainOptions fields) from a build config (``antispoof search`` writes one)."""
    try:
        config = read_json(path)
        contraction = config.get("contraction", {})
        plan = BuildOptions(budget_kb=config.get("budget_kb", 100), mode=config.get("mode", "qat"),
                            width=contraction.get("width"), blocks=contraction.get("blocks", 16),
                            per_channel=config.get("per_channel", True))
        return plan, dict(config.get("train", {}))
    except FileNotFoundError:
        raise AntispoofError(f"{path}: build config not found") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise AntispoofError(f"{path}: not a valid build config ({exc})") from None


def int8_parity(reference, int8_path, data_dir, protocol=None, subject_regex=None, limit=None):
    """How closely the int8 file follows the Keras model it came from (QAT or float), on the
    test split: decisions at the int8 model's dev threshold, and score differences."""
    int8_metrics, test = assess(TFLiteClassifier(int8_path),
                                open_dataset(data_dir, protocol, subject_regex), resamples=0,
                                limit=limit)
    threshold, quantized = int8_metrics["threshold"], test.scores
    keras_scores = reference.predict(test.images.pixels.astype(np.float32), batch_size=256,
                                     verbose=0).reshape(-1)
    difference = np.abs(quantized - keras_scores)
    return {
        "split": "test",
        "threshold": float(threshold),
        "decision_agreement": float(np.mean((quantized >= threshold) == (keras_scores >= threshold))),
        "max_score_difference": float(difference.max()),
        "mean_score_difference": float(difference.mean()),
    }


def model_contract(model_file, int8_metrics):
    """How an app must feed the model and read its score (``model.json``)."""
    info = model_info(model_file)
    (model_input,), (model_output,) = info["inputs"], info["outputs"]
    return {
        "model": Path(model_file).name,
        "input_size": model_input["shape"][1],
        "color_order": "RGB",
        "input": {"dtype": model_input["dtype"], **model_input["quantization"],
                  "meaning": "face crop resized to input_size; q = pixel / scale + zero_point"},
        "output": {"dtype": model_output["dtype"], **model_output["quantization"],
                   "meaning": "P(spoof) = (q - zero_point) * scale"},
        "threshold": int8_metrics["threshold"],
        "threshold_source": f"{int8_metrics['threshold_source']} of {int8_metrics['protocol']}",
        "labels": ["real", "spoof"],
    }
