"""One self-contained HTML page about a run: configuration, curves, metrics, explanations."""
import base64
import html
import io
import json
from pathlib import Path

import cv2
import matplotlib
import numpy as np

from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path, read_json
from antispoof.core.rundir import RunDir
from antispoof.data.datasets import data_sources
from antispoof.core import metrics
from antispoof.evaluation.evaluate import assess_run
from antispoof.evaluation.explain import heatmaps, keras_model_for, overlay
from antispoof.runtime.interpreter import open_classifier

matplotlib.use("Agg")  # files only, no display

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:.6em}.grid figure{margin:0;font-size:.8em}
img{max-width:100%}.muted{color:#666}pre{background:#f7f7f7;padding:.6em;overflow:auto}"""


def _png(figure_or_image):
    """A matplotlib figure or a BGR image as an embedded <img>."""
    if isinstance(figure_or_image, np.ndarray):
        ok, data = cv2.imencode(".png", figure_or_image)
        data = data.tobytes()
    else:
        buffer = io.BytesIO()
        figure_or_image.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(figure_or_image)
        data = buffer.getvalue()
    return f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pct(x):
    return f"{100 * x:.2f} %"


def _curves(history):
    import matplotlib.pyplot as plt

    epochs = [e["epoch"] for e in history["epochs"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    style_of = "o-" if len(epochs) == 1 else "-"  # one epoch: a point a line would not draw
    for prefix, style in (("", style_of), ("val_", style_of + "-" if len(epochs) > 1 else "s")):
        split = "dev" if prefix else "train"
        axes[0].plot(epochs, [e[prefix + "loss"] for e in history["epochs"]], style, label=split)
        if prefix + "precision" in history["epochs"][0]:
            f1 = [2 * e[prefix + "precision"] * e[prefix + "recall"] /
                  max(e[prefix + "precision"] + e[prefix + "recall"], 1e-12) for e in history["epochs"]]
            axes[1].plot(epochs, f1, style, label=f"F1 {split}")
        axes[1].plot(epochs, [e[prefix + "auc"] for e in history["epochs"]], style, alpha=.5,
                     label=f"AUC {split}")
    axes[0].set(title="loss", xlabel="epoch")
    axes[1].set(title="F1 and AUC", xlabel="epoch")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=.3)
        ax.set_xticks(epochs)  # whole epochs only
    fig.tight_layout()
    return fig


def _roc_det(scored_by_model):
    import matplotlib.pyplot as plt

    fig, (roc, det) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, s in scored_by_model.items():
        thresholds = np.unique(np.concatenate([s.scores, [np.inf]]))
        apcer = np.array([metrics.apcer(s.labels, s.scores, t) for t in thresholds])
        bpcer = np.array([metrics.bpcer(s.labels, s.scores, t) for t in thresholds])
        roc.plot(bpcer, 1 - apcer, label=name)
        det.plot(np.maximum(bpcer, 1e-4), np.maximum(apcer, 1e-4), label=name)
    roc.set(title="ROC", xlabel="BPCER (real called spoof)", ylabel="1 − APCER (attacks caught)")
    det.set(title="DET (log scale)", xlabel="BPCER", ylabel="APCER", xscale="log", yscale="log")
    for ax in (roc, det):
        ax.legend()
        ax.grid(alpha=.3)
    return fig


def _histograms(scored, threshold):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    bins = np.linspace(0, 1, 41)
    ax.hist(scored.scores[scored.labels == 0], bins, alpha=.6, label="real")
    for attack in sorted(set(scored.attacks[scored.labels == 1])):
        ax.hist(scored.scores[(scored.labels == 1) & (scored.attacks == attack)], bins, alpha=.6,
                label=f"spoof: {attack}")
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3f}")
    ax.set(title="int8 P(spoof) on the test split", xlabel="P(spoof)", ylabel="crops", yscale="log")
    ax.legend()
    return fig


def _confusion(matrix):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 3))
    shade = np.log1p(np.array(matrix, dtype=float))
    ax.imshow(shade, cmap="Blues")
    for (i, j), v in np.ndenumerate(np.array(matrix)):  # white on the dark cells
        dark = shade[i, j] > shade.max() / 2
        ax.text(j, i, str(v), ha="center", va="center", color="white" if dark else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["real", "spoof"], yticklabels=["real", "spoof"],
           xlabel="called", ylabel="true", title="int8, test")
    return fig


def _explanation_grid(model, scored, per_group=3):
    """Grad-CAM and saliency for the most confident and the most wrong real and spoof crops."""
    groups = {
        "real, most confident": (scored.labels == 0, 1),
        "real, most wrong": (scored.labels == 0, -1),
        "spoof, most confident": (scored.labels == 1, -1),
        "spoof, most wrong": (scored.labels == 1, 1),
    }
    figures = []
    for title, (mask, order) in groups.items():
        index = np.flatnonzero(mask)
        picks = index[np.argsort(order * scored.scores[index], kind="stable")][:per_group]
        pixels = scored.images.pixels[picks]
        maps = {m: heatmaps(model, pixels, m)[0] for m in ("gradcam", "saliency")}
        for k, i in enumerate(picks):
            tiles = np.vstack([overlay(pixels[k], maps[m][k]) for m in maps])
            caption = (f"{title}<br>{Path(scored.images.samples[i].path).name}<br>"
                       f"P(spoof) {scored.scores[i]:.3f}; Grad-CAM (top), saliency")
            figures.append(f"<figure>{_png(tiles)}<figcaption>{caption}</figcaption></figure>")
    return '<div class="grid">' + "".join(figures) + "</div>"


