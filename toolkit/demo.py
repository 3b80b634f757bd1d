"""The README's first command: benchmark the shipped model and classify a few NUAA test crops."""
import random
from pathlib import Path

from .bench import BenchOptions, bench, p50_ms
from .data import FaceDataset, load_images
from .runtime import DEFAULT_MODEL, FALLBACK_THRESHOLD, TFLiteClassifier, contract_threshold

DEFAULT_NUAA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "nuaa"


def demo(model=DEFAULT_MODEL, data=DEFAULT_NUAA, per_class=4, threads=1, echo=print):
    model = Path(model)
    classifier = TFLiteClassifier(model, threads)  # a model that breaks the contract stops here
    timing = bench(model, BenchOptions(threads=threads, runs=300, warmup=30))
    inference = timing["inference"]
    echo(f"model    {model} ({timing['model_bytes']:,} bytes)")
    echo(f"runtime  {timing['runtime']} {timing['runtime_version']}, {threads} thread(s), "
         f"{timing['cpu']}")
    echo(f"latency  p50 {p50_ms(timing):.3f} ms, p90 {inference['p90'] / 1000:.3f} ms, "
         f"min {inference['min'] / 1000:.3f} ms over {inference['count']} runs")
    if not Path(data).is_dir():
        echo(f"({data} not found: skipping the classification demo)")
        return timing, []
    threshold, _ = contract_threshold(model)
    threshold = FALLBACK_THRESHOLD if threshold is None else threshold
    test = FaceDataset(data).split("test")
    picks = [s for label in (0, 1)
             for s in random.Random(0).sample([t for t in test if t.label == label], per_class)]
    images = load_images(picks, classifier.input_size)
    scores = classifier.predict(images.pixels)
    echo(f"\nNUAA test crops (threshold {threshold:.4f} on P(spoof))")
    echo(f"{'file':<32} {'truth':<6} {'P(spoof)':>8}  {'call':<6}")
    rows = []
    for sample, score in zip(images.samples, scores):
        call = "spoof" if score >= threshold else "real"
        truth = ("real", "spoof")[sample.label]
        rows.append({"file": sample.path, "truth": truth, "score": float(score), "call": call})
        echo(f"{Path(sample.path).name:<32} {truth:<6} {score:8.4f}  {call:<6}"
             f"{'' if call == truth else '  ✗'}")
    correct = sum(r["call"] == r["truth"] for r in rows)
    echo(f"{correct}/{len(rows)} correct")
    return timing, rows
