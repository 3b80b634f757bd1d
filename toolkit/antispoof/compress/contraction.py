"""Contraction: keep the most useful filters of a pretrained MobileNetV2 and their weights.

MobileNetV2's channels fall into groups that must be cut together:

* ``stem``: Conv1's filters, which block 0's depthwise filters follow;
* ``expand{i}``: block i's expansion 1×1 outputs, which its depthwise filters and the
  input of its projection follow;
* ``stage{k}``: the projection outputs of every block in a stage, tied by the residual
  adds, which the next blocks' expansion inputs follow;
* ``last``: the final 1×1 conv (1280 channels).

Each group keeps the channels its criterion ranks highest, in their original order, and
every layer takes the matching slices of the pretrained kernels and BatchNorm parameters.
The contracted network is built flat with the Keras layer names, so a width-1.0
contraction is the original network, layer for layer.
"""
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import tf_keras as keras

from antispoof.compress.budget import search_widths
from antispoof.compress.config import CONTRACTION, CRITERIA
from antispoof.core.errors import AntispoofError
from antispoof.core.files import atomic_path, cache_folder, read_json, write_json
from antispoof.data.loading import calibration_crops
from antispoof.models.mobilenet_v2 import (BN, load_full, mobilenet_v2, normalized_input,
                                           source_alpha)
from antispoof.models.specs import DEFAULT_ARCH, DEFAULT_HEAD, DEFAULT_INPUT_SIZE
from antispoof.models.weights import resolve_weights
from antispoof.models.widths import (LAST_FILTERS, STAGE_OF_BLOCK, Widths, describe,
                                     from_description, summarize)

log = logging.getLogger("antispoof")

CACHE_ENTRIES = 8  # contractions kept in the user's cache, the most recently used


# ----------------------------------------------------------------------------- channel groups

def _layer_groups():
    """For each conv/BN layer of the full network: (output group, input group) it is sliced by.

    Depthwise convs and their BN follow their input group; 1×1 convs have both.
    """
    layers = {"Conv1": ("stem", None), "bn_Conv1": ("stem", None),
              "expanded_conv_depthwise": ("stem", "stem"), "expanded_conv_depthwise_BN": ("stem", None),
              "expanded_conv_project": ("stage0", "stem"), "expanded_conv_project_BN": ("stage0", None)}
    for i in range(1, 17):
        p, e = f"block_{i}_", f"expand{i}"
        source = f"stage{STAGE_OF_BLOCK[i - 1]}"
        layers.update({p + "expand": (e, source), p + "expand_BN": (e, None),
                       p + "depthwise": (e, e), p + "depthwise_BN": (e, None),
                       p + "project": (f"stage{STAGE_OF_BLOCK[i]}", e),
                       p + "project_BN": (f"stage{STAGE_OF_BLOCK[i]}", None)})
    layers.update({"Conv_1": ("last", "stage6"), "Conv_1_bn": ("last", None)})
    return layers


def _producers(group_layers):
    """Per group, the BN layers that write its channels (the score is read there)."""
    producers = {}
    for name, (out_group, _) in group_layers.items():
        if name.endswith(("_BN", "_bn", "bn_Conv1")) and "depthwise" not in name:
            producers.setdefault(out_group, []).append(name)
    return producers


def channel_scores(full, criterion, calibration=None):
    """Importance of every channel of every group of the full network, by ``criterion``."""
    if criterion not in CRITERIA:
        raise AntispoofError(f"unknown criterion {criterion!r}: choose one of {', '.join(CRITERIA)}")
    producers = _producers(_layer_groups())
    if criterion == "activation":
        if calibration is None or not len(calibration):
            raise AntispoofError("--criterion activation needs --calibration-data with images")
        names = [n for members in producers.values() for n in members]
        probe = keras.Model(full.input, [full.get_layer(n).output for n in names])
        sums = [0.0] * len(names)
        for start in range(0, len(calibration), 32):
            outputs = probe(calibration[start:start + 32].astype(np.float32), training=False)
            sums = [s + np.abs(o.numpy()).mean(axis=(1, 2)).sum(0) for s, o in zip(sums, outputs)]
        per_layer = dict(zip(names, sums))
    else:
        per_layer = {}
        for members in producers.values():
            for bn_name in members:
                if criterion == "bn-gamma":
                    gamma, _, _, var = full.get_layer(bn_name).get_weights()
                    per_layer[bn_name] = np.abs(gamma) / np.sqrt(var + BN["epsilon"])
                else:  # l1 of the conv filters that feed this BN
                    kernel = full.get_layer(_conv_of(bn_name)).get_weights()[0]
                    per_layer[bn_name] = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(0)
    # members of a tied group each count equally: normalize by their mean before summing
    return {group: sum(per_layer[n] / max(per_layer[n].mean(), 1e-12) for n in members)
            for group, members in producers.items()}


