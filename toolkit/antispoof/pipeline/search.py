"""Which contraction fits a size budget best: a Ray Tune search over widths, depths and
per-channel vs per-tensor quantization.

Each trial contracts the pretrained backbone, fine-tunes briefly, converts to int8 (PTQ),
checks the file against the budget and scores ACER on the dev split (threshold at the dev
EER; test is never read). Candidates are drawn from the width × depth × quantization grid,
seeded, among those the size estimator does not rule out; a trial whose exact int8 size is
over budget stops before training. The best trial becomes ``build-config.json`` for
``antispoof build --config``. The search resumes (Ray Tune's own restore) after an interruption.
"""
import logging
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from antispoof.compress.budget import candidate_model, estimated_fits, int8_size
from antispoof.compress.config import CONTRACTION
from antispoof.compress.contraction import contract
from antispoof.compress.quantization import quantize_ptq
from antispoof.core.cluster import connect, require_ray
from antispoof.core.errors import AntispoofError
from antispoof.core.files import claim_folder, write_json
from antispoof.core.rundir import RunDir
from antispoof.data.datasets import data_sources
from antispoof.data.loading import open_dataset
from antispoof.evaluation.evaluate import assess
from antispoof.models.mobilenet_v2 import source_alpha
from antispoof.models.specs import DEFAULT_HEAD, DEFAULT_INPUT_SIZE
from antispoof.models.widths import Widths
from antispoof.runtime.interpreter import TFLiteClassifier
from antispoof.training.loop import train
from antispoof.training.options import TrainOptions

log = logging.getLogger("antispoof")

SEARCH_FILE = "search.json"
CONFIG_FILE = "build-config.json"


@dataclass
class SearchOptions:
    budget_kb: float = CONTRACTION.budget_kb
    trials: int = 8
    widths: tuple = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0)
    depths: tuple = (5, 8, 9, 12)
    per_tensor: bool = True  # also try per-tensor quantization
    head: str = DEFAULT_HEAD
    input_size: int = DEFAULT_INPUT_SIZE
    epochs: int = 1  # fine-tuning epochs per trial
    batch_size: int = 64
    limit: int | None = None  # at most this many images per split in a trial
    seed: int = 0

    @property
    def budget_bytes(self):
        return int(self.budget_kb * 1024)


def candidates(options, max_alpha):
    """The grid's configurations that the estimator does not rule out, largest first."""
    fits = estimated_fits(options.budget_bytes, options.head, options.input_size, options.depths,
                          tuple(w for w in options.widths if w <= max_alpha),
                          (True, False) if options.per_tensor else (True,))
    return [{"width": alpha, "blocks": depth, "per_channel": per_channel, "parameters": params}
            for params, depth, alpha, per_channel, _, _ in fits]


