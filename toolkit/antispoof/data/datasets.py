"""Face-crop datasets: discovery, the subject-held-out protocol, decoding (the tf.data training
stream over decoded crops is ``antispoof.data.stream``).

Two layouts are read:

* a folder per class (``DIR/real/**``, ``DIR/spoof/**``), the subject being the
  first folder level under the class or what ``subject_regex`` extracts;
* any layout that a ``protocol.json`` describes, such as NUAA's
  ``ClientFace/<subject>/`` and ``ImposterFace/<subject>/``.

Labels: 0 = real (bona fide), 1 = spoof (attack). Subjects never cross splits.
"""
import csv
import hashlib
import logging
import os
import random
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from antispoof.core.console import progress
from antispoof.core.model_contract import CROP_SCALE, LABELS
from antispoof.core.errors import AntispoofError
from antispoof.core.files import read_json
from antispoof.data.images import IMAGE_SUFFIXES, load_face_crop

log = logging.getLogger("antispoof")

SPLITS = ("train", "dev", "test")
PROTOCOL_FILE = "protocol.json"  # a dataset folder's splits (and, from prepare, its sources)
MANIFEST_FILE = "manifest.csv"  # one row per crop: label, subject, attack, source, licence
PREPARE_FILE = "prepare.json"  # what ``antispoof prepare`` did, with its options (crop scale)
ALL = "all"  # every image of a folder, whatever its protocol says
# How the train split weighs the sources (subjects) of a dataset: "size", each crop once (the
# largest sources give most of the stream); "source", each source an equal share of its
# dataset's train crops (its crops repeated, or a seeded subset kept), the dataset's total kept.
BALANCES = ("size", "source")


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    subject: str
    attack: str = ""  # attack type of a spoof (protocol's attack_types, else its class folder)
    dataset: str = ""  # which dataset of a multi-dataset run it comes from


@dataclass
class Protocol:
    """Which folder holds each class and which subjects form the dev and test splits."""

    name: str
    classes: dict = field(default_factory=lambda: {"real": "real", "spoof": "spoof"})
    test: tuple = ()
    dev: tuple = ()
    attack_types: dict = field(default_factory=dict)  # class folder -> attack type

    def split_of(self, subject):
        if subject in self.test:
            return "test"
        if subject in self.dev:
            return "dev"
        return "train"

    @classmethod
    def load(cls, path):
        path = Path(path)
        try:
            raw = read_json(path)
            splits = raw["splits"]
            return cls(
                name=raw.get("name", path.stem),
                classes=raw.get("classes", {"real": "real", "spoof": "spoof"}),
                test=tuple(splits["test"]),
                dev=tuple(splits["dev"]),
                attack_types=raw.get("attack_types", {}),
            )
        except FileNotFoundError:
            raise AntispoofError(f"{path}: protocol file not found") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise AntispoofError(f"{path}: not a valid protocol file ({exc})") from None


@dataclass
class Images:
    """Decoded crops of one split, and the files that could not be decoded."""

    pixels: np.ndarray  # N×S×S×3 uint8 RGB
    labels: np.ndarray  # N int32
    samples: list
    skipped: list  # [(path, reason)]

    @property
    def counts(self):
        return {"real": int((self.labels == 0).sum()), "spoof": int((self.labels == 1).sum())}

    @cached_property
    def content_keys(self):
        """Each crop file's ``content_key``, in order: the files read once per split, however
        many teachers score it."""
        return [content_key(s.path) for s in self.samples]


def content_key(path):
    """A crop file's content digest: the same crop copied elsewhere has the same key."""
    with open(path, "rb") as f:
        return hashlib.blake2b(f.read(), digest_size=16).hexdigest()