def _conv_of(bn_name):
    return {"bn_Conv1": "Conv1", "Conv_1_bn": "Conv_1"}.get(bn_name, bn_name[:-3])


def select_channels(scores, widths):
    """Indices kept per group: the top-scoring channels, in their original order."""
    kept = {}
    for group, count in widths.groups().items():
        ranking = np.argsort(-scores[group], kind="stable")
        if count > len(ranking):
            raise AntispoofError(f"{group}: cannot keep {count} of {len(ranking)} channels")
        kept[group] = np.sort(ranking[:count])
    return kept


def transfer_weights(full, contracted, kept):
    """Copy the kept slices of every pretrained conv and BatchNorm into the contracted net."""
    groups = _layer_groups()
    for layer in contracted.layers:
        if layer.name not in groups or not layer.weights:
            continue
        out_group, in_group = groups[layer.name]
        weights = full.get_layer(layer.name).get_weights()
        out_idx = kept[out_group]
        if isinstance(layer, keras.layers.BatchNormalization):
            sliced = [w[out_idx] for w in weights]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            sliced = [weights[0][:, :, out_idx, :]]
        else:
            kernel = weights[0][..., out_idx]
            sliced = [kernel[:, :, kept[in_group], :] if in_group else kernel]
        layer.set_weights(sliced)


