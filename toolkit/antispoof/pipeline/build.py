"""contract → train → quantize → evaluate → report, resumable, everything under one run folder."""
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from antispoof.compress.config import ContractionConfig, QuantizationConfig
from antispoof.compress.contraction import contract
from antispoof.compress.quantization import quantize
from antispoof.core.model_contract import (CROP_SCALE, INPUT_MEANING, ModelContract, OUTPUT_MEANING,
                                     Quantization)
from antispoof.core.errors import AntispoofError
from antispoof.core.files import check_same_record, read_json, write_json
from antispoof.core.rundir import RunDir
from antispoof.data.datasets import crop_scale, describe_data
from antispoof.data.loading import open_dataset
from antispoof.evaluation.evaluate import assess
from antispoof.evaluation.report import report
from antispoof.models.builders import predict
from antispoof.models.specs import backbone_spec
from antispoof.models.weights import resolve_weights
from antispoof.runtime.info import model_info
from antispoof.runtime.interpreter import TFLiteClassifier, open_classifier
from antispoof.training.loop import check_run, train
from antispoof.training.options import TrainOptions

log = logging.getLogger("antispoof")


@dataclass
class BuildOptions(ContractionConfig, QuantizationConfig):
    """What ``build`` does besides training: contraction and quantization (one flat record)."""

    def __post_init__(self):
        self.check_contraction()
        self.check_quantization()


def build(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None,
          build_options=None):
    """Build a run directory; a rerun after an interruption skips the finished stages."""
    options = replace(options or TrainOptions())  # a copy: the contracted backbone goes in it
    plan = build_options or BuildOptions()
    out = RunDir(out_dir)
    start = time.time()
    stages, lap = {}, [start]  # seconds of each stage of this invocation

    def done(stage):
        stages[stage], lap[0] = time.time() - lap[0], time.time()
    contracting = plan.budget_kb is not None and options.init is None
    resolve = options.init is None  # "imagenet" becomes a file (the full width to contract)
    if contracting:
        options.init = str(out.backbone)  # training starts from the contracted backbone
    check_run(out, data_dir, options)  # a folder built otherwise: one line, before any work
    if plan.qat_distill and not options.teacher:
        raise AntispoofError("--qat-distill distils from the run's teachers: give --teacher")
    if out.metrics.exists():
        # an option added since the folder was built had its default then
        recorded = {**asdict(BuildOptions()), **read_json(out.metrics)["build"]}
        check_same_record(out.path, recorded, asdict(plan), "a build")
    dataset = open_dataset(data_dir, protocol, subject_regex, seed=options.seed)
    dataset.check()  # a folder without both classes in every split fails now, not after contraction
    if resolve:  # then the weights, before any long work
        weights = resolve_weights(weights, options.arch,
                                  1.0 if contracting else backbone_spec(options.backbone).alpha)
    scale = crop_scale(data_dir)  # the crops' own (prepare.json), recorded in model.json
    if contracting:
        backbone = out.backbone
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
    done("contract")  # with opening and checking the data
    log.info("[2/4] train → %s", out.model)
    train(data_dir, out.path, weights, options, protocol, subject_regex)
    done("train")

    int8 = out.int8
    if int8.exists() and int8.stat().st_mtime >= out.model.stat().st_mtime:
        log.info("[3/4] quantize: %s is up to date", int8)
    else:
        log.info("[3/4] quantize (%s) → %s", plan.mode, int8)
        reference = quantize(out.path, data_dir, int8, plan, protocol, options.batch_size,
                             seed=options.seed, limit=options.limit)
        parity = int8_parity(reference, int8, data_dir, protocol, subject_regex, options.limit)
        write_json(out.parity, {"reference": f"{plan.mode} Keras model", **parity})
    done("quantize")

    log.info("[4/4] evaluate float and int8 on the test split (threshold from dev)")
    paths = {"float": out.model, "int8": int8}
    assessed = {name: assess(open_classifier(path), dataset, limit=options.limit)
                for name, path in paths.items()}
    results = {name: {"model": str(path), "data": describe_data(data_dir), **assessed[name][0]}
               for name, path in paths.items()}
    size = int8.stat().st_size
    results["int8"]["size_bytes"] = size
    results["parity"] = read_json(out.parity)
    results["build"] = {**asdict(plan), "budget_bytes": plan.budget_bytes,
                        "parameters": model_info(out.model)["parameters"]}
    done("evaluate")
    results["build_seconds"] = time.time() - start  # this invocation; a resumed run skips stages
    results["stage_seconds"] = stages
    results["train_seconds"] = read_json(out.history)["seconds"]  # across resumes
    write_json(out.metrics, results)
    record = int8_contract(int8, results["int8"], scale)
    record.thresholds = {path.name: results[name]["threshold"] for name, path in paths.items()}
    record.write(out.path)
    for name in ("float", "int8"):
        r = results[name]
        log.info("%-5s test: AUC %.4f  APCER %.2f%%  BPCER %.2f%%  ACER %.2f%%  (threshold %.4f, %s)",
                 name, r["auc"], 100 * r["apcer"], 100 * r["bpcer"], 100 * r["acer"],
                 r["threshold"], r["runtime"])
    log.info("int8 vs %s on test: %.2f%% of decisions agree, max score difference %.4f",
             results["parity"]["reference"], 100 * results["parity"]["decision_agreement"],
             results["parity"]["max_score_difference"])
    log.info("report: %s", report(out.path, data_dir=data_dir, protocol=protocol, assessed=assessed))
    log.info("int8 model: %s (%d bytes); build took %.0f s", int8, size, results["build_seconds"])
    if plan.budget_bytes and size > plan.budget_bytes:
        raise AntispoofError(f"{int8}: {size} bytes, over the budget of {plan.budget_bytes} bytes")
    log.info("next: antispoof export %s --out DIR writes what an app takes (the int8 model, its "
             "MediaPipe variant, labels.txt, model.json and MODEL_CARD.md)", out.path)
    return results


def read_build_config(path):
    """(BuildOptions, TrainOptions fields) from a build config (``antispoof search`` writes one)."""
    try:
        config = read_json(path)
        contraction = config.get("contraction", {})
        default = BuildOptions()
        plan = BuildOptions(budget_kb=config.get("budget_kb", default.budget_kb),
                            mode=config.get("mode", default.mode), width=contraction.get("width"),
                            blocks=contraction.get("blocks", default.blocks),
                            per_channel=config.get("per_channel", default.per_channel))
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
    keras_scores = predict(reference, test.images.pixels).reshape(-1)
    difference = np.abs(quantized - keras_scores)
    return {
        "split": "test",
        "threshold": float(threshold),
        "decision_agreement": float(np.mean((quantized >= threshold) == (keras_scores >= threshold))),
        "max_score_difference": float(difference.max()),
        "mean_score_difference": float(difference.mean()),
    }


def int8_contract(model_file, int8_metrics, scale=CROP_SCALE):
    """How an app must feed the int8 model and read its score (``model.json``)."""
    info = model_info(model_file)
    (model_input,), (model_output,) = info["inputs"], info["outputs"]
    return ModelContract(
        model=Path(model_file).name,
        input_size=model_input["shape"][1],
        input=Quantization(model_input["dtype"], **model_input["quantization"], meaning=INPUT_MEANING),
        output=Quantization(model_output["dtype"], **model_output["quantization"],
                            meaning=OUTPUT_MEANING),
        threshold=int8_metrics["threshold"],
        threshold_source=f"{int8_metrics['threshold_source']} of {int8_metrics['protocol']}",
        crop_scale=scale)
