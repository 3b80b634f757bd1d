"""How models generalize: recipes trained on NUAA + webcam-multi, three seeds each, float and
int8, beside the peer (Silent-Face MiniFASNetV2 and V1SE, ONNX) on the same crops in one run.

Every recipe is `antispoof build --data NUAA --data WEBCAM-MULTI --input-size 64 --seed N`
plus its flags (the `nuaa-*` recipes: NUAA alone, as the previous shipped model and the
synthetic attacks were): trained on the union of the train splits; epochs (with --select-epoch) and
the threshold chosen on the union of the dev splits. Scored at that dev threshold on:
NUAA test, webcam-multi test (4 held-out source repositories) and every crop of replay-webcam
(evaluation only: nothing is trained, tuned, selected or thresholded on it). Per set: AUC, EER,
APCER per attack type, BPCER, ACER, BPCER at APCER 5 % (on the set's own curve), per-subject
AUC, and how many distinct int8 scores occur. The peer's threshold is its EER point on the same
dev union. Size, and the latency ratio to the reference MobileNetV2 0.35 96×96 in one
interleaved run (LiteRT, one thread). A finished run directory is reused as it is; a recipe equal
to another but for quantization starts from that one's finished float model at the same seed and
redoes only quantization and what follows. Prints a table, writes JSON (rates are fractions).

    python benchmarks/generalization.py                      # every recipe, seeds 0 1 2
    python benchmarks/generalization.py --recipes multi-64 --seeds 0
"""
import copy
import functools
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from common import DATA, PEERS, SHIPPED, WEIGHTS, WEIGHTS_035, argument_parser

import numpy as np

from antispoof.core import metrics
from antispoof.core.files import read_json, write_json
from antispoof.core.rundir import RunDir
from antispoof.bench.latency import BenchOptions, compare
from antispoof.pipeline.build import BuildOptions, build
from antispoof.pipeline.recipes import MULTI, RECIPES, float_twins, resolve
from antispoof.data.datasets import ALL, FaceDataset, MultiDataset, load_images, read_manifest
from antispoof.evaluation.evaluate import Scored
from antispoof.core.model_contract import contract_threshold
from antispoof.runtime.interpreter import open_classifier
from antispoof.training.options import TrainOptions
from antispoof.training.teacher import CRITERIA, choose_weights
from latency import reference_model

TRAINING = [{"data": str(DATA / name), "protocol": None, "weight": None} for name in MULTI]

SETS = {  # name -> (folder, split)
    "nuaa-test": (DATA / "nuaa", "test"),
    "webcam-multi-test": (DATA / "webcam-multi", "test"),
    "replay-webcam": (DATA / "replay-webcam", ALL),
}


def bpcer_at_apcer(labels, scores, target=0.05):
    """BPCER where the set's own APCER is ``target`` (a threshold-free point of its curve)."""
    threshold = metrics.threshold_at_apcer(labels, scores, target)
    return metrics.bpcer(labels, scores, threshold)


@functools.cache
def source_repos(root):
    """crop path -> the source repository ``manifest.csv`` names for it (the ``source_repo``
    column), or {} without one: a set's sources for the per-source figures (replay-webcam's six
    ``rien_*`` folders of three crops each are one repository)."""
    return {str(Path(root) / row["file"]): row["source_repo"] for row in read_manifest(root)
            if row.get("source_repo")}


def figures(scored, threshold, repos=None):
    """The reported metrics of one scored set at one threshold; per source by ``repos`` (crop
    path -> source) where given, else by subject."""
    labels, scores = scored.labels, scored.scores
    sources = ([repos[s.path] for s in scored.images.samples] if repos
               else scored.subjects)
    summary = metrics.summary(labels, scores, threshold, scored.attacks)
    keep = ("n_real", "n_spoof", "auc", "eer", "threshold", "apcer_per_attack", "bpcer", "acer")
    return {**{k: summary[k] for k in keep},
            "bpcer_at_apcer_5": bpcer_at_apcer(labels, scores),
            "subject_auc": {k: v["auc"] for k, v in
                            metrics.per_group(labels, scores, scored.subjects, threshold).items()},
            "per_source": metrics.source_auc(labels, scores, sources),  # pooled, mean, worst
            "distinct_scores": int(len(np.unique(scores)))}


