"""The ``antispoof`` command line: each command is a thin shell over a plain function."""
import dataclasses
import functools
import json
import logging
import typing
from pathlib import Path

import click

from antispoof.compress.config import (CONTRACTION, CRITERIA, INT8_MODES, QUANTIZATION,
                                       QuantizationConfig)
from antispoof.core.console import configure
from antispoof.core.fields import flag
from antispoof.core.model_contract import CROP_SCALE, LABELS
from antispoof.core.errors import AntispoofError
from antispoof.data.datasets import ALL, SPLITS
from antispoof.data.sources import ADAPTERS
from antispoof.evaluation.explain import METHODS
from antispoof.core.metrics import OPERATING_POINT_NAMES
from antispoof.models.specs import (DEFAULT_HEAD, DEFAULT_INPUT_SIZE, HEADS, MIN_INPUT_SIZE,
                                    SERVER_ARCH, SERVER_HEAD, SERVER_INPUT_SIZE, ModelSpec)
from antispoof.runtime.device_runner import KERNELS, TFLITE_RUNTIMES
from antispoof.training.options import Augmentation, Distillation, HyperParameters, TrainOptions

log = logging.getLogger("antispoof")


def _datasets(f):
    """--data (repeatable), with a --protocol and a --data-weight per --data: the command gets
    ``data_dir`` and ``protocol`` (one folder and its protocol, or a list of datasets)."""
    @functools.wraps(f)
    def wrapper(data_dir, protocol, data_weight, **kwargs):
        for option, values in (("--protocol", protocol), ("--data-weight", data_weight)):
            if values and len(values) != len(data_dir):
                raise click.UsageError(f"give {option} once per --data, in the same order "
                                       f"({len(data_dir)} --data, {len(values)} {option})")
        if len(data_dir) == 1 and not data_weight:
            return f(data_dir=data_dir[0], protocol=protocol[0] if protocol else None, **kwargs)
        sources = [{"data": d, "protocol": protocol[i] if protocol else None,
                    "weight": data_weight[i] if data_weight else None}
                   for i, d in enumerate(data_dir)]
        return f(data_dir=sources, protocol=None, **kwargs)

    for option in reversed([
        click.option("--data", "data_dir", required=True, multiple=True, type=click.Path(),
                     help="Face-crop folder: real/ and spoof/ per subject, or a protocol.json "
                          "layout; repeat for several datasets (splits are their unions), or a "
                          "multi-dataset .json file."),
        click.option("--protocol", multiple=True, type=click.Path(),
                     help="protocol.json giving test/dev subjects, once per --data (default: "
                          "DATA/protocol.json, else a seeded subject split)."),
        click.option("--data-weight", multiple=True, type=click.FloatRange(min=0),
                     help="Share of the train split each --data gives, once per --data "
                          "(default: their sizes)."),
    ]):
        wrapper = option(wrapper)
    return wrapper


_protocol = click.option("--protocol", type=click.Path(), default=None,
                         help="protocol.json giving test/dev subjects (default: DATA/protocol.json, "
                              "else a seeded subject split).")
_subject_regex = click.option("--subject-regex", default=None,
                              help="Regex on the path under the class folder; group 1 is the subject.")
_threads = click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
                        help="CPU threads of the TFLite interpreter.")
_json_out = click.option("--json", "json_out", type=click.Path(), default=None,
                         help="Write the result as JSON to this file.")


def _console(ctx, param, verbose):
    configure(verbose or ctx.find_root().params.get("verbose", False))


