"""How long the set-up part of `make test` takes: a fresh clone of this checkout (beside it, so
that ../shared is found), then each set-up target timed in turn: the venv with the package and
its pinned dependencies, the system tools the tests drive (apt; nothing to do where they are
installed), and the aarch64 sysroot for the ARM parity check (Debian's packages and aarch64
wheels, downloaded each time). pip's cache is the machine's own, so a second run reuses its
downloads; `--cold` points pip at an empty cache instead, as on a new machine. Prints a table,
writes JSON.

    python benchmarks/setup_time.py --out benchmarks/results/setup_time.json
"""
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import REPO, argument_parser

TARGETS = (".venv/.installed", "system-deps", "arm64-sysroot")
BAR_S = 300  # the set-up of `make test` on a fresh machine


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--cold", action="store_true", help="An empty pip cache (a new machine).")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/setup_time.json")
    args = parser.parse_args(argv)
    clone = Path(tempfile.mkdtemp(prefix="setup-time-", dir=REPO.parent))
    env = dict(os.environ)
    if args.cold:
        env["PIP_CACHE_DIR"] = str(clone / ".pip-cache")
    rows = []
    try:
        subprocess.run(["git", "clone", "--quiet", "--local", str(REPO), str(clone / "repo")], check=True)
        for target in TARGETS:
            start = time.perf_counter()
            done = subprocess.run(["make", "-C", str(clone / "repo"), target], env=env,
                                  capture_output=True, text=True)
            rows.append({"target": target, "seconds": time.perf_counter() - start,
                         "ok": done.returncode == 0})
            if done.returncode:
                raise SystemExit(f"make {target} failed:\n{done.stderr[-3000:]}")
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    total = sum(r["seconds"] for r in rows)
    result = {"cold_pip_cache": args.cold, "machine": platform.machine(), "cpus": os.cpu_count(),
              "rows": rows, "total_s": total, "bar_s": BAR_S, "meets_bar": total <= BAR_S}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'make target':<20} {'seconds':>8}")
    for r in rows:
        print(f"{r['target']:<20} {r['seconds']:8.1f}")
    print(f"{'set-up in all':<20} {total:8.1f}  (bar {BAR_S} s: {'met' if result['meets_bar'] else 'NOT met'})")


if __name__ == "__main__":
    main()