def report(run_dir, out=None, data_dir=None, protocol=None, assessed=None):
    """Write the run's report (default ``RUN_DIR/report.html``); return its path.

    ``assessed``: ``{"float": (metrics, scored), "int8": ...}`` from ``evaluate.assess`` on the
    test split, when the caller has just computed them (``build`` has); else they are computed.
    """
    run = RunDir(run_dir)
    for needed in (run.config, run.history, run.metrics, run.model):
        if not needed.exists():
            raise AntispoofError(f"{run.path}: no {needed.name}; run `antispoof build` first")
    config, history = read_json(run.config), read_json(run.history)
    results = read_json(run.metrics)
    data_dir = data_dir or config["data"]
    protocol = protocol or config.get("protocol_file")
    int8_path = run.int8
    if assessed is None:  # the crops the build scored (its --limit and seed), unless told otherwise
        scoring = {**config, "data": data_dir, "protocol_file": protocol}
        assessed = {name: assess_run(open_classifier(path), scoring)
                    for name, path in (("int8", int8_path), ("float", run.model))}
    (int8, int8_scored), (floats, float_scored) = assessed["int8"], assessed["float"]
    scored = {"int8": int8_scored, "float": float_scored}
    timing = bench(int8_path, BenchOptions(threads=1, runs=200, warmup=20))

    rows = []
    for key, label in (("auc", "AUC"), ("eer", "EER"), ("apcer", "APCER"), ("bpcer", "BPCER"),
                       ("acer", "ACER (worst attack type)"), ("hter", "HTER"), ("f1", "F1 (spoof)"),
                       ("precision", "precision"), ("recall", "recall"), ("accuracy", "accuracy")):
        fmt = (lambda x: f"{x:.4f}") if key in ("auc", "f1", "precision", "recall") else _pct
        interval = int8.get("ci95", {}).get(key)
        ci = f"[{fmt(interval[0])}, {fmt(interval[1])}]" if interval else ""
        rows.append((label, fmt(floats[key]), fmt(int8[key]), ci))
    points = [(name, f"{p['threshold']:.4f}", _pct(p["apcer"]), _pct(p["bpcer"]))
              for name, p in int8.get("operating_points", {}).items()]
    attacks = [(a, _pct(v)) for a, v in int8.get("apcer_per_attack", {}).items()]
    parity = results.get("parity", {})
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>antispoof report: {html.escape(run.path.name)}</title>
<style>{STYLE}</style></head><body>
<h1>antispoof run <code>{html.escape(str(run.path))}</code></h1>
<p class="muted">Data <code>{html.escape(", ".join(str(d["data"]) for d in data_sources(data_dir) or [{"data": data_dir}]))}</code>, protocol {html.escape(int8['protocol'])};
test split {int8['n_real']} real and {int8['n_spoof']} spoof crops. Threshold {int8['threshold']:.4f}
on P(spoof), chosen at the dev split's EER point; the test split chose nothing.</p>
<h2>Metrics on the test split</h2>
{_table(["metric", "float (Keras)", "int8 (TFLite)", f"int8 95 % interval ({int8.get('ci95', {}).get('resampled', 'no bootstrap')})"], rows)}
<h3>APCER per attack type (int8)</h3>{_table(["attack type", "APCER"], attacks)}
<h3>Operating points (thresholds chosen on dev, rates on test, int8)</h3>
{_table(["operating point", "threshold", "APCER", "BPCER"], points)}
<h3>Size, latency and int8 parity</h3>
{_table(["int8 file", "bytes", "LiteRT p50, 1 thread", "decisions equal to Keras", "max |score difference|"],
        [(int8_path.name, f"{int8_path.stat().st_size:,}", f"{p50_ms(timing):.3f} ms ({timing['runtime']} {timing['runtime_version']})",
          _pct(parity.get("decision_agreement", float("nan"))), f"{parity.get('max_score_difference', float('nan')):.4f}")])}
<h2>Confusion matrix</h2>{_png(_confusion(int8['confusion_matrix']))}
<h2>Training</h2>{_png(_curves(history))}
<h2>ROC and DET</h2>{_png(_roc_det(scored))}
<h2>Score distributions</h2>{_png(_histograms(scored['int8'], int8['threshold']))}
<h2>Where the model looks</h2>
<p class="muted">Crops chosen by the int8 model's scores; maps from the Keras model it was built from,
explaining P(spoof).</p>
{_explanation_grid(keras_model_for(run.model), scored['int8'])}
<h2>Configuration</h2><pre>{html.escape(json.dumps({**config, 'build': results.get('build')}, indent=2))}</pre>
</body></html>"""
    out = Path(out) if out else run.report
    with atomic_path(out, suffix=".html") as tmp:
        tmp.write_text(page)
    return out
