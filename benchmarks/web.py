"""The web page's speed beside Python's, in one run on this machine: the model alone (one crop,
``--runs`` runs after a warm-up) in the page, LiteRT.js WebAssembly on one thread (served as
Python's plain http.server serves it) and on two threads (cross-origin isolated, as `antispoof
serve` serves it), and in Python's LiteRT on one thread, the same file (the page's uint8 variant)
and the int8 model; the three take turns for ``--rounds`` rounds, so a busy machine slows all
alike. Then the whole page loop (camera frame → BlazeFace → crop → model → drawing) on
Chromium's fake camera playing NUAA faces at 30 frames per second: frames processed per second
and the median time per frame. Prints a table, writes JSON and a screenshot of the page.

    python benchmarks/web.py --out benchmarks/results/web.json
"""
import platform
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import REPO, RESULTS, argument_parser

import numpy as np

from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.core.files import write_json
from antispoof.core.model_contract import read_contract
from antispoof.core.shipped import SHIPPED
from antispoof.pipeline.web import MODEL_DIR, page_contract, write_web
from antispoof.runtime.device_runner import cpu_model
from antispoof.testing import browser
from antispoof.testing.nuaa import nuaa_frames

THREADS = 2  # the threaded page: this machine's two cores


def page_model_ms(page, runs, warmup):
    """The page's model p50 over ``runs`` runs, in ms."""
    return statistics.median(page.evaluate(f"window.antispoof.timeModel({runs}, {warmup})"))


def page_loop(chromium, url, seconds):
    """Frames per second and milliseconds per frame of the page on the fake camera."""
    page = browser.open_page(chromium, url + "?smooth=0.6")
    browser.page_frames(page, 5)
    page.evaluate("window.antispoof.frames.length = 0")
    page.wait_for_timeout(seconds * 1000)
    frames = page.evaluate("window.antispoof.frames")
    page.locator("body").screenshot(path=RESULTS / "web_page.png")
    span_s = (frames[-1]["time"] - frames[0]["time"]) / 1000
    return {"frames": len(frames), "seconds": span_s, "fps": (len(frames) - 1) / span_s,
            "frame_ms_p50": statistics.median(f["frameMs"] for f in frames),
            "detect_ms_p50": statistics.median(f["detectMs"] for f in frames),
            "crop_ms_p50": statistics.median(f["cropMs"] for f in frames if f["faces"]),
            "model_ms_p50": statistics.median(f["modelMs"] for f in frames if f["faces"]),
            "with_face": sum(bool(f["faces"]) for f in frames) / len(frames)}


def main(argv=None):
    parser = argument_parser(__doc__)
    parser.add_argument("--model", type=Path, default=SHIPPED / SHIPPED.CONTRACT,
                        help="model.json of exported artifacts (default: the shipped model's)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "web.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="antispoof-web-"))
    folder = write_web(args.model, work / "page")
    page_model = folder / MODEL_DIR / page_contract(args.model).model
    int8 = args.model.parent / read_contract(args.model).model  # the export's int8 file
    faces = [np.ascontiguousarray(bgr[..., ::-1]) for bgr in nuaa_frames("ClientFace", "0010", 30)]
    clip = browser.write_y4m(work / "camera.y4m", faces, fps=30)
    timings = {"page, 1 thread": [], f"page, {THREADS} threads": [], "python, same file": [],
               "python, int8 model": []}
    runtime = {}
    with browser.served(folder, isolated=False) as plain, browser.served(folder) as isolated, \
            browser.chromium(camera=clip) as chromium:
        one = browser.open_page(chromium, plain + "?camera=0")
        several = browser.open_page(chromium, isolated + f"?camera=0&threads={THREADS}")
        threads = several.evaluate("window.antispoof.liveness.threads")
        assert threads == THREADS, f"the isolated page runs {threads} thread(s)"
        for _ in range(args.rounds):  # each round: every run's p50
            timings["page, 1 thread"].append(page_model_ms(one, args.runs, args.warmup))
            timings[f"page, {THREADS} threads"].append(page_model_ms(several, args.runs, args.warmup))
            for name, model in (("python, same file", page_model), ("python, int8 model", int8)):
                record = bench(model, BenchOptions(runs=args.runs, warmup=args.warmup))
                timings[name].append(p50_ms(record))
                runtime = {"runtime": record["runtime"], "version": record["runtime_version"]}
        one.close()
        several.close()
        loop = page_loop(chromium, plain, args.loop_seconds)
        version = chromium.version
    reference = statistics.median(timings["python, same file"])
    rows = [{"run": name, "p50_ms": statistics.median(t), "round_p50s_ms": t,
             "ratio_to_python": statistics.median(t) / reference} for name, t in timings.items()]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    result = {"model": str(args.model.parent.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model),
              "cpu": cpu_model(), "machine": platform.machine(), "chromium": version, "node": node,
              "python_runtime": runtime, "runs": args.runs, "rounds": args.rounds, "rows": rows,
              "page_loop": {"camera_fps": 30, **loop}}
    write_json(args.out, result)
    print(f"{'model alone':<24} {'p50':>9} {'rounds':>17} {'× Python':>9}")
    for r in rows:
        spread = f"{min(r['round_p50s_ms']):.3f}–{max(r['round_p50s_ms']):.3f}"
        print(f"{r['run']:<24} {r['p50_ms']:7.3f}ms {spread:>17} {r['ratio_to_python']:8.2f}×")
    print(f"page loop on a 30 fps camera: {loop['fps']:.1f} frames/s, {loop['frame_ms_p50']:.1f} ms a "
          f"frame (detection {loop['detect_ms_p50']:.1f} ms, crop {loop['crop_ms_p50']:.1f} ms, "
          f"model {loop['model_ms_p50']:.2f} ms); "
          f"Chromium {version}, {runtime.get('runtime')} {runtime.get('version')}, {result['cpu']}")


if __name__ == "__main__":
    main()