class _Command(click.Command):
    """Every command takes --verbose (the libraries' own log lines, hidden by default)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(["--verbose", "-v"], is_flag=True, expose_value=False,
                                        is_eager=True, callback=_console,
                                        help="Show TensorFlow's, TFLite's and MediaPipe's logs."))


class _Group(click.Group):
    """Turns user errors into one line on stderr and exit status 1, with no traceback; a flag
    that fails its check is one line too (exit status 2), before any work."""

    command_class = _Command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AntispoofError as exc:
            raise click.ClickException(str(exc)) from None
        except click.UsageError as exc:
            exc.ctx = None  # the message alone, without the usage text around it
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="antispoof")
@click.option("--verbose", "-v", is_flag=True, help="Show the libraries' logs (any command).")
def main(verbose):
    """Build, quantize, evaluate and benchmark tiny face anti-spoofing models."""


def _train_options(**kwargs):
    return TrainOptions(**{k: v for k, v in kwargs.items() if v is not None})


def _flags(*records, only=None, skip=()):
    """Click options made from the option fields of the dataclasses ``records``
    (``core.fields.option``: help, choices, range and default written once, beside the field).
    Each defaults to None, so that a command passes on only what was given."""
    options = []
    for record in records:
        for f in dataclasses.fields(record):
            meta = f.metadata
            if not meta.get("cli") or f.name in skip or (only and f.name not in only):
                continue
            name, kind = flag(f.name), _value_type(f.type)
            default = meta["default_text"] or (("on" if f.default else "off") if kind is bool else
                                               f"{f.default:g}" if kind is float else f.default)
            extra = {"help": f"{meta['help'].rstrip('.')} (default {default}).", "default": None}
            if kind is bool:
                options.append(click.option(f"{name}/{meta['off'] or '--no-' + name[2:]}", **extra))
                continue
            if meta["choices"] is not None:
                extra["type"] = click.Choice(list(meta["choices"]))
            elif meta["range"] != (None, None, False, False):
                low, high, low_open, high_open = meta["range"]
                extra["type"] = (click.IntRange if kind is int else click.FloatRange)(
                    low, high, min_open=low_open, max_open=high_open)
            elif meta["path"]:
                extra["type"] = click.Path(exists=True)
                if meta["multiple"]:  # () when not given: None, so that nothing is passed on
                    extra.update(multiple=True, callback=lambda ctx, param, value: tuple(value) or None)
            elif meta["split"]:
                sep = meta["split"]
                extra["callback"] = lambda ctx, param, value, sep=sep: (
                    tuple(value.split(sep)) if value else None)
            else:
                extra["type"] = kind
            options.append(click.option(name, metavar=meta["metavar"], **extra))
    return options


def _weights(ctx, param, value):
    """--weights: 'none' → None, 'imagenet' as it is, else a file that must exist."""
    if value == "none":
        return None
    if value != "imagenet" and not Path(value).is_file():
        raise click.BadParameter(f"{value}: no such file (a Keras no-top .h5, 'imagenet' or "
                                 "'none')")
    return value


def _value_type(annotation):
    """int for ``int`` and ``int | None``; likewise float, str, bool; tuple for a tuple."""
    members = [t for t in typing.get_args(annotation) if t is not type(None)] or [annotation]
    return members[0]


_training = [
    click.option("--weights", default="imagenet", show_default=True, callback=_weights,
                 help="Backbone ImageNet weights: 'imagenet' (Keras's cache, else a download), "
                      "a Keras no-top .h5 path, or 'none' (random initialisation)."),
    *_flags(ModelSpec, HyperParameters, Distillation, Augmentation, skip=("arch", "strategy")),
]


def _with(options):
    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


@main.command()
@click.argument("source", type=click.Path())
@click.option("--format", "source_format", default="auto", show_default=True,
              type=click.Choice(["auto", *ADAPTERS]))
@click.option("--out", required=True, type=click.Path(), help="Dataset folder to write (resumable).")
@click.option("--every-nth-frame", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-frames-per-video", type=click.IntRange(min=0),
              default=0, show_default=True, help="0: all.")
@click.option("--crop-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Crop side over the face box's longer side (default {CROP_SCALE}, NUAA-like).")
@click.option("--size", type=click.IntRange(min=MIN_INPUT_SIZE),
              default=128, show_default=True, help="Side of the saved crops.")
@click.option("--min-face", type=click.IntRange(min=1),
              default=40, show_default=True, help="Smallest face box side, px.")
@click.option("--min-sharpness", type=click.FloatRange(min=0), default=8.0, show_default=True,
              help="Drop crops whose variance of Laplacian is lower; 0 keeps all.")
@click.option("--detect/--no-detect", default=None,
              help="Run the face detector (default: yes, except on datasets of crops such as NUAA).")
@click.option("--workers", type=click.IntRange(min=1),
              default=1, show_default=True, help="Processes.")
@click.option("--seed", type=click.IntRange(min=0),
              default=0, show_default=True, help="Seed of the subject split.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None,
              metavar="[ADDRESS]",
              help="One Ray task per source on a cluster: auto (this node's cluster, the default "
                   "with a bare --ray), HOST:PORT, ray://HOST:10001, or local (a private one with "
                   "--workers CPUs). --out must be a folder all nodes share.")
@click.option("--label", type=click.Choice(list(LABELS)), default=None,
              help="The class of a SOURCE that is one video or image.")
def prepare(source, source_format, out, every_nth_frame, max_frames_per_video, crop_scale, size,
            min_face, min_sharpness, detect, workers, seed, ray_address, label):
    """Videos or images of a dataset (or one video or image with --label) → face crops in real/
    and spoof/ per subject, with manifest.csv, sources.csv, protocol.json and prepare.json."""
    from antispoof.core.console import plural
    from antispoof.data.prepare import PrepareOptions, prepare as run

    options = PrepareOptions(every_nth_frame, max_frames_per_video, crop_scale or CROP_SCALE, size,
                             min_face, min_sharpness, detect=detect)
    summary = run(source, out, source_format, options, workers, seed, ray_address=ray_address,
                  label=label)
    dropped = ", ".join(f"{summary[k]} {k.replace('_', ' ')}" for k in
                        ("no_face", "multiple_faces", "small_face", "blurry"))
    click.echo(f"{plural(summary['crops'], 'crop')} from {plural(summary['frames'], 'frame')} of "
               f"{plural(summary['sources'], 'source')} (format {summary['source_format']}; "
               f"dropped: {dropped}; {plural(len(summary['unusable_sources']), 'unusable source')}) "
               f"→ {out} (protocol {summary['protocol']})")


@main.command()
@_datasets
@_subject_regex
@_with(_training)
@_with(_flags(ModelSpec, HyperParameters, only=("arch", "strategy")))
@click.option("--out", required=True, type=click.Path(), help="Run directory to write.")
def train(data_dir, protocol, subject_regex, weights, out, **options):
    """Fine-tune the light model (MobileNetV2 0.35 + head) or train the server model
    (EfficientNet-B0) on the train split, monitoring dev; --teacher distils."""
    from antispoof.training.loop import train as run

    path = run(data_dir, out, weights, _train_options(**options), protocol, subject_regex)
    click.echo(str(path))


@main.command()
@click.argument("dataset", type=click.Path())
@_protocol
@_subject_regex
@click.option("--out", required=True, type=click.Path(), help="Folder for the shards (resumable).")
@click.option("--shards", type=click.IntRange(min=1), default=8, show_default=True,
              help="Shards per split (at least the number of training workers).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the shuffle (and of the subject split without a protocol).")
def pack(dataset, protocol, subject_regex, out, shards, seed):
    """A face-crop dataset → sharded TFRecord files per split, with pack.json; `antispoof
    train --data OUT` streams them."""
    from antispoof.data.packing import pack as run

    index = run(dataset, out, shards, protocol, subject_regex, seed)
    splits = ", ".join(f"{name} {entry['records']} in {len(entry['shards'])} shards"
                       for name, entry in index["splits"].items())
    click.echo(f"{splits} ({len(index['skipped'])} undecodable files skipped) → {out}")


@main.command()
@click.option("--weights", default="imagenet", show_default=True, callback=_weights,
              help="Width-1.0 MobileNetV2 no-top weights: 'imagenet' (Keras's cache, else a "
                   "download) or an .h5 path.")
@click.option("--width", type=click.FloatRange(min=0, max=1.4, min_open=True),
              default=None, help="Global width to keep, e.g. 0.35.")
@click.option("--budget-kb", type=click.FloatRange(min=0), default=None,
              help="Instead of --width: the widest layout whose int8 file, head included, fits.")
@click.option("--input-size", type=click.IntRange(min=MIN_INPUT_SIZE),
              default=DEFAULT_INPUT_SIZE, show_default=True)
@click.option("--criterion", type=click.Choice(list(CRITERIA)), default=CONTRACTION.criterion,
              show_default=True, help="How channels are ranked.")
@click.option("--calibration-data", type=click.Path(), default=None,
              help="Image folder for --criterion activation.")
@click.option("--head", type=click.Choice(list(HEADS)), default=DEFAULT_HEAD, show_default=True,
              help="Head counted in --budget-kb.")
@click.option("--blocks", type=click.IntRange(0, 16), default=CONTRACTION.blocks, show_default=True,
              help="Last block kept (--width).")
@click.option("--tap", type=click.Choice(["output", "expanded"]),
              default="output", show_default=True,
              help="Features after the last block, or after its depthwise conv (paper: expanded).")
@click.option("--last-conv", type=click.IntRange(min=0), default=1280, show_default=True,
              help="Channels of the final 1x1 conv (0 drops it; only with --blocks 16 --tap output).")
@click.option("--out", required=True, type=click.Path(), help="The .keras backbone to write.")
def contract(weights, width, budget_kb, input_size, criterion, calibration_data, head, blocks, tap,
             last_conv, out):
    """Contract a pretrained width-1.0 MobileNetV2 to a width or a size budget, keeping weights
    (the same contraction again is copied from ~/.cache/antispoof/contractions)."""
    from antispoof.compress.contraction import contract as run

    run(weights, out, width, budget_kb, input_size, criterion, calibration_data, head, blocks, tap,
        last_conv)
    click.echo(out)


@main.command()
@click.argument("run_dir", type=click.Path())
@_datasets
@click.option("--mode", type=click.Choice(INT8_MODES), default=QUANTIZATION.mode, show_default=True,
              help="Quantization-aware fine-tuning, or post-training quantization only.")
@click.option("--epochs", type=click.IntRange(min=1),
              default=QUANTIZATION.qat_epochs, show_default=True, help="QAT epochs.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True),
              default=QUANTIZATION.qat_learning_rate, show_default=True,
              help="QAT learning rate.")
@click.option("--distill/--no-distill", default=QUANTIZATION.qat_distill, show_default=True,
              help="QAT on the targets the run trained on (its teachers.json, alpha and "
                   "temperature) instead of the hard labels alone.")
@click.option("--limit", type=click.IntRange(min=1),
              default=None, help="QAT: at most N images per split (quick runs).")
@click.option("--out", required=True, type=click.Path(), help="The .tflite file to write.")
def quantize(run_dir, data_dir, protocol, mode, epochs, learning_rate, distill, limit, out):
    """Full-integer int8 model (int8 in and out) of a run's (or a .keras file's) model."""
    from antispoof.compress.quantization import quantize as run

    run(run_dir, data_dir, out,
        QuantizationConfig(mode, epochs, learning_rate, qat_distill=distill), protocol, limit=limit)
    click.echo(out)


@main.command()
@click.argument("model", type=click.Path())
@_datasets
@_subject_regex
@click.option("--split", type=click.Choice([*SPLITS, ALL]), default="test",
              show_default=True, help="all: every image of the folder (needs a threshold: "
                                      "--threshold, or the model's model.json).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Decision threshold on P(spoof) (default: the one model.json records for the "
                   "model, else chosen on dev, see --operating-point).")
@click.option("--operating-point", default=None,
              type=click.Choice(OPERATING_POINT_NAMES),
              help="Choose the threshold on the dev split at this point (default without "
                   "model.json: eer).")
@_threads
@click.option("--scores", "scores_out", type=click.Path(), default=None,
              help="Write every image's score as CSV: file, label, subject, attack, score.")
@_json_out
def evaluate(model, data_dir, protocol, subject_regex, split, threshold, operating_point, threads,
             scores_out, json_out):
    """ISO/IEC 30107-3 metrics of a .tflite or .keras model over a split: AUC, EER, APCER per
    attack type, BPCER, ACER, HTER, F1, operating points, 95 % intervals over subjects, and
    per-subject figures in the JSON."""
    from antispoof.evaluation.evaluate import evaluate as run
    from antispoof.core.files import write_json

    result = run(model, data_dir, split, protocol, threshold, threads, subject_regex,
                 operating_point=operating_point, scores_out=scores_out)
    if json_out:
        write_json(json_out, result)
    (auc_low, auc_high), (acer_low, acer_high) = result["ci95"]["auc"], result["ci95"]["acer"]
    click.echo(f"{split}: {result['n_real']} real, {result['n_spoof']} spoof  "
               f"AUC {result['auc']:.4f} [{auc_low:.4f}, {auc_high:.4f}]  "
               f"EER {100 * result['eer']:.2f}%  APCER {100 * result['apcer']:.2f}%  "
               f"BPCER {100 * result['bpcer']:.2f}%  "
               f"ACER {100 * result['acer']:.2f}% [{100 * acer_low:.2f}%, {100 * acer_high:.2f}%]  "
               f"F1 {result['f1']:.4f}  (threshold {result['threshold']:.4f} from "
               f"{result['threshold_source']}; {result['runtime']})")


@main.command()
@_datasets
@_subject_regex
@_with(_training)
@click.option("--budget-kb", type=click.FloatRange(min=0), default=None,
              help=f"Contract the backbone from --weights so the int8 file fits (default "
                   f"{CONTRACTION.budget_kb:g}); 0: use --backbone as is.")
@click.option("--criterion", type=click.Choice(list(CRITERIA)), default=None,
              help=f"Channel ranking for the contraction (default {CONTRACTION.criterion}).")
@click.option("--mode", type=click.Choice(INT8_MODES), default=None,
              help=f"Default {QUANTIZATION.mode}.")
@click.option("--qat-epochs", type=click.IntRange(min=1),
              default=None, help=f"Default {QUANTIZATION.qat_epochs}.")
@click.option("--qat-learning-rate", type=click.FloatRange(min=0, min_open=True),
              default=None, help=f"Default {QUANTIZATION.qat_learning_rate:g}.")
@click.option("--qat-distill/--no-qat-distill", default=None,
              help=f"QAT on the teachers' scores as training (with --teacher) instead of the "
                   f"hard labels alone (default {'on' if QUANTIZATION.qat_distill else 'off'}).")
@click.option("--config", "config_file", type=click.Path(), default=None,
              help="A build config (antispoof search writes build-config.json); flags given "
                   "here override it.")
@click.option("--out", required=True, type=click.Path(), help="Run directory to write.")
def build(data_dir, protocol, subject_regex, weights, budget_kb, criterion, mode, qat_epochs,
          qat_learning_rate, qat_distill, config_file, out, **options):
    """contract → train → quantize → evaluate, resumable, everything under the run directory."""
    from dataclasses import replace

    from antispoof.pipeline.build import BuildOptions, build as run, read_build_config

    plan, trained = read_build_config(config_file) if config_file else (BuildOptions(), {})
    given = {"budget_kb": budget_kb, "criterion": criterion, "mode": mode, "qat_epochs": qat_epochs,
             "qat_learning_rate": qat_learning_rate, "qat_distill": qat_distill}
    plan = replace(plan, **{k: v for k, v in given.items() if v is not None})
    if plan.budget_kb == 0:
        plan = replace(plan, budget_kb=None)
    train_options = _train_options(**{**trained, **{k: v for k, v in options.items() if v is not None}})
    run(data_dir, out, weights, train_options, protocol, subject_regex, plan)


@main.command()
@_datasets
@click.option("--weights", required=True, type=click.Path(exists=True, dir_okay=False),
              help="MobileNetV2 no-top .h5 to contract (a path every Ray node can read).")
@click.option("--budget-kb", type=click.FloatRange(min=0),
              default=CONTRACTION.budget_kb, show_default=True)
@click.option("--trials", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--widths", default="0.2,0.25,0.3,0.35,0.4,0.5,0.75,1.0", show_default=True,
              help="Width multipliers to try (those above the weights' width are skipped).")
@click.option("--depths", default="5,8,9,12", show_default=True, help="Last blocks to try.")
@click.option("--per-tensor/--per-channel-only", default=True, show_default=True,
              help="Also try per-tensor int8 weights.")
@click.option("--head", type=click.Choice(list(HEADS)), default=DEFAULT_HEAD, show_default=True)
@click.option("--input-size", type=click.IntRange(min=MIN_INPUT_SIZE),
              default=DEFAULT_INPUT_SIZE, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1),
              default=1, show_default=True, help="Fine-tuning epochs per trial.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--limit", type=click.IntRange(min=1),
              default=None, help="At most N images per split in a trial.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--ray", "ray_address", default="local", show_default=True,
              help="Ray cluster: local (start one here), auto, HOST:PORT or ray://HOST:10001.")
@click.option("--out", required=True, type=click.Path(), help="Search folder (resumable).")
def search(data_dir, protocol, weights, budget_kb, trials, widths, depths, per_tensor, head,
           input_size, epochs, batch_size, limit, seed, ray_address, out):
    """Ray Tune search over contraction widths, depths and per-channel vs per-tensor int8 for a
    size budget, scored by dev ACER; writes OUT/build-config.json for `antispoof build --config`."""
    from antispoof.pipeline.search import SearchOptions, search as run

    try:
        grid = {"widths": tuple(float(w) for w in widths.split(",")),
                "depths": tuple(int(d) for d in depths.split(","))}
    except ValueError:
        raise click.BadParameter("--widths and --depths take comma-separated numbers") from None
    options = SearchOptions(budget_kb, trials, per_tensor=per_tensor, head=head,
                            input_size=input_size, epochs=epochs, batch_size=batch_size,
                            limit=limit, seed=seed, **grid)
    config = run(data_dir, out, weights, options, protocol, ray_address)
    best = config["search"]
    click.echo(f"best: width {config['contraction']['width']:g}, blocks "
               f"{config['contraction']['blocks']}, {'per-channel' if config['per_channel'] else 'per-tensor'}"
               f" int8: {best['size_bytes']} bytes, dev ACER {100 * best['dev_acer']:.2f}%, dev AUC "
               f"{best['dev_auc']:.4f} → {out}/build-config.json")


@main.command()
@click.argument("model", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--method", type=click.Choice(METHODS), default=METHODS[0],
              show_default=True)
@click.option("--out", required=True, type=click.Path(), help="Folder for the PNG overlays.")
def explain(model, images, method, out):
    """Grad-CAM, saliency or occlusion maps of P(spoof) over face crops. Grad-CAM and saliency
    explain a .tflite file through the model.keras beside it; occlusion needs only the model's
    outputs and explains any model file, the shipped one too."""
    from antispoof.evaluation.explain import explain as run

    for png, score in run(model, images, method, out):
        click.echo(f"{png}  P(spoof) {score:.4f}")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", type=click.Path(), default=None, help="Default: RUN_DIR/report.html.")
@click.option("--data", "data_dir", type=click.Path(), default=None,
              help="Default: the data folder the run was trained on.")
@_protocol
def report(run_dir, out, data_dir, protocol):
    """One self-contained HTML report of a run: metrics with intervals, curves, explanations."""
    from antispoof.evaluation.report import report as run

    click.echo(run(run_dir, out, data_dir, protocol))


@main.command()
@click.argument("model", type=click.Path(), required=False)
@click.option("--arch", type=click.Choice([SERVER_ARCH]), default=None,
              help="Instead of MODEL: build this architecture (random weights, no data).")
@click.option("--head", default=SERVER_HEAD, show_default=True, help="Head, with --arch.")
@click.option("--input-size", type=click.IntRange(min=MIN_INPUT_SIZE),
              default=SERVER_INPUT_SIZE, show_default=True, help="With --arch.")
@_json_out
def info(model, arch, head, input_size, json_out):
    """Size, parameters or tensors, input shape and dtype, quantization and ops of a model; or,
    with --arch, the parameter count of an architecture against the paper's."""
    from antispoof.core.files import write_json
    from antispoof.runtime.info import model_info

    if (model is None) == (arch is None):
        raise click.UsageError("give a MODEL or --arch")
    if arch:
        from antispoof.models.efficientnet import architecture_info

        if head != SERVER_HEAD:
            raise click.UsageError(f"--arch {arch} takes --head {SERVER_HEAD}")
        result = architecture_info(input_size)
    else:
        result = model_info(model)
    if json_out:
        write_json(json_out, result)
    click.echo(json.dumps(result, indent=2))


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("--target", default="local", show_default=True,
              help="local, ssh://USER@HOST[:PORT] or adb[://SERIAL].")