class FaceDataset:
    """A folder of face crops and the protocol that splits it by subject."""

    def __init__(self, root, protocol=None, subject_regex=None, seed=0):
        self.root = Path(root)
        if self.root.is_file():
            raise AntispoofError(f"{self.root}: a file, not a dataset folder (real/ and spoof/ per "
                                 "subject, or a protocol.json layout)")
        if not self.root.is_dir():
            raise AntispoofError(f"{self.root}: data folder not found")
        if protocol is None and (self.root / PROTOCOL_FILE).exists():
            protocol = self.root / PROTOCOL_FILE
        given = Protocol.load(protocol) if protocol else None
        self.samples = _discover(self.root, given or Protocol("auto"), subject_regex)
        self.protocol = given or _auto_protocol(self.samples, seed)

    @property
    def subjects(self):
        return sorted({s.subject for s in self.samples})

    def split(self, name, limit=None, seed=0, balance=BALANCES[0]):
        """The samples of one split (``"all"``: every sample); ``limit`` keeps a seeded random
        subset of that size; ``balance`` (the train split only): see BALANCES."""
        if name not in SPLITS + (ALL,):
            raise AntispoofError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)} or {ALL}")
        samples = [s for s in self.samples if name == ALL or self.protocol.split_of(s.subject) == name]
        if name == "train" and balance == "source":
            samples = balanced_by_source(samples, seed)
        if limit is not None and len(samples) > limit:
            samples = sorted(random.Random(seed).sample(samples, limit), key=lambda s: s.path)
        present = {s.label for s in samples}
        for label, class_name in enumerate(LABELS):
            if label not in present:
                raise AntispoofError(
                    f"{self.root}: the {name} split has no {class_name} images "
                    f"(protocol {self.protocol.name!r})")
        return samples

    def load(self, name, size, limit=None, seed=0, workers=4, balance=BALANCES[0]):
        return load_images(self.split(name, limit, seed, balance), size, workers)

    def check(self):
        """Raise, in one line, unless every split holds both classes (before any long job)."""
        for name in SPLITS:
            self.split(name)


def data_sources(data):
    """The dataset entries [{"data", "protocol", "weight"}] of a multi-dataset ``data`` (a list
    of entries, or a JSON file listing them under "datasets"), or None for one dataset folder."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix != ".json" or not path.is_file():
            return None
        try:
            entries = read_json(path)["datasets"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AntispoofError(f"{path}: not a multi-dataset file ({exc})") from None
        resolve = lambda p: p and str(path.parent / p)  # noqa: E731  relative to the file
        data = [{**e, "data": resolve(e.get("data")), "protocol": resolve(e.get("protocol"))}
                for e in entries]
    entries = [{"data": str(e["data"]), "protocol": e.get("protocol") and str(e["protocol"]),
                "weight": e.get("weight")} for e in data]
    if not entries:
        raise AntispoofError("no dataset given")
    return entries


def describe_data(data):
    """``data`` as JSON: a folder's path, or the list of dataset entries."""
    sources = data_sources(data)
    return sources if sources is not None else str(data)


def crop_scale(data):
    """The crop scale of ``data``'s crops: the one ``antispoof prepare`` recorded in each
    dataset's ``prepare.json``, else CROP_SCALE; several datasets must agree."""
    folders = [s["data"] for s in data_sources(data) or [{"data": data}]]
    scales = {}
    for folder in map(Path, folders):
        record = folder / PREPARE_FILE
        scales[folder] = (read_json(record).get("options", {}).get("crop_scale", CROP_SCALE)
                          if record.is_file() else CROP_SCALE)
    if len(set(scales.values())) > 1:
        raise AntispoofError("the datasets' crops were cut at different scales ("
                             + ", ".join(f"{f}: {v}" for f, v in scales.items())
                             + "); prepare them with one --crop-scale")
    return next(iter(scales.values()))


