"""train → quantize → evaluate in one resumable run, everything under one run directory."""
import logging
import time
from pathlib import Path

from .evaluate import evaluate
from .files import read_json, write_json
from .info import model_info
from .quantize import quantize_ptq
from .train import HISTORY_FILE, MODEL_FILE, train

log = logging.getLogger("antispoof")

INT8_FILE = "antispoof_int8.tflite"
METRICS_FILE = "metrics.json"
CONTRACT_FILE = "model.json"


def build(data_dir, out_dir, weights="imagenet", options=None, protocol=None, subject_regex=None):
    """Build a run directory; a rerun after an interruption skips the finished stages."""
    out = Path(out_dir)
    start = time.time()
    log.info("[1/3] train → %s", out / MODEL_FILE)
    train(data_dir, out, weights, options, protocol, subject_regex)

    int8 = out / INT8_FILE
    if int8.exists() and int8.stat().st_mtime >= (out / MODEL_FILE).stat().st_mtime:
        log.info("[2/3] quantize: %s is up to date", int8)
    else:
        log.info("[2/3] quantize → %s", int8)
        quantize_ptq(out, data_dir, int8, protocol)

    log.info("[3/3] evaluate float and int8 on the test split (threshold from dev)")
    results = {name: evaluate(path, data_dir, "test", protocol, subject_regex=subject_regex)
               for name, path in (("float", out / MODEL_FILE), ("int8", int8))}
    results["int8"]["size_bytes"] = int8.stat().st_size
    results["build_seconds"] = time.time() - start  # this invocation; a resumed run skips stages
    results["train_seconds"] = read_json(out / HISTORY_FILE)["seconds"]  # across resumes
    write_json(out / METRICS_FILE, results)
    write_json(out / CONTRACT_FILE, model_contract(int8, results["int8"]))
    for name in ("float", "int8"):
        r = results[name]
        log.info("%-5s test: AUC %.4f  APCER %.2f%%  BPCER %.2f%%  ACER %.2f%%  (threshold %.4f, %s)",
                 name, r["auc"], 100 * r["apcer"], 100 * r["bpcer"], 100 * r["acer"],
                 r["threshold"], r["runtime"])
    log.info("int8 model: %s (%d bytes); build took %.0f s", int8, int8.stat().st_size,
             results["build_seconds"])
    return results


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