@click.option("--compare", is_flag=True, help="Time several models interleaved; print their ratios.")
@_threads
@click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=10, show_default=True,
              help="With --compare: rounds that visit the models in turn.")
@click.option("--kernels", type=click.Choice(KERNELS), default=KERNELS[0],
              show_default=True, help="builtin: TFLite's own kernels, XNNPACK off.")
@click.option("--runtime", type=click.Choice([r[2] for r in TFLITE_RUNTIMES]), default=None,
              help="Default: the first installed of these, in this order.")
@click.option("--remote-python", default=None, help="Python on the target (default: python3).")
@click.option("--setup", is_flag=True, help="ssh: create a venv on the host with numpy and a runtime.")
@click.option("-i", "--identity", type=click.Path(), default=None, help="ssh: private key file.")
@click.option("--ssh-config", type=click.Path(), default=None, help="ssh: config file (ssh -F).")
@click.option("-o", "--ssh-option", "ssh_options", multiple=True, help="ssh: -o OPTION=VALUE, repeatable.")
@click.option("--benchmark-binary", type=click.Path(), default=None,
              help="adb, device without Python: TFLite's benchmark_model for its ABI.")
@click.option("--app", is_flag=True,
              help="adb: run the Android demo app's benchmark mode (android_demo/) instead.")