def search(data_dir, out_dir, weights, options=None, protocol=None, ray_address="local"):
    """Run the search under ``out_dir``; returns the build config written there."""

    require_ray(ray_address)
    # Tune's legacy reporter, which verbose=0 silences (the new one prints its tables anyway)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from ray import tune

    options = options or SearchOptions()
    out = Path(out_dir).resolve()
    if weights in (None, "imagenet") or not Path(weights).is_file():
        raise AntispoofError(f"{weights}: search contracts a pretrained backbone: give --weights "
                             "a MobileNetV2 no-top .h5 file (every Ray node reads the same path)")
    pool = candidates(options, source_alpha(weights))
    if not pool:
        raise AntispoofError(f"no width × depth on the grid fits {options.budget_kb:g} KB")
    picked = sorted(random.Random(options.seed).sample(pool, min(options.trials, len(pool))),
                    key=pool.index)
    log.info("search: %d of %d candidates: %s", len(picked), len(pool),
             ", ".join(_name(c) for c in picked))
    if data_sources(data_dir) is not None:
        raise AntispoofError("search takes one dataset (--data once); several: run build with "
                             "the configuration search chose")
    setup = {"data": str(Path(data_dir).resolve()), "weights": str(Path(weights).resolve()),
             "protocol": str(Path(protocol).resolve()) if protocol else None,
             "options": asdict(options), "trials_dir": str(out / "trials")}
    claim_folder(out, out / "search-options.json", setup, "a search")
    connect(ray_address)
    trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup), {"cpu": 1})
    if tune.Tuner.can_restore(str(out / "tune")):
        log.info("search: resuming %s", out / "tune")
        tuner = tune.Tuner.restore(str(out / "tune"), trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable, param_space={"candidate": tune.grid_search(picked)},
            tune_config=tune.TuneConfig(metric="dev_acer", mode="min"),
            run_config=tune.RunConfig(storage_path=str(out), name="tune", verbose=0))
    grid = tuner.fit()
    trials = []
    for result in grid:
        if result.error or not result.metrics:
            raise AntispoofError(f"search: trial {result.config} failed: {result.error}")
        trials.append({**result.config["candidate"], **{k: result.metrics[k] for k in _REPORTED}})
    best = _best(trials, options.budget_bytes)
    config = {
        "budget_kb": options.budget_kb,
        "contraction": {"width": best["width"], "blocks": best["blocks"]},
        "per_channel": best["per_channel"],
        # tfmot's QAT learns per-channel weight ranges: a per-tensor winner is built with PTQ
        "mode": "qat" if best["per_channel"] else "ptq",
        "train": {"input_size": options.input_size, "batch_size": options.batch_size,
                  "head": options.head, "seed": options.seed},
        "search": {k: best[k] for k in ("dev_acer", "dev_auc", "size_bytes", "parameters")},
    }
    write_json(out / SEARCH_FILE, {"options": asdict(options), "candidates": len(pool),
                                   "trials": trials, "best": best})
    write_json(out / CONFIG_FILE, config)
    return config


_REPORTED = ("fits", "size_bytes", "dev_acer", "dev_auc", "seconds")


def _name(candidate):
    return (f"w{candidate['width']:g}-b{candidate['blocks']}-"
            f"{'channel' if candidate['per_channel'] else 'tensor'}")


def _best(trials, budget_bytes):
    fitting = [t for t in trials if t["fits"]]
    if not fitting:
        raise AntispoofError(f"search: no trial's int8 file fits {budget_bytes} bytes")
    return min(fitting, key=lambda t: (t["dev_acer"], -t["dev_auc"], t["size_bytes"]))


def run_trial(config, setup):
    """One Ray Tune trial: contract, fine-tune, PTQ, size check, dev ACER; reports its metrics."""
    import time

    from ray import tune


    started = time.time()
    candidate, options = config["candidate"], SearchOptions(**setup["options"])
    widths = Widths.uniform(candidate["width"], candidate["blocks"])
    size = int8_size(candidate_model(widths, options.head, options.input_size),
                     candidate["per_channel"])
    if size > options.budget_bytes:
        tune.report({"fits": False, "size_bytes": size, "dev_acer": 1.0, "dev_auc": 0.0,
                     "seconds": time.time() - started})
        return
    trial = Path(setup["trials_dir"]) / _name(candidate)
    data, protocol = setup["data"], setup["protocol"]
    run = RunDir(trial / "run")
    contract(setup["weights"], run.backbone, width=candidate["width"],
             blocks=candidate["blocks"], input_size=options.input_size, calibration_dir=data,
             head=options.head, protocol=protocol)
    train(data, run.path, setup["weights"],
          TrainOptions(init=str(run.backbone), head=options.head,
                       input_size=options.input_size, epochs=options.epochs,
                       batch_size=options.batch_size, limit=options.limit, seed=options.seed),
          protocol)
    model = quantize_ptq(run.path, data, trial / "model.tflite", protocol, seed=options.seed,
                         per_channel=candidate["per_channel"])
    dev, _ = assess(TFLiteClassifier(model), open_dataset(data, protocol), split="dev", resamples=0)
    size = model.stat().st_size
    tune.report({"fits": size <= options.budget_bytes, "size_bytes": size, "dev_acer": dev["acer"],
                 "dev_auc": dev["auc"], "seconds": time.time() - started})
