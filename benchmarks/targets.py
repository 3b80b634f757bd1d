"""The same model through every bench target on this machine: local, ssh and adb on loopback.

Starts a real sshd and adbd on 127.0.0.1 (as the tests do; root, after `make system-deps`),
then runs `antispoof bench` on each target in turn, ``--rounds`` times, so that a busy machine
slows all of them alike; reports the median of the per-round p50s. All three run the same
runner file on the same CPU, so they should agree: this measures what the transport costs (it
should cost nothing inside the timed loop) and checks that the fields and checksums match.

    python benchmarks/targets.py --out benchmarks/results/targets.json
"""
import sys
import tempfile
from pathlib import Path

from common import REPO, argument_parser

import numpy as np

from antispoof.bench.latency import BenchOptions, bench
from antispoof.core.files import write_json
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.testing import loopback


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/targets.json")
    args = parser.parse_args()
    options = BenchOptions(threads=args.threads, runs=args.runs, warmup=50)
    with tempfile.TemporaryDirectory() as work, loopback.sshd(work) as ssh, loopback.adbd() as serial:
        targets = {
            "local": {},
            "ssh loopback": dict(target="ssh://loopback", ssh_config=ssh["config"],
                                 identity=ssh["key"], python=sys.executable),
            "adb loopback": dict(target=f"adb://{serial}", python=sys.executable),
        }
        rounds = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, where in targets.items():
                rounds[name].append(bench(args.model, options, **where))
    rows = []
    for name, records in rounds.items():
        last = records[-1]
        rows.append({**last, "name": name, "rounds": len(records),
                     "p50_us_median": float(np.median([r["inference"]["p50"] for r in records])),
                     "p90_us_median": float(np.median([r["inference"]["p90"] for r in records])),
                     "init_us_median": float(np.median([r["init_us"] for r in records])),
                     "checksums": sorted({r["checksum"] for r in records})})
    first = rows[0]
    print(f"{args.model.name}: {first['runtime']} {first['runtime_version']} ({first['kernels']}), "
          f"{args.threads} thread(s), {first['cpu']}; median of {args.rounds} interleaved rounds "
          f"of {args.runs} runs")
    print("| target | p50 µs | p90 µs | init ms | peak RSS MB | checksum |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['p50_us_median']:.1f} | {r['p90_us_median']:.1f} | "
              f"{r['init_us_median'] / 1000:.1f} | {r['memory_mb']['peak_rss']:.1f} | "
              f"{', '.join(r['checksums'])} |")
    write_json(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
