"""#13's cross-dataset table: NUAA-trained models without and with synthetic attacks
(`--synth-spoof 0.5`, both families, then screen only and print only as the ablation), three
seeds each, on the NUAA test split and on every `replay-webcam` crop (evaluation only), float
and int8, at NUAA-dev thresholds. The recipes and the table are `recipes.py`'s.

    python benchmarks/cross_dataset.py  # builds what is missing under runs/ (~25 min), or
    python benchmarks/cross_dataset.py --seeds 0  # ... and any other recipes.py option
"""
import sys

import recipes

RECIPES = ["epochs-3", "synth", "synth-screen", "synth-print"]

if __name__ == "__main__":
    recipes.main(["--recipes", *RECIPES, "--out", "benchmarks/results/cross_dataset.json",
                  *sys.argv[1:]])