class MultiDataset(FaceDataset):
    """Several crop datasets as one: each split is the union of theirs (subjects are prefixed
    with their dataset's name), each dataset keeping its own protocol. With weights, the train
    split is resampled so that dataset *i* gives a share wᵢ / Σw of its crops."""

    def __init__(self, sources, subject_regex=None, seed=0):
        names, self.parts, self.samples = [], [], []
        test, dev = [], []
        for entry in sources:
            part = FaceDataset(entry["data"], entry["protocol"], subject_regex, seed)
            name = part.root.name if part.root.name not in names else f"{part.root.name}-{len(names)}"
            names.append(name)
            self.parts.append((name, part, entry["weight"]))
            self.samples += [Sample(s.path, s.label, f"{name}/{s.subject}", s.attack, name)
                             for s in part.samples]
            test += [f"{name}/{s}" for s in part.protocol.test]
            dev += [f"{name}/{s}" for s in part.protocol.dev]
        self.root = Path("+".join(names))
        self.protocol = Protocol("+".join(part.protocol.name for _, part, _ in self.parts),
                                 test=tuple(test), dev=tuple(dev))
        weights = [w for _, _, w in self.parts]
        if any(w is not None for w in weights) and (None in weights or min(weights) < 0 or
                                                     sum(weights) <= 0):
            raise AntispoofError("dataset weights: give one non-negative weight per dataset, "
                                 "not all zero")
        self.weights = weights if None not in weights else None

    @property
    def names(self):
        return [name for name, _, _ in self.parts]

    def split(self, name, limit=None, seed=0, balance=BALANCES[0]):
        samples = super().split(name, None, seed, balance)  # sources within each dataset first
        if name == "train" and self.weights:
            rng, total, resampled = random.Random(seed), len(samples), []
            for dataset, weight in zip(self.names, self.weights):
                mine = [s for s in samples if s.dataset == dataset]
                want = round(total * weight / sum(self.weights))
                copies, extra = divmod(want, len(mine)) if mine else (0, 0)
                resampled += mine * copies + rng.sample(mine, extra)
            samples = sorted(resampled, key=lambda s: s.path)
        if limit is not None and len(samples) > limit:
            samples = sorted(random.Random(seed).sample(samples, limit), key=lambda s: s.path)
        return samples


def balanced_by_source(samples, seed):
    """``samples`` resampled so that within each dataset every source (subject) gives an equal
    share of that dataset's crops, the dataset's total kept: a small source's crops repeat, a
    large one's are a seeded subset."""
    datasets = {}
    for s in samples:
        datasets.setdefault(s.dataset, {}).setdefault(s.subject, []).append(s)
    rng, out = random.Random(seed), []
    for dataset in sorted(datasets):
        sources = datasets[dataset]
        total = sum(len(crops) for crops in sources.values())
        share, more = divmod(total, len(sources))
        for k, subject in enumerate(sorted(sources)):
            crops = sorted(sources[subject], key=lambda s: s.path)
            copies, extra = divmod(share + (k < more), len(crops))
            out += crops * copies + rng.sample(crops, extra)
    return sorted(out, key=lambda s: s.path)


