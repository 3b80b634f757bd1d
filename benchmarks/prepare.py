"""Data-preparation throughput and the crop-scale measurement behind ``faces.CROP_SCALE``.

1. Throughput: 640×480 videos built from NUAA frames (one face each, on a grey background), run
   through ``antispoof prepare`` with 1 and 2 worker processes: frames/s and crops/s over wall
   time, and frames per CPU-second (the per-core figure: the detector may use more than one
   thread, so wall time alone would flatter one worker).
2. Crop ratio: NUAA's crops over BlazeFace's box on them (the context the shipped model saw).

    python benchmarks/prepare.py --out benchmarks/results/prepare.json
"""
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import NUAA, REPO, argument_parser

import cv2
import numpy as np

from antispoof.runtime.device_runner import cpu_model


def make_videos(root, videos, frames):
    """``videos`` MP4s of ``frames`` 640×480 frames, half real and half spoof, subjects cycled."""
    subjects = sorted({p.name for p in (NUAA / "ClientFace").iterdir()}
                      & {p.name for p in (NUAA / "ImposterFace").iterdir()})
    for k in range(videos):
        label, folder = (("real", "ClientFace"), ("spoof", "ImposterFace"))[k % 2]
        subject = subjects[(k // 2) % len(subjects)]
        files = sorted((NUAA / folder / subject).glob("*.jpg"))[:frames]
        path = root / label / subject / f"video{k}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
        for i in range(frames):
            frame = np.full((480, 640, 3), 90, np.uint8)
            frame[140:340, 220:420] = cv2.resize(cv2.imread(str(files[i % len(files)])), (200, 200))
            writer.write(frame)
        writer.release()


def throughput(source, workers, scratch):
    """Run prepare in a fresh process, so that CPU time counts only this run. The detector of
    the one-worker run is loaded before the clock starts; spawned workers start on the clock
    (importing mediapipe pulls in TensorFlow: about 3 s each)."""
    out = Path(scratch) / f"out-{workers}"
    script = ("import json, resource, sys, time\n"
              "from antispoof.data.prepare import prepare, _start_worker\n"
              "_start_worker()\n"
              "u = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
              "cpu0 = sum(r.ru_utime + r.ru_stime for r in u)\n"
              "t = time.perf_counter()\n"
              f"s = prepare({str(source)!r}, {str(out)!r}, workers={workers}, progress=False)\n"
              "wall = time.perf_counter() - t\n"
              "u = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
              "cpu = sum(r.ru_utime + r.ru_stime for r in u) - cpu0\n"
              "print(json.dumps({'frames': s['frames'], 'crops': s['crops'], 'wall_s': wall, 'cpu_s': cpu}))\n")
    result = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       check=True).stdout.strip().splitlines()[-1])
    return {"workers": workers, **result,
            "frames_per_s": result["frames"] / result["wall_s"],
            "crops_per_s": result["crops"] / result["wall_s"],
            "frames_per_cpu_s": result["frames"] / result["cpu_s"]}


def detection_only(frames=300):
    """Detector alone on one 640×480 frame: ms per frame, wall and CPU (threads it uses)."""
    from antispoof.data.faces import FaceDetector

    files = sorted((NUAA / "ClientFace" / "0001").glob("*.jpg"))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[140:340, 220:420] = cv2.cvtColor(cv2.resize(cv2.imread(str(files[0])), (200, 200)),
                                           cv2.COLOR_BGR2RGB)
    with FaceDetector() as detector:
        for _ in range(20):
            detector.detect(frame)
        times, cpu = [], time.process_time()
        for _ in range(frames):
            t = time.perf_counter()
            detector.detect(frame)
            times.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu
    return {"p50_ms": 1000 * float(np.median(times)), "cpu_ms_per_frame": 1000 * cpu / frames}


def crop_ratio(n=300, seed=0):
    """NUAA crop side over BlazeFace's box side, on crops pasted into a 640×480 frame."""
    from antispoof.data.faces import FaceDetector

    files = sorted(NUAA.glob("*/*/*.jpg"))
    random.Random(seed).shuffle(files)
    ratios = []
    with FaceDetector() as detector:
        for f in files[:n]:
            crop = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            h, w = crop.shape[:2]
            frame = np.zeros((480, 640, 3), np.uint8)
            frame[100:100 + h, 200:200 + w] = crop
            faces = detector.detect(frame)
            if faces:
                ratios.append(max(h, w) / faces[0].side)
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {"crops": n, "detected": len(ratios), "median": median, "q1": q1, "q3": q3}


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150, help="Frames per video.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/prepare.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "videos"
        make_videos(source, args.videos, args.frames)
        runs = [throughput(source, w, scratch) for w in args.workers]
    result = {"machine": f"{platform.machine()}, {cpu_model()}, {_cores()} cores",
              "videos": args.videos, "frames_per_video": args.frames, "frame_size": "640x480",
              "runs": runs, "detection_only": detection_only(), "nuaa_crop_ratio": crop_ratio()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{result['machine']}; {args.videos} videos × {args.frames} frames, 640×480")
    print("| workers | frames | crops | wall s | frames/s | crops/s | frames per CPU-second |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['workers']} | {r['frames']} | {r['crops']} | {r['wall_s']:.1f} | "
              f"{r['frames_per_s']:.0f} | {r['crops_per_s']:.0f} | {r['frames_per_cpu_s']:.0f} |")
    d, c = result["detection_only"], result["nuaa_crop_ratio"]
    print(f"BlazeFace alone: p50 {d['p50_ms']:.2f} ms/frame, {d['cpu_ms_per_frame']:.2f} CPU-ms/frame")
    print(f"NUAA crop / BlazeFace box: median {c['median']:.2f} (IQR {c['q1']:.2f}–{c['q3']:.2f}), "
          f"{c['detected']} of {c['crops']} detected")


def _cores():
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