class Sets:
    """The evaluation sets and the dev union, decoded once per input size."""

    def __init__(self):
        self.datasets = {name: FaceDataset(folder) for name, (folder, _) in SETS.items()}
        self.dev = MultiDataset(TRAINING)
        self.cache = {}

    def scored(self, classifier):
        """{set or "dev": Scored} for one classifier."""
        out = {}
        for name, dataset in [("dev", self.dev), *self.datasets.items()]:
            split = "dev" if name == "dev" else SETS[name][1]
            key = (name, classifier.input_size)
            if key not in self.cache:
                self.cache[key] = load_images(dataset.split(split), classifier.input_size)
            out[name] = Scored(classifier, dataset, split, images=self.cache[key])
        return out


def evaluate_model(sets, classifier, threshold=None):
    """Dev AUC and the sets' figures; without ``threshold``, the dev EER point."""
    return evaluate_scored(sets.scored(classifier), threshold)


def evaluate_scored(scored, threshold=None):
    """``evaluate_model`` of scores already made ({set or "dev": Scored})."""
    scored = dict(scored)
    dev = scored.pop("dev")
    if threshold is None:
        _, threshold = metrics.eer(dev.labels, dev.scores)
    return {"dev_auc": metrics.roc_auc(dev.labels, dev.scores),
            "dev_per_source": metrics.source_auc(dev.labels, dev.scores, dev.subjects),
            "threshold": float(threshold),
            **{name: figures(s, threshold, source_repos(SETS[name][0])) for name, s in scored.items()}}


# the teachers of the ensemble recipes (pipeline.recipes.TEACHERS), as rows of PEERS
TEACHER_PEERS = ("peer MiniFASNetV2", "peer suri", "peer HyperFAS")


def ensemble_rows(peers, names):
    """The teachers' weighted mean as a peer, its weights chosen on dev by each criterion as
    training chooses them (``training.teacher.Ensemble``), scored at its dev EER point."""
    dev = [peers[name]["dev"] for name in names]
    each = np.stack([d.scores for d in dev], axis=1)
    rows = []
    for criterion in CRITERIA:
        weights = choose_weights(each, dev[0].labels, dev[0].subjects, criterion)
        mixed = {}
        for key in peers[names[0]]:
            mixed[key] = copy.copy(peers[names[0]][key])
            mixed[key].scores = np.stack([peers[n][key].scores for n in names], axis=1) @ weights
        rows.append({"recipe": f"teachers' mean ({criterion} on dev)", "seed": None, "model": "float",
                     "size_bytes": None, "weights": dict(zip(names, weights.tolist())),
                     **evaluate_scored(mixed)})
    return rows


def recipe_build(recipe, seed):
    """(run stem, TrainOptions, BuildOptions, datasets) of ``recipe`` at ``seed``: what
    ``build_run`` builds."""
    stem, fields, plan, data = resolve(recipe, DATA, WEIGHTS)
    return (stem, TrainOptions(**{"input_size": 64, **fields, "seed": seed}),
            replace(BuildOptions(), **plan), data)


def run_path(recipe, seed, work):
    """Where ``build_run`` builds ``recipe`` at ``seed`` under ``work``."""
    return work / f"{RECIPES[recipe][0]}-seed{seed}"


def build_run(recipe, seed, work, weights):
    """The recipe's run directory for ``seed``, built (or resumed) unless finished; a recipe that
    only quantizes otherwise than another starts from that one's float model (``_twin_float``)."""
    _, options, plan, data = recipe_build(recipe, seed)
    run_dir = run_path(recipe, seed, work)
    if (run_dir / "metrics.json").exists():  # a finished build
        return run_dir
    if not run_dir.exists():
        _twin_float(recipe, seed, work, run_dir)
    build(data if len(data) > 1 else data[0]["data"], run_dir, str(weights), options,
          build_options=plan)
    return run_dir