@_json_out
def bench(models, target, compare, threads, runs, warmup, rounds, kernels, runtime, remote_python,
          setup, identity, ssh_config, ssh_options, benchmark_binary, app, json_out):
    """Latency of MODELS on this machine, a host over ssh or a device over adb: init, first
    inference, warm-up and timed runs (µs, benchmark_model's fields), p50/p90, memory."""
    from antispoof.bench.latency import BenchOptions, bench as run, compare as run_compare, describe
    from antispoof.core.files import write_json

    if len(models) > 1 and not compare:
        raise click.UsageError("several models need --compare")
    options = BenchOptions(threads, runs, warmup, rounds if compare else 1, kernels=kernels,
                           runtime=runtime)
    where = dict(target=target, identity=identity, ssh_config=ssh_config, ssh_options=ssh_options,
                 python=remote_python, setup=setup, benchmark_binary=benchmark_binary, app=app)
    if compare:
        result = run_compare(models, options, **where)
        for record, ratio in zip(result["results"], result["p50_ratios"]):
            click.echo(f"{record['model']}  ({record['model_bytes']:,} bytes)  ×{ratio:.2f}\n"
                       f"  {describe(record)}")
    else:
        result = run(models[0], options, **where)
        click.echo(describe(result))
    if json_out:
        write_json(json_out, result)


