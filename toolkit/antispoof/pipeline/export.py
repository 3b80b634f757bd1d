"""App-developer artifacts from a run: the int8 model, a MediaPipe Tasks variant with TFLite
metadata, ``labels.txt``, ``model.json`` and ``MODEL_CARD.md``; for the server model, a SavedModel
and a float16 ``.tflite``.

MediaPipe's ``ImageClassifier`` takes only uint8 or float32 input and one score per label, so
its variant wraps the same int8 graph (same weights, same kernels) in exact uint8 ↔ int8
requantizations and adds P(real) = 1 − P(spoof) beside P(spoof): scores ``[real, spoof]``.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from antispoof import __version__
from antispoof.bench.latency import BenchOptions, bench, p50_ms
from antispoof.compress.quantization import convert_float16
from antispoof.core.model_contract import (CROP_SCALE, LABELS, UINT8_SHIFT, ModelContract, Quantization,
                                           read_contract)
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path, read_json, write_bytes
from antispoof.core.rundir import ExportDir, RunDir
from antispoof.data.datasets import FaceDataset, MANIFEST_FILE, data_sources, read_manifest
from antispoof.evaluation.evaluate import assess_run
from antispoof.models.builders import load_trained
from antispoof.models.specs import SERVER_ARCH
from antispoof.runtime.interpreter import open_classifier
from antispoof.training.options import TRAIN_DEFAULTS


def is_server_run(run_dir):
    config = RunDir(run_dir).config
    return config.is_file() and read_json(config)["options"].get("arch") == SERVER_ARCH


def export_server(run_dir, out_dir):
    """The server model of a finished ``antispoof train --arch efficientnet-b0`` run as a
    TensorFlow SavedModel (for TF Serving, and ``antispoof evaluate``) and a float16 ``.tflite``
    (float32 in and out, weights stored as float16: half the size)."""
    model = load_trained(run_dir)
    out = ExportDir(out_dir)
    out.path.mkdir(parents=True, exist_ok=True)
    saved = out / out.SAVED_MODEL
    staging = Path(tempfile.mkdtemp(prefix=f".{out.SAVED_MODEL}.", dir=out.path))
    try:
        model.save(staging, save_format="tf")
        staging.chmod(0o755)  # mkdtemp made it private
        shutil.rmtree(saved, ignore_errors=True)
        os.replace(staging, saved)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_bytes(out / out.FP16, convert_float16(model))
    pixels = Quantization("float32", 1.0, 0, "face crop resized to input_size, RGB pixels 0..255")
    scores = Quantization("float32", 1.0, 0, "[P(real), P(spoof)]")
    ModelContract(model=out.FP16, input_size=int(model.input_shape[1]), input=pixels,
                  output=scores, threshold=None, arch=SERVER_ARCH, saved_model=out.SAVED_MODEL,
                  size_bytes=(out / out.FP16).stat().st_size).write(out.path)
    return [out.SAVED_MODEL, out.FP16, out.CONTRACT]


def export(run_dir, out_dir, name="antispoof", author="antispoof contributors", licence="Apache-2.0",
           peers=()):
    """Write the artifacts of ``run_dir`` (a finished ``antispoof build``) into ``out_dir``;
    ``peers`` (ONNX files) are scored on the run's test splits for the model card."""
    run, out = RunDir(run_dir), ExportDir(out_dir)
    for needed in (run.int8, run.metrics, run.contract):
        if not needed.is_file():
            raise AntispoofError(f"{needed}: missing; export needs a finished `antispoof build` run")
    metrics, contract = read_json(run.metrics), read_contract(run.contract)
    flatbuffer = run.int8.read_bytes()
    write_bytes(out / out.INT8, flatbuffer)
    contract.thresholds = None  # of the run's other files; the two exported share one
    contract.model, contract.mediapipe_model = out.INT8, out.MEDIAPIPE
    contract.version, contract.size_bytes = __version__, len(flatbuffer)
    mediapipe = with_metadata(mediapipe_graph(flatbuffer), name, author, licence, contract.crop_scale)
    write_bytes(out / out.MEDIAPIPE, mediapipe)
    with atomic_path(out / out.LABELS) as tmp:
        tmp.write_text("\n".join(LABELS) + "\n")
    contract.write(out.path)
    timing = bench(out / out.INT8, BenchOptions(runs=300, warmup=30))
    latency = (f"p50 {p50_ms(timing):.3f} ms, one thread, {timing['runtime']} "
               f"{timing['runtime_version']}, {timing['cpu'] or timing['machine']}")
    config = read_json(run.config)
    peer_results = {}
    for peer in map(Path, peers):  # on exactly the crops the model was scored on
        peer_results[f"peer {peer.stem}"], _ = assess_run(open_classifier(peer), config, resamples=0)
    with atomic_path(out / out.CARD) as tmp:
        tmp.write_text(model_card(metrics, contract.to_json(), config, latency, peer_results,
                                  run_teachers(run), teaching(run)))
    return [out.INT8, out.MEDIAPIPE, out.LABELS, out.CONTRACT, out.CARD]


