"""How well the dev split ranks models on sources it never saw: over every int8 model that
``generalization.py`` scored (one or more of its JSON files, a recipe-and-seed counted once),
Spearman's rank correlation between each dev criterion recipes are chosen on (pooled, mean and
worst per-source AUC) and each held-out figure (webcam-multi v2 test pooled and mean per-source
AUC, replay-webcam AUC); and, for the recipes scored on three seeds, how far the seeds of one
recipe spread against how far the recipes' means do, and how often the seed dev puts first is
first (or last) held out (chance: one in three). Those read results only. With ``--candidates``
(runs built with ``--restarts``): each candidate's float model scored on the same sets, and the
same rank correlation between the dev figure that chose among them and the held-out figures.
Prints a table, writes JSON.

    python benchmarks/selection.py benchmarks/results/generalization-v2*.json
    python benchmarks/selection.py benchmarks/results/generalization-v2*.json \
      --candidates runs/multi-72-teachers-r4-seed0 runs/multi-72-teachers-r4-seed1 ...
"""
import json
from pathlib import Path

from common import RESULTS, argument_parser

import numpy as np
from scipy.stats import spearmanr

from antispoof.core.files import read_json
from antispoof.runtime.interpreter import open_classifier
from generalization import Sets, evaluate_scored

DEV = {"pooled": "pooled", "mean-source": "mean_per_source", "worst-source": "worst_per_source"}
HELD_OUT = {  # figure -> how a row gives it
    "webcam-multi test pooled": lambda r: r["webcam-multi-test"]["per_source"]["pooled"],
    "webcam-multi test mean per source": lambda r: r["webcam-multi-test"]["per_source"]["mean_per_source"],
    "replay-webcam pooled": lambda r: r["replay-webcam"]["per_source"]["pooled"],
}


def models(files):
    """The int8 rows of the recipes' runs in ``files``, one per recipe and seed (the first file
    that scored it)."""
    rows = {}
    for file in files:
        for r in json.loads(Path(file).read_text())["rows"]:
            if r["model"] == "int8" and r["seed"] is not None:
                rows.setdefault((r["recipe"], r["seed"]), r)
    return list(rows.values())


def agreement(rows):
    """{dev criterion: {held-out figure: Spearman's rho}} over ``rows``."""
    return {criterion: {figure: float(spearmanr([r["dev_per_source"][key] for r in rows],
                                                [held(r) for r in rows]).statistic)
                        for figure, held in HELD_OUT.items()}
            for criterion, key in DEV.items()}


def seeds_of(rows, seeds=3):
    """{recipe: its rows} of the recipes scored on ``seeds`` seeds."""
    by_recipe = {}
    for r in rows:
        by_recipe.setdefault(r["recipe"], []).append(r)
    return {recipe: group for recipe, group in by_recipe.items() if len(group) == seeds}


def within_recipe(rows, seeds=3):
    """{dev criterion: {held-out figure: the share of recipes whose seed of the best dev figure
    is the best held out, and the share where it is the worst}}."""
    groups = list(seeds_of(rows, seeds).values())
    shares = {}
    for criterion, key in DEV.items():
        shares[criterion] = {}
        for figure, held in HELD_OUT.items():
            picks = [(held(max(g, key=lambda r: r["dev_per_source"][key])), [held(r) for r in g]) for g in groups]
            shares[criterion][figure] = {"best": sum(p == max(h) for p, h in picks) / len(picks),
                                         "worst": sum(p == min(h) for p, h in picks) / len(picks)}
    return shares


def spread(rows, seeds=3):
    """{held-out figure: the mean standard deviation between the seeds of one recipe, and the
    standard deviation of the recipes' means} over the recipes with ``seeds`` seeds."""
    complete = list(seeds_of(rows, seeds).values())
    return {"recipes": len(complete),
            **{figure: {"between_seeds": float(np.mean([np.std([held(r) for r in g]) for g in complete])),
                        "between_recipes": float(np.std([np.mean([held(r) for r in g]) for g in complete]))}
               for figure, held in HELD_OUT.items()}}


def candidates(runs):
    """Per candidate of each run built with --restarts: the dev figure it was chosen by (its kept
    epoch's, from its history), and its float model's held-out figures; which one the run kept."""
    sets, rows = Sets(), []
    for run in runs:
        history = read_json(Path(run) / "history.json")
        key = history["selected_by"]
        for entry in history["candidates"]:
            folder = Path(run) / "candidates" / f"seed-{entry['seed']}"
            row = {"run": str(run), "seed": entry["seed"], "kept": entry["seed"] == history["chosen_seed"],
                   "dev": entry["dev"], "dev_figure": key,
                   **evaluate_scored(sets.scored(open_classifier(folder / "model.keras")))}
            rows.append(row)
            print(f"{Path(run).name} candidate seed {row['seed']}{' (kept)' if row['kept'] else ''}: "
                  f"{key} {row['dev']:.3f}, " + ", ".join(f"{figure} {held(row):.3f}"
                                                          for figure, held in HELD_OUT.items()), flush=True)
    return {"models": len(rows), "spearman": {figure: float(spearmanr([r["dev"] for r in rows],
                                                                      [held(r) for r in rows]).statistic)
                                              for figure, held in HELD_OUT.items()},
            "rows": rows}


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="generalization.py's JSON files")
    parser.add_argument("--candidates", nargs="+", type=Path, default=[], metavar="RUN",
                        help="Runs built with --restarts: score each candidate's float model too.")
    parser.add_argument("--out", type=Path, default=RESULTS / "selection.json")
    args = parser.parse_args(argv)
    rows = models(args.files)
    result = {"files": [f.name for f in args.files], "models": len(rows),
              "spearman": agreement(rows), "spread": spread(rows), "seed_ranking": within_recipe(rows)}
    if args.candidates:
        result["candidates"] = candidates(args.candidates)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(args.out)
    print(f"{len(rows)} int8 models; Spearman's rho, dev criterion against each held-out figure")
    print(f"{'dev criterion':<14}" + "".join(f"{figure:>36}" for figure in HELD_OUT))
    for criterion, rhos in result["spearman"].items():
        print(f"{criterion:<14}" + "".join(f"{rho:36.2f}" for rho in rhos.values()))
    s = result["spread"]
    print(f"{s['recipes']} recipes on three seeds; standard deviation between seeds / between recipes")
    for figure in HELD_OUT:
        print(f"  {figure:<36} {s[figure]['between_seeds']:.3f} / {s[figure]['between_recipes']:.3f}")
    print("the seed of the best dev figure, held out: the best / the worst of its recipe's three "
          "(shares of the recipes; chance 0.33 / 0.33)")
    print(f"{'dev criterion':<14}" + "".join(f"{figure:>36}" for figure in HELD_OUT))
    for criterion, shares in result["seed_ranking"].items():
        print(f"{criterion:<14}" + "".join(f"{share['best']:>29.2f} / {share['worst']:.2f}"
                                            for share in shares.values()))
    if args.candidates:
        c = result["candidates"]
        print(f"{c['models']} candidates of --restarts (float): Spearman's rho, the dev figure that "
              "chose among them against " + ", ".join(f"{figure} {rho:.2f}" for figure, rho in c["spearman"].items()))


if __name__ == "__main__":
    main()