@main.command()
@click.argument("model", type=click.Path(), required=False)
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--camera", type=click.IntRange(min=0),
              default=None, help="Camera index to read instead of files.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Default: the one model.json beside the model records for it.")
@_threads
@click.option("--smooth", type=click.FloatRange(0, 1, max_open=True),
              default=0.0, show_default=True,
              help="Video: weight of the past in an exponential average of the largest face's score.")
@click.option("--max-frames", type=click.IntRange(min=0),
              default=0, show_default=True, help="Per video or camera; 0: all.")
@click.option("--annotate", type=click.Path(), default=None,
              help="Write the image (.jpg, .png), video (.mp4) or, for several inputs, folder "
                   "with boxes and labels.")
@click.option("--detect/--no-detect", default=True, show_default=True,
              help="--no-detect: each image already is a face crop and is scored whole.")
@click.option("--crop-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Crop side over the face box's longer side (default: model.json's, else "
                   f"{CROP_SCALE}).")
@_json_out
def predict(model, inputs, camera, threshold, threads, smooth, max_frames, annotate, detect,
            crop_scale, json_out):
    """Find faces (BlazeFace) in images, folders, videos or a camera and call each real or
    spoof. MODEL defaults to the shipped model (models/antispoof_int8.tflite, installed with
    the package); a first argument that is a model file (.tflite, .keras, .h5, the peer's .onnx,
    or a TFLite file by its content) is the model, else an input."""
    from antispoof.core.console import plural
    from antispoof.core.files import write_json
    from antispoof.core.shipped import DEFAULT_MODEL
    from antispoof.runtime.interpreter import check_tflite_file, is_model_file
    from antispoof.runtime.predict import PredictOptions, predict as run

    if model and not is_model_file(model):
        model, inputs = None, (model, *inputs)
    if not inputs and camera is None:
        raise click.UsageError("give images, folders or videos, or --camera N")
    if model and not model.endswith((".keras", ".h5", ".onnx")):
        check_tflite_file(model)  # before anything heavy loads
    if crop_scale and not detect:
        raise click.UsageError("--crop-scale sets the crop around a detected face: drop it with "
                               "--no-detect")
    options = PredictOptions(threshold, threads, smooth, max_frames, annotate, detect, crop_scale)
    result = run(model or DEFAULT_MODEL, inputs, options, camera)
    if json_out:
        write_json(json_out, result)
    for item in result["results"]:
        for frame in item.get("frames", []):
            faces = "  ".join(f"{f['label']} {f.get('smoothed_score', f['score']):.3f} at box "
                              f"x,y,w,h {','.join(map(str, f['box']))}" for f in frame["faces"]) or "no face"
            times = (f"detect {frame['detect_ms']:.2f} ms, " if detect else "") + \
                (f"classify {frame['classify_ms']:.2f} ms" if frame["faces"] else "nothing to classify")
            click.echo(f"{item['input']}[{frame['frame']}]: {faces}  ({times})")
    problems = result["problems"]
    click.echo(f"{plural(result['faces'], 'face')} in {plural(result['frames'], 'frame')}: "
               f"{result['real']} real, {result['spoof']} spoof (threshold {result['threshold']:.4f}; "
               f"{result['runtime']}); {plural(len(problems), 'problem')}"
               + (": " + "; ".join(f"{p['input']}: {p['problem']}" for p in problems) if problems else ""))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Folder for the artifacts.")
