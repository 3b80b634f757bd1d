"""How long a build of a recipe takes on this machine, stage by stage: `antispoof build` of
the recipe (default: the shipped one, ``pipeline.recipes.SHIPPED_RECIPE``) from nothing, in a
fresh folder, its caches (the teachers' scores, the contraction) warm or cold (``--cold``:
empty caches, as a first build; default: the user's, as every build after the first). The bar:
10 minutes, so that three seeds of a recipe fit in an hour. Prints a table, writes JSON.

    python benchmarks/build_time.py --out benchmarks/results/build_time.json
"""
import os
import platform
import tempfile
import time
from pathlib import Path

from common import RESULTS, WEIGHTS_035, argument_parser

from antispoof.core.files import CACHE_ENV, read_json, write_json
from antispoof.pipeline.recipes import RECIPES, SHIPPED_RECIPE
from antispoof.runtime.device_runner import cpu_model

from generalization import build_run

BAR_S = 600
SHIPPED = next(name for name, (_, fields, plan, _) in RECIPES.items()  # the build's defaults
               if fields == SHIPPED_RECIPE and not plan)


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--recipe", default=SHIPPED, choices=RECIPES, metavar="RECIPE",
                        help="a recipe of antispoof.pipeline.recipes (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold", action="store_true",
                        help="Empty caches (the teachers' scores, the contraction).")
    parser.add_argument("--out", type=Path, default=RESULTS / "build_time.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="antispoof-build-") as work:
        if args.cold:
            os.environ[CACHE_ENV] = str(Path(work) / "cache")
        start = time.time()
        run_dir = build_run(args.recipe, args.seed, Path(work), WEIGHTS_035)
        seconds = time.time() - start
        metrics = read_json(run_dir / "metrics.json")
    result = {"recipe": args.recipe, "seed": args.seed, "cache": "cold" if args.cold else "warm",
              "seconds": seconds, "stage_seconds": metrics["stage_seconds"], "bar_s": BAR_S,
              "meets_bar": seconds <= BAR_S, "cpu": cpu_model(), "cores": os.cpu_count(),
              "machine": platform.machine()}
    write_json(args.out, result)
    print(f"{'stage':<10} {'seconds':>8}")
    for stage, s in metrics["stage_seconds"].items():
        print(f"{stage:<10} {s:8.0f}")
    print(f"{'build':<10} {seconds:8.0f}   recipe {args.recipe}, seed {args.seed}, caches "
          f"{result['cache']} (bar {BAR_S} s: {'met' if result['meets_bar'] else 'NOT met'}) "
          f"on {result['cpu']}, {result['cores']} cores")


if __name__ == "__main__":
    main()