def mediapipe_graph(flatbuffer):
    """The int8 model with uint8 input and a uint8 [P(real), P(spoof)] output."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    graph = model.subgraphs[0]
    (inp,), (out,) = graph.inputs, graph.outputs
    t_in, t_out = graph.tensors[inp], graph.tensors[out]
    if t_in.type != schema.TensorType.INT8 or t_out.type != schema.TensorType.INT8 \
            or list(t_out.shape) != [1, 1]:
        raise AntispoofError("the MediaPipe variant needs an int8 model with one int8 score output")

    def opcode(builtin):
        for i, code in enumerate(model.operatorCodes):
            if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
                return i
        code = schema.OperatorCodeT()
        code.builtinCode = builtin
        code.deprecatedBuiltinCode = min(builtin, 127)
        code.version = 1
        model.operatorCodes.append(code)
        return len(model.operatorCodes) - 1

    def tensor(name, shape, dtype, scale, zero_point, data=None):
        t = schema.TensorT()
        t.name, t.shape, t.type = name.encode(), np.array(shape, np.int32), dtype
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
        buffer = schema.BufferT()
        buffer.data = None if data is None else np.frombuffer(data.tobytes(), np.uint8)
        model.buffers.append(buffer)
        t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    def operator(builtin, inputs, outputs, options_type=0, options=None):
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = opcode(builtin), inputs, outputs
        op.builtinOptionsType, op.builtinOptions = options_type, options
        return op

    uint8, ops = schema.TensorType.UINT8, schema.BuiltinOperator
    (in_scale,), (in_zero,) = t_in.quantization.scale, t_in.quantization.zeroPoint
    (out_scale,), (out_zero,) = t_out.quantization.scale, t_out.quantization.zeroPoint
    image = tensor("image", t_in.shape, uint8, in_scale, in_zero + UINT8_SHIFT)
    spoof = tensor("p_spoof", [1, 1], uint8, out_scale, out_zero + UINT8_SHIFT)
    one = tensor("one", [1, 1], uint8, 1.0, 0, np.array([[1]], np.uint8))
    real = tensor("p_real", [1, 1], uint8, out_scale, out_zero + UINT8_SHIFT)
    scores = tensor("scores", [1, 2], uint8, out_scale, out_zero + UINT8_SHIFT)
    sub, concat = schema.SubOptionsT(), schema.ConcatenationOptionsT()
    concat.axis = 1
    graph.operators = [operator(ops.QUANTIZE, [image], [inp]), *graph.operators,
                       operator(ops.QUANTIZE, [out], [spoof]),
                       operator(ops.SUB, [one, spoof], [real], schema.BuiltinOptions.SubOptions, sub),
                       operator(ops.CONCATENATION, [real, spoof], [scores],
                                schema.BuiltinOptions.ConcatenationOptions, concat)]
    graph.inputs, graph.outputs = [image], [scores]
    for signature in model.signatureDefs or []:
        signature.inputs[0].tensorIndex, signature.outputs[0].tensorIndex = image, scores
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def with_metadata(flatbuffer, name, author, licence, crop_scale=CROP_SCALE):
    """TFLite metadata that MediaPipe Tasks' ImageClassifier reads: name, version, description,
    author, licence, pixel input (no normalization: the graph takes 0..255), labels."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(flatbuffer))
    writer.add_image_input(norm_mean=[0.0], norm_std=[1.0])
    writer.add_classification_output(metadata_writer.Labels().add(list(LABELS)))
    # add_general_info takes only a name and a description; the container holds the rest
    writer._general_md = metadata_info.GeneralMd(  # noqa: SLF001
        name=name, version=__version__, author=author, licenses=licence,
        description="Face anti-spoofing (liveness) from one RGB face crop: scores for "
                    "real (bona fide) and spoof (presentation attack). Crop the face "
                    f"square, {crop_scale}x the detector's box, as model.json says.")
    populated, _ = writer.populate()
    return populated


def licence_of(model_file):
    """The first line of the ``LICENSE`` beside a model file (e.g. "BSD 3-Clause License"), or
    what says there is none."""
    licence = Path(model_file).with_name("LICENSE")
    first = next((line.strip() for line in licence.read_text(errors="replace").splitlines()
                  if line.strip()), "") if licence.is_file() else ""
    return first or "no LICENSE file beside it"