def recalibrate_batchnorm(full, contracted, kept, calibration):
    """Make each contracted BN layer give its channels the output statistics they had in the
    full network on ``calibration`` crops.

    Dropping input channels shrinks every conv's output; with BatchNorm frozen for fine-tuning
    nothing would correct that. Layers are fixed in graph order, so each sees its corrected inputs.
    """
    groups = _layer_groups()
    batchnorms = [l for l in contracted.layers if isinstance(l, keras.layers.BatchNormalization)]
    pixels = calibration.astype(np.float32)

    def input_stats(model, names):
        probe = keras.Model(model.input, [model.get_layer(n).input for n in names])
        outputs = probe.predict(pixels, batch_size=64, verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        return [(o.mean(axis=(0, 1, 2)), o.std(axis=(0, 1, 2))) for o in outputs]

    reference = dict(zip([l.name for l in batchnorms], input_stats(full, [l.name for l in batchnorms])))
    for layer in batchnorms:
        gamma, beta, mean, var = layer.get_weights()
        idx = kept[groups[layer.name][0]]
        ref_mean, ref_std = reference[layer.name][0][idx], reference[layer.name][1][idx]
        (new_mean, new_std), = input_stats(contracted, [layer.name])
        scale = gamma / np.sqrt(var + layer.epsilon)
        new_std = np.maximum(new_std, 1e-6)
        layer.set_weights([scale * ref_std, scale * (ref_mean - mean) + beta, new_mean,
                           np.maximum(new_std ** 2 - layer.epsilon, 0.0)])


def contract_backbone(weights, widths, input_size=DEFAULT_INPUT_SIZE, criterion=CONTRACTION.criterion,
                      calibration=None,
                      recalibrate=True):
    """(image input, contracted features tensor, kept indices): a flat pretrained backbone."""

    full = load_full(weights, input_size)
    kept = select_channels(channel_scores(full, criterion, calibration), widths)
    image, normalized = normalized_input(input_size)
    features = mobilenet_v2(normalized, widths)
    contracted = keras.Model(image, features)
    transfer_weights(full, contracted, kept)
    if calibration is not None and recalibrate:
        recalibrate_batchnorm(full, contracted, kept, calibration)
    return image, features, kept


def contract(weights, out, width=None, budget_kb=None, input_size=DEFAULT_INPUT_SIZE, criterion=CONTRACTION.criterion,
             calibration_dir=None, head=DEFAULT_HEAD, blocks=CONTRACTION.blocks, tap="output", last=LAST_FILTERS,
             recalibrate=True, protocol=None):
    """Contract the width-1.0 network to ``width`` (or to fit ``budget_kb`` with ``head``).

    Writes the flat backbone (image → features) to ``out`` and, beside it, ``<out>.json``
    with the widths, the criterion and the kept channel indices; returns ``out``. A contraction
    is kept in the user's cache (``contraction_cache``): the same weights, calibration crops
    and settings again (every seed of a recipe) copy it instead of searching and contracting.
    """

    if (width is None) == (budget_kb is None):
        raise AntispoofError("give exactly one of --width and --budget-kb")
    weights = resolve_weights(weights, DEFAULT_ARCH, 1.0)  # "imagenet": the file, before any work
    calibration = None
    if calibration_dir or criterion == "activation":
        if not calibration_dir:
            raise AntispoofError("--criterion activation needs a --calibration-data folder")
        calibration = calibration_crops(calibration_dir, input_size, protocol=protocol)
    else:
        log.warning("warning: no --calibration-data: BatchNorm statistics are not recalibrated "
                    "after contraction, which slows fine-tuning")
    cached = contraction_cache(weights, calibration, {
        "width": width, "budget_kb": budget_kb, "input_size": input_size, "criterion": criterion,
        "head": head, "blocks": blocks, "tap": tap, "last": last, "recalibrate": recalibrate})
    meta = cached.with_suffix(".json")
    if cached.is_file() and meta.is_file():
        os.utime(cached)  # recently used: the last to be pruned
        described = read_json(meta)
        log.info("contract: chose %s, from the cache (%s)",
                 summarize(from_description(described["widths"])), cached)
        with atomic_path(out, suffix=".keras") as tmp:
            shutil.copyfile(cached, tmp)
        write_json(Path(out).with_suffix(".json"), {**described, "weights": str(weights)})
        return Path(out)
    if budget_kb is not None:
        widths, size = search_widths(int(budget_kb * 1024), head, input_size,
                                     max_alpha=source_alpha(weights))
        log.info("contract: chose %s (%d bytes as int8 with the %s head)", summarize(widths), size, head)
    else:
        widths = Widths.uniform(width, blocks, last, tap)
    image, features, kept = contract_backbone(weights, widths, input_size, criterion, calibration,
                                              recalibrate)
    model = keras.Model(image, features, name="contracted_mobilenet_v2")
    with atomic_path(out, suffix=".keras") as tmp:
        model.save(tmp)
    described = {"weights": str(weights), "criterion": criterion, "widths": describe(widths),
                 "parameters": int(model.count_params()),
                 "kept": {group: idx.tolist() for group, idx in kept.items()}}
    write_json(Path(out).with_suffix(".json"), described)
    with atomic_path(cached, suffix=".keras") as tmp:  # the model first: a hit needs both
        shutil.copyfile(out, tmp)
    write_json(meta, described)
    prune_cache(cached.parent)
    log.info("contract: wrote %s (%d parameters)", out, model.count_params())
    return Path(out)


def prune_cache(folder, keep=CACHE_ENTRIES):
    """The ``keep`` most recently used contractions of the cache stay; older ones go (each a
    ~0.44 MB model and its record; every change of the package's source makes new ones)."""
    entries = sorted(folder.glob("*.keras"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.with_suffix(".json").unlink(missing_ok=True)  # the record first: a hit needs both
        stale.unlink(missing_ok=True)


def contraction_cache(weights, calibration, settings):
    """The cache file of a contraction, keyed by the weights file's bytes, the calibration crops,
    the settings and the package's own source (a changed contraction misses)."""
    key = hashlib.sha256(Path(weights).read_bytes())
    key.update(json.dumps(settings, sort_keys=True).encode())
    if calibration is not None:
        key.update(f"{calibration.shape} {calibration.dtype}".encode())
        key.update(np.ascontiguousarray(calibration).tobytes())
    for source in sorted(Path(__file__).parents[1].rglob("*.py")):  # the antispoof package
        key.update(source.read_bytes())
    return cache_folder("contractions") / f"{key.hexdigest()[:24]}.keras"