def _discover(root, protocol, subject_regex):
    pattern = re.compile(subject_regex) if subject_regex else None
    attacks = _manifest_attacks(root)
    samples = []
    for label, class_name in enumerate(LABELS):
        folder = protocol.classes[class_name]
        class_dir = root / folder
        attack = protocol.attack_types.get(folder, folder) if label else ""
        if not class_dir.is_dir():
            raise AntispoofError(f"{class_dir}: class folder for {class_name!r} not found")
        files = sorted(p for p in _walk(class_dir) if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise AntispoofError(f"{class_dir}: no images in the {class_name!r} class folder")
        for path in files:
            samples.append(Sample(str(path), label, _subject(path.relative_to(class_dir), pattern),
                                  attacks.get(path.relative_to(root).as_posix(), attack)
                                  if label else ""))
    flat = [s for s in samples if s.subject == Path(s.path).name]
    if flat and pattern is None:
        log.warning("warning: %d images sit directly in a class folder of %s; each counts as its "
                    "own subject. Put them in per-subject folders or pass --subject-regex.",
                    len(flat), root)
    return samples


def _walk(folder):
    """Every file under ``folder``, following symbolic links to folders (a dataset assembled
    from links to other datasets' folders reads like a real one)."""
    for parent, _, names in os.walk(folder, followlinks=True):
        for name in names:
            yield Path(parent) / name


def read_manifest(root):
    """The rows of a dataset folder's ``manifest.csv`` (what ``antispoof prepare`` writes: one
    per crop, its ``file`` relative to the folder), as dicts; [] without one."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _manifest_attacks(root):
    """file (relative to root) -> attack type, from a manifest with those columns; empty
    without one."""
    rows = read_manifest(root)
    if rows and not {"file", "attack"} <= set(rows[0]):
        raise AntispoofError(f"{Path(root) / MANIFEST_FILE}: a manifest needs the columns file and "
                             "attack")
    return {row["file"]: row["attack"] for row in rows if row["attack"]}


def _subject(relative, pattern):
    if pattern is None:
        return relative.parts[0]
    match = pattern.search(str(relative))
    if not match:
        raise AntispoofError(f"{relative}: --subject-regex {pattern.pattern!r} does not match")
    return match.group(1) if match.groups() else match.group(0)


def _auto_protocol(samples, seed):
    subjects = sorted({s.subject for s in samples})
    if len(subjects) < 3:
        raise AntispoofError(
            f"{Path(samples[0].path).parents[1]}: {len(subjects)} subject(s) found; a subject-held-out "
            "split needs at least 3 (use per-subject folders, --subject-regex or --protocol)")
    test, dev = hold_out(subjects, seed)
    return Protocol(f"auto-seed{seed}", test=test, dev=dev)


def hold_out(subjects, seed, test_share=0.2):
    """(test, dev) subjects: ``test_share`` of them for test (none when 0), 20 % of the rest
    for dev; at least one each."""
    subjects = sorted(subjects)
    random.Random(seed).shuffle(subjects)
    n_test = max(1, round(test_share * len(subjects))) if test_share else 0
    n_dev = max(1, round(0.2 * (len(subjects) - n_test)))
    return tuple(sorted(subjects[:n_test])), tuple(sorted(subjects[n_test:n_test + n_dev]))


def load_images(samples, size, workers=4, keep=True):
    """Decode crops in parallel; undecodable files are skipped with a warning that names them.

    A build reads the same crops several times (the train split for training and quantization,
    as --balance made it; the other splits for evaluation, parity, report): the last few
    decodings are kept, read-only, and a crop one of them holds at ``size`` is taken from it, so
    each file is decoded and warned about once (a crop repeated within ``samples`` too);
    ``keep=False`` keeps none (a pass over crops that are read once, in chunks).
    """
    samples = tuple(samples)
    if not keep:
        return _decode(samples, size, workers, {})
    key = (samples, size)
    if key not in _KEPT:
        _KEPT[key] = _decode(samples, size, workers, _kept_crops(size))
        while len(_KEPT) > KEEP_DECODINGS:
            _KEPT.popitem(last=False)
    _KEPT.move_to_end(key)
    return _KEPT[key]


KEEP_DECODINGS = 6
_KEPT = OrderedDict()  # (samples, size) -> Images, the newest last


def _kept_crops(size):
    """file -> its crop at ``size`` (None: undecodable) in the kept decodings."""
    known = {}
    for (_, kept_size), images in _KEPT.items():
        if kept_size == size:
            known.update((path, None) for path, _ in images.skipped)
            known.update((s.path, pixels) for s, pixels in zip(images.samples, images.pixels))
    return known


def _decode(samples, size, workers, known):
    files = list(dict.fromkeys(s.path for s in samples if s.path not in known))
    with ThreadPoolExecutor(workers) as pool:
        crops = dict(zip(files, progress(pool.map(lambda f: load_face_crop(f, size), files, chunksize=64),
                                         total=len(files), desc="reading crops", unit="crop")))
    for file in files:
        if crops[file] is None:
            log.warning("warning: skipped %s: cannot decode image", file)
    crops = {**known, **crops}
    kept = [s for s in samples if crops[s.path] is not None]
    skipped = [(f, "cannot decode image") for f in dict.fromkeys(s.path for s in samples)
               if crops[f] is None]
    if not kept:
        raise AntispoofError("no decodable image among %d files (first: %s)"
                             % (len(samples), samples[0].path if samples else "none"))
    labels = np.array([s.label for s in kept], dtype=np.int32)
    pixels = np.stack([crops[s.path] for s in kept])
    pixels.flags.writeable = labels.flags.writeable = False
    return Images(pixels, labels, kept, skipped)