def run_teachers(run):
    """[{"file", "weight", "licence"}] of the teachers a run was distilled from (``teachers.json``:
    the ensemble's weights chosen on dev; a run made before it: its one teacher), or []."""
    if run.teachers.is_file():
        record = read_json(run.teachers)
        return [{"file": Path(t).name, "weight": w, "licence": licence_of(t)}
                for t, w in zip(record["teachers"], record["weights"])]
    teachers = (read_json(run.config).get("options", {}).get("teacher") if run.config.is_file()
                else None) or []
    teachers = [teachers] if isinstance(teachers, str) else teachers
    return [{"file": Path(t).name, "weight": 1 / len(teachers), "licence": licence_of(t)}
            for t in teachers]


def teaching(run):
    """How the teachers' mix was turned into targets before distilling (``teachers.json``: its
    recalibration on the train labels, its correction), as a sentence of the model card, or ""."""
    record = read_json(run.teachers) if run.teachers.is_file() else {}
    said = []
    calibration = record.get("calibration")
    if calibration:
        a, b = calibration["pooled"]
        said.append(f"recalibrated on the train labels ({calibration['kind']}: Platt scaling, "
                    f"σ({a:.2f}·logit {'-' if b < 0 else '+'} {abs(b):.2f})"
                    + (f" for every crop but those of the {len(calibration['sources'])} training "
                       "sources fitted apart" if calibration["sources"] else "") + ")")
    if record.get("correction", "none") != "none":
        said.append(f"corrected ({record['correction']}: a crop's P(spoof) on the wrong side of 0.5 "
                    "for its label taught as 1 - P)")
    return f"Their mix {' and '.join(said)}." if said else ""


def model_card(metrics, contract, config, latency, peers=None, teachers=(), teaching=""):
    """MODEL_CARD.md: use, input and output, training data (each dataset, and each source
    repository its manifest names for the train and dev splits, with the licence it states),
    the teachers with their weights and licences and what was done to their mix (``teaching``),
    test metrics per dataset beside the peer's (``peers``: {name: assess result}), limits."""
    int8, flt = metrics["int8"], metrics.get("float", {})
    protocol = int8.get("protocol", config.get("protocol", ""))
    sources = data_sources(config.get("data")) or [{"data": config.get("data", "?")}]
    names = [Path(s["data"]).name for s in sources]
    lines = [
        "# Model card: antispoof int8 face anti-spoofing model", "",
        "## Intended use",
        "Tells a live face (bona fide) from a presentation attack in one RGB face crop, on phones "
        "and boards, as one signal in a liveness check. Not an identity check, and not a sole "
        "defence against determined attackers.", "",
        "## Input and output",
        f"- Input: a square face crop, {contract['crop_scale']}× the face detector's box (BlazeFace "
        f"short range), resized to {contract['input_size']}×{contract['input_size']}, "
        f"{contract['color_order']}, pixels 0..255; int8 tensor q = pixel − 128 "
        f"(`{ExportDir.INT8}`) or uint8 pixels (`{ExportDir.MEDIAPIPE}`, MediaPipe Tasks ImageClassifier).",
        f"- Output: P(spoof) (`{ExportDir.INT8}`), or scores [real, spoof] (`{ExportDir.MEDIAPIPE}`); call "
        f"spoof when P(spoof) ≥ {contract['threshold']:.4f} ({contract['threshold_source']}).", "",
        "## Training data and protocol",
        f"- Data: {', '.join('`' + name + '`' for name in names)}; protocol `{protocol}`: subjects "
        "(sources) never cross train/dev/test; epochs and the threshold are chosen on dev; test "
        "is only reported.",
        "- Images: " + "; ".join(f"{split} {c['real']:,} real, {c['spoof']:,} spoof"
                                 for split, c in config.get("counts", {}).items())
        + f"; test {int8['n_real']:,} real, {int8['n_spoof']:,} spoof.",
    ]
    options = config.get("options", {})
    changed = {k: v for k, v in options.items()  # (JSON has lists where the defaults are tuples)
               if k in TRAIN_DEFAULTS and k != "init" and v != TRAIN_DEFAULTS[k]
               and not (isinstance(TRAIN_DEFAULTS[k], tuple) and v == list(TRAIN_DEFAULTS[k]))}
    teacher_files = ([options["teacher"]] if isinstance(options.get("teacher"), str)
                     else options.get("teacher") or [])
    if changed:
        lines.append("- Training options besides the defaults: " + ", ".join(
            f"{k} = {' + '.join(Path(t).name for t in teacher_files) if k == 'teacher' else v}"
            for k, v in changed.items())
            + (" (the teacher: knowledge distillation from the peers' P(spoof))"
               if any(str(t).endswith(".onnx") for t in teacher_files) else "") + ".")
    if teachers:
        lines += ["", "Teachers (knowledge distillation from their weighted mean P(spoof), the weights "
                  "chosen on dev):", "", "| teacher | weight | licence |", "|---|---|---|"]
        lines += [f"| {t['file']} | {t['weight']:.2f} | {t['licence']} |" for t in teachers]
        lines += ["", teaching] if teaching else []
    for source in sources:
        lines += _source_table(Path(source["data"]))
    lines += ["", "## Metrics (test splits, threshold from dev)", "",
              "| model | test set | AUC | EER | APCER | BPCER | ACER | size |",
              "|---|---|---|---|---|---|---|---|"]
    models = [("float", flt), ("int8", int8)] + list((peers or {}).items())
    for label, m in models:
        if not m:
            continue
        parts = m.get("datasets") or {names[0] if len(names) == 1 else "all": m}
        size = f"{m['size_bytes']:,} B" if "size_bytes" in m else ""
        for dataset, d in parts.items():
            lines.append(f"| {label} | {dataset} | {d['auc']:.4f} | {100 * d['eer']:.2f} % | "
                         f"{100 * d['apcer']:.2f} % | {100 * d['bpcer']:.2f} % | "
                         f"{100 * d['acer']:.2f} % | {size} |")
    if peers:
        lines += ["", "The peer (Silent-Face MiniFASNet, ONNX, Apache-2.0; whole crop resized to "
                  "80×80) is scored on the same crops, at its own equal-error threshold on the "
                  "same dev split."]
    screens = any(Path(s["data"]).name != "nuaa" for s in sources)
    lines += [
        "", f"Size: {contract['size_bytes']:,} bytes (int8). Latency: {latency} (measured by "
        "`antispoof export` when this card was written).", "",
        "## Limits",
        "- Attack types: learned only from those in the training data"
        + (" (printed photographs; screen replays on phones, monitors and TVs). No mask or "
           "3-D attack was seen." if screens else
           ". A model trained on NUAA (printed photographs) has seen no screen replay and no "
           "mask, and does far worse on screen replays than on prints."),
        "- Demographics, cameras and lighting: only those of the training data are covered; "
        "others are untested. Cameras, rooms and screens unlike the training sources move the "
        "scores (the held-out test figures above): check the threshold on your own data.",
        "- The crop must be made as above; other crops (tighter, wider, unaligned) shift the scores.",
        "",
    ]
    return "\n".join(lines)