def _twin_float(recipe, seed, work, run_dir):
    """When a recipe that trains the same float model as ``recipe`` (``float_twins``) has
    finished training at ``seed``, copy that run's contracted backbone and training's files into
    ``run_dir``: the build then redoes quantization and what follows, not the same training.
    The training record's backbone path (``--init``) is made ``run_dir``'s."""
    for other in float_twins(recipe):
        twin = RunDir(run_path(other, seed, work))
        if twin.history.exists() and read_json(twin.history)["complete"]:
            break
    else:
        return
    run = RunDir(run_dir)
    run_dir.mkdir(parents=True)
    for name in (run.BACKBONE, Path(run.BACKBONE).with_suffix(".json").name, run.CONFIG,
                 run.HISTORY, run.MODEL, run.TEACHERS):
        if (twin.path / name).exists():
            shutil.copyfile(twin.path / name, run_dir / name)
    config = read_json(run.config)
    config["options"]["init"] = str(run.backbone)
    write_json(run.config, config)
    print(f"{run_dir.name}: trains as {twin.path.name} (only quantization differs): its float "
          "model reused", flush=True)


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES,
                        metavar="RECIPE", help="names of antispoof.pipeline.recipes.RECIPES "
                        "(default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--weights", type=Path, default=WEIGHTS_035)
    parser.add_argument("--work", type=Path, default=Path("runs"))
    parser.add_argument("--rounds", type=int, default=5, help="Latency: interleaved rounds.")
    parser.add_argument("--existing", action="store_true",
                        help="Score only the runs already built (skip the missing seeds).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generalization.json"))
    parser.add_argument("--markdown", action="store_true",
                        help="Only print --out's rows as the README's Markdown table (int8 and peers).")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(json.loads(args.out.read_text())["rows"]))
        return

    sets, rows, peers = Sets(), [], {}
    for name, path in PEERS.items():
        peer = open_classifier(path)
        peers[name] = sets.scored(peer)
        rows.append({"recipe": name, "seed": None, "model": "float", "size_bytes": path.stat().st_size,
                     "runtime": peer.runtime, **evaluate_scored(peers[name])})
    rows += ensemble_rows(peers, TEACHER_PEERS)
    shipped = SHIPPED
    rows.append({"recipe": "shipped", "seed": None, "model": "int8", "size_bytes": shipped.stat().st_size,
                 **evaluate_model(sets, open_classifier(shipped), contract_threshold(shipped)[0])})
    latency_models = {"shipped": shipped}
    for recipe in args.recipes:
        for seed in args.seeds:
            if args.existing and not (run_path(recipe, seed, args.work) / "metrics.json").exists():
                continue
            run_dir = build_run(recipe, seed, args.work, args.weights)
            for kind, file in (("float", "model.keras"), ("int8", "antispoof_int8.tflite")):
                threshold, _ = contract_threshold(run_dir / file)
                rows.append({"recipe": recipe, "seed": seed, "model": kind, "run": str(run_dir),
                             "size_bytes": (run_dir / file).stat().st_size,
                             **evaluate_model(sets, open_classifier(run_dir / file), threshold)})
            latency_models.setdefault(recipe, run_dir / "antispoof_int8.tflite")
    with tempfile.TemporaryDirectory() as scratch:
        reference = reference_model(Path(scratch) / "reference.tflite")
        timing = compare([reference, *latency_models.values()], BenchOptions(runs=200, rounds=args.rounds))
    ratios = dict(zip(latency_models, timing["p50_ratios"][1:]))
    for row in rows:
        row["latency_ratio"] = ratios.get(row["recipe"]) if row["model"] == "int8" else None
    result = {"sets": {k: f"{v[0].name} {v[1]}" for k, v in SETS.items()},
              "training": TRAINING, "reference_p50_ms": timing["results"][0]["inference"]["p50"] / 1000,
              "cpu": timing["results"][0]["cpu"], "rows": rows, "chosen_on_dev": chosen_on_dev(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(rows)
    for criterion, choice in result["chosen_on_dev"].items():
        print(f"chosen on dev by the worst seed's {criterion} AUC: {choice['recipe']} ({choice['value']:.3f})")


DEV_FIGURES = {"pooled": "pooled", "mean-source": "mean_per_source", "worst-source": "worst_per_source"}


def chosen_on_dev(rows):
    """{criterion: the recipe whose worst seed has the best int8 dev figure, and that figure}
    over the recipes built on every seed scored: a recipe is as good as its worst seed."""
    seeds = {r["seed"] for r in rows if r["seed"] is not None}
    worst = {}
    for criterion, key in DEV_FIGURES.items():
        by_recipe = {}
        for r in rows:
            if r["model"] == "int8" and r["seed"] is not None:
                by_recipe.setdefault(r["recipe"], []).append(r["dev_per_source"][key])
        complete = {name: min(values) for name, values in by_recipe.items() if len(values) == len(seeds)}
        if complete:
            best = max(complete, key=complete.get)
            worst[criterion] = {"recipe": best, "value": complete[best]}
    return worst


def _sources(figure):
    """"pooled / mean / worst source (which)" of a set's per-source AUC."""
    p = figure["per_source"]
    return (f"{p['pooled']:.3f} / {p['mean_per_source']:.3f} / {p['worst_per_source']:.3f} "
            f"({p['worst_source']})")


def markdown_table(rows):
    """The README's table: every peer and teachers' mean row and every int8 row; dev AUC pooled /
    mean / worst source (what recipes are chosen on), then each test set's."""
    lines = ["| model | seed | dev AUC pooled / mean / worst source | webcam-multi v2 test AUC pooled / "
             "mean / worst source (which) | replay-webcam AUC pooled / mean / worst source (which) | "
             "NUAA test AUC / ACER | bytes | latency × reference |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["model"] != "int8" and r["seed"] is not None:
            continue  # the float rows of the recipes: in the JSON
        name = r["recipe"] + (" " + "/".join(f"{w:.1f}" for w in r["weights"].values())
                              if r.get("weights") else "")
        dev, nuaa = r["dev_per_source"], r["nuaa-test"]
        ratio = f"{r['latency_ratio']:.2f}" if r.get("latency_ratio") else ""
        lines.append(
            f"| {name} | {'' if r['seed'] is None else r['seed']} | {dev['pooled']:.3f} / "
            f"{dev['mean_per_source']:.3f} / {dev['worst_per_source']:.3f} | "
            f"{_sources(r['webcam-multi-test'])} | {_sources(r['replay-webcam'])} | "
            f"{nuaa['auc']:.4f} / {100 * nuaa['acer']:.2f} % | {r['size_bytes'] or ''} | {ratio} |")
    return "\n".join(lines)


def print_table(rows):
    print(f"{'recipe':<22} {'seed':>4} {'model':<5} {'dev AUC':>7} {'NUAA AUC':>8} {'ACER':>6} "
          f"{'webcam AUC':>10} {'mean/worst src':>14} {'replay AUC':>10} {'replay APCER':>12} "
          f"{'BPCER':>6} {'distinct':>8} {'bytes':>9} {'latency':>7}")
    for r in rows:
        nuaa, web, replay = r["nuaa-test"], r["webcam-multi-test"], r["replay-webcam"]
        ratio = f"{r['latency_ratio']:.2f}×" if r.get("latency_ratio") else ""
        print(f"{r['recipe']:<22} {'' if r['seed'] is None else r['seed']:>4} {r['model']:<5} "
              f"{r['dev_auc']:7.3f} {nuaa['auc']:8.3f} {100 * nuaa['acer']:5.2f}% {web['auc']:10.3f} "
              f"{web['per_source']['mean_per_source']:7.3f}/{web['per_source']['worst_per_source']:.3f} "
              f"{replay['auc']:10.3f} {100 * max(replay['apcer_per_attack'].values()):11.1f}% "
              f"{100 * replay['bpcer']:5.1f}% {replay['distinct_scores']:8d} {r['size_bytes'] or 0:9,d} {ratio:>7}")


if __name__ == "__main__":
    main()