@click.option("--peer", "peers", multiple=True, type=click.Path(),
              help="An ONNX peer model (Silent-Face MiniFASNet) to score on the same test crops "
                   "for the model card; repeatable.")
@click.option("--web/--no-web", default=True, show_default=True,
              help="Also write OUT/web: the model's liveness page (antispoof serve OUT/web).")
def export(run_dir, out, peers, web):
    """A build's artifacts for apps: the int8 model, a MediaPipe Tasks ImageClassifier variant
    with TFLite metadata, labels.txt, model.json, MODEL_CARD.md and the web page (web/). For a
    server-model run (train --arch efficientnet-b0): a SavedModel and a float16 .tflite."""
    from antispoof.pipeline.export import export as run
    from antispoof.pipeline.export import export_server, is_server_run

    if is_server_run(run_dir):
        names = export_server(run_dir, out)
    else:
        names = run(run_dir, out, peers=peers)
    for name in names:
        click.echo(f"{out}/{name}")
    if web and not is_server_run(run_dir):
        from antispoof.core.rundir import ExportDir
        from antispoof.pipeline.web import write_web

        click.echo(f"{write_web(Path(out) / ExportDir.CONTRACT, Path(out) / WEB_FOLDER)}/ "
                   f"(antispoof serve {Path(out) / WEB_FOLDER})")


