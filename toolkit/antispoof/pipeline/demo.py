"""The README's first command: benchmark the shipped model and, given the datasets, classify
a few test crops of NUAA (printed photographs) and of webcam-multi's held-out sources (screen
replays). Nothing is read that the caller did not name (``make demo`` names ../shared)."""
import random
from pathlib import Path

from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.core.model_contract import LABELS, decision_threshold
from antispoof.core.errors import AntispoofError
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.data.datasets import FaceDataset, load_images
from antispoof.runtime.interpreter import TFLiteClassifier


def demo(model=DEFAULT_MODEL, data=None, per_class=4, threads=1, echo=print, webcam=None):
    """Benchmark ``model``, then classify ``per_class`` real and attack crops of the NUAA test
    split (``data``) and of webcam-multi's held-out test sources (``webcam``); None: skip."""
    model = Path(model)
    for folder in (data, webcam):
        if folder is not None and not Path(folder).is_dir():
            raise AntispoofError(f"{folder}: " + ("a file, not a dataset folder" if Path(folder).is_file()
                                                  else "dataset folder not found"))
    threshold = decision_threshold(model)
    classifier = TFLiteClassifier(model, threads)  # a model that breaks the contract stops here
    timing = bench(model, BenchOptions(threads=threads, runs=300, warmup=30))
    inference = timing["inference"]
    echo(f"model    {model} ({timing['model_bytes']:,} bytes)")
    echo(f"runtime  {timing['runtime']} {timing['runtime_version']}, {threads} thread(s), "
         f"{timing['cpu']}")
    echo(f"latency  p50 {p50_ms(timing):.3f} ms, p90 {inference['p90'] / 1000:.3f} ms, "
         f"min {inference['min'] / 1000:.3f} ms over {inference['count']} runs")
    rows = []
    for title, folder, attack in (("NUAA test crops (printed photographs)", data, "print"),
                                  ("webcam-multi test crops (sources held out of training: "
                                   "screen replays)", webcam, "replay_screen")):
        if folder is None:
            continue
        test = FaceDataset(folder).split("test")
        picks = [s for label in (0, 1) for s in random.Random(0).sample(
            [t for t in test if t.label == label and (not label or t.attack == attack)], per_class)]
        rows += _classify(classifier, picks, threshold, title, echo)
    correct = sum(r["call"] == r["truth"] for r in rows)
    if rows:
        echo(f"\n{correct}/{len(rows)} correct")
    else:
        echo("\n(give --data NUAA and --webcam WEBCAM-MULTI to classify a few of their test crops)")
    return timing, rows


def _classify(classifier, picks, threshold, title, echo):
    images = load_images(picks, classifier.input_size)
    scores = classifier.predict(images.pixels)
    echo(f"\n{title}, threshold {threshold:.4f} on P(spoof)")
    echo(f"{'file':<36} {'truth':<6} {'P(spoof)':>8}  {'call':<6}")
    rows = []
    for sample, score in zip(images.samples, scores):
        call = "spoof" if score >= threshold else "real"
        truth = LABELS[sample.label]
        rows.append({"file": sample.path, "truth": truth, "score": float(score), "call": call})
        echo(f"{Path(sample.path).name:<36} {truth:<6} {score:8.4f}  {call:<6}"
             f"{'' if call == truth else '  ✗'}")
    return rows