def _source_table(folder):
    """The sources a dataset was trained (train) and chosen (dev) on, with counts and licences:
    the source repositories its ``manifest.csv`` names, each with the licence it states; for a
    dataset whose manifest names none, or that has no manifest, its train and dev subjects (each
    its own source) from its protocol, saying why."""
    rows = [row for row in read_manifest(folder) if row.get("source_repo")]
    try:
        dataset = FaceDataset(folder)
    except AntispoofError as exc:  # not a crop folder here (moved since, or packed)
        return ["", f"`{folder.name}`: its sources cannot be listed here ({exc})."]
    if rows:  # (source, split, label, licence) of each crop
        crops = ((row["source_repo"], dataset.protocol.split_of(row["subject"]), row["label"],
                  row.get("licence", "")) for row in rows)
        heading, column = "as its manifest states them", "source repository"
    else:
        crops = ((s.subject, split, LABELS[s.label], "") for split in ("train", "dev")
                 for s in dataset.split(split))
        why = ("its manifest names no source repository" if (folder / MANIFEST_FILE).is_file()
               else "no manifest of sources beside it")
        heading, column = f"each subject from its protocol ({why})", "subject"
    table = {}  # (source, split) -> {"real": n, "spoof": n, "licence": ...}
    for source, split, label, licence in crops:
        if split != "test":
            entry = table.setdefault((source, split), {"real": 0, "spoof": 0, "licence": licence})
            entry[label] += 1
    lines = ["", f"Sources of `{folder.name}` used for training (train) and choosing (dev), "
             f"{heading}:", "", f"| {column} | split | real | spoof | licence |",
             "|---|---|---|---|---|"]
    for (source, split), entry in sorted(table.items(), key=lambda item: (item[0][1] != "train", item[0])):
        licence = entry["licence"] if entry["licence"] not in ("", "none stated") else "no licence stated"
        lines.append(f"| {source} | {split} | {entry['real']:,} | {entry['spoof']:,} | {licence} |")
    return lines