WEB_FOLDER = "web"  # export's page, beside the artifacts


@main.command()
@click.option("--model", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A model.json of exported artifacts (default: the shipped model's).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for the page (replaced when the new one is complete).")
def web(model, out):
    """The liveness web page of a model: camera → BlazeFace → face crop → the int8 model in
    LiteRT.js, as a static folder that works offline from any static file server."""
    from antispoof.pipeline.web import write_shipped_web, write_web

    folder = write_web(model, out) if model else write_shipped_web(out)
    click.echo(f"{folder}/ (antispoof serve {folder})")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--verbose", is_flag=True, help="Log each request.")
def serve(folder, port, verbose):
    """Serve a web page folder (antispoof web, export) on 127.0.0.1, cross-origin isolated so
    that the model may use several threads; Ctrl-C stops."""
    from antispoof.pipeline.web import page_server

    server = page_server(folder, port, verbose=verbose)
    click.echo(f"http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command()
@click.option("--model", type=click.Path(), default=None,
              help="Default: the shipped model (models/antispoof_int8.tflite).")
@click.option("--data", "data_dir", type=click.Path(), default=None,
              help="A NUAA folder: classify a few of its test crops (printed photographs).")
@click.option("--webcam", "webcam_dir", type=click.Path(), default=None,
              help="A webcam-multi folder: classify a few crops of its held-out sources "
                   "(screen replays).")
@_threads
def demo(model, data_dir, webcam_dir, threads):
    """Benchmark the shipped model; with --data and --webcam, classify a few test crops of
    NUAA's printed photographs and webcam-multi's screen replays."""
    from antispoof.core.shipped import DEFAULT_MODEL
    from antispoof.pipeline.demo import demo as run

    run(model or DEFAULT_MODEL, data_dir, threads=threads, webcam=webcam_dir)


if __name__ == "__main__":
    main()
