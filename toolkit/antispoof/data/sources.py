"""Dataset adapters: each public anti-spoofing dataset's own naming, read into one list of sources.

A source is one video or one still image, with its label, subject, attack type and, where the
dataset defines one, its official split. Attack types use one vocabulary across datasets:
``print``, ``replay_screen``, ``mask`` (paper or cloth), ``mask_3d``, or ``spoof`` when a
dataset does not say.
"""
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.core.model_contract import LABELS
from antispoof.core.files import read_json
from antispoof.data.images import IMAGE_SUFFIXES

log = logging.getLogger("antispoof")

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".3gp")


@dataclass(frozen=True)
class Source:
    path: Path
    label: int  # 0 real, 1 spoof
    subject: str
    attack: str = ""  # "" for real
    split: str = ""  # the dataset's official split: train, dev, test; "" if it has none

    @property
    def is_video(self):
        return self.path.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Listing:
    root: Path
    sources: list
    rejected: list  # [(path, reason)]: files the adapter could not use
    crops: bool = False  # the images are face crops already (detection optional)


def _media(root):
    return sorted(p for p in Path(root).rglob("*")
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES)


def _others(root, used):
    used = {s.path for s in used}
    return [(str(p), "not a file this format uses") for p in sorted(Path(root).rglob("*"))
            if p.is_file() and p not in used and not p.name.startswith(".")
            and p.suffix.lower() not in (".txt", ".json", ".csv", ".md")]


# ROSE-Youtu: [<ID>_]<L>_<S>_<D>_<x>_<E>_<p>_<N>, L the attack code, p the subject
ROSE_ATTACKS = {"G": "", "Ps": "print", "Pq": "print", "Vl": "replay_screen", "Vm": "replay_screen",
                "Mc": "mask", "Mf": "mask", "Mu": "mask", "Ml": "mask"}


def rose_youtu(root):
    sources = []
    for path in _media(root):
        tokens = path.stem.split("_")
        code = next((i for i, t in enumerate(tokens[:2]) if t in ROSE_ATTACKS), None)
        if code is None or len(tokens) < code + 7 or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        split = "test" if "test" in path.parts else "train"
        sources.append(Source(path, int(tokens[code] != "G"), tokens[code + 5],
                              ROSE_ATTACKS[tokens[code]], split))
    return Listing(Path(root), sources, _others(root, sources))


# Replay-Attack: {train,devel,test}/{real,attack/fixed,attack/hand}/..., client<id> in the name
REPLAY_SPLITS = {"train": "train", "devel": "dev", "test": "test"}


def replay_attack(root):
    root, sources = Path(root), []
    for path in _media(root):
        parts = path.relative_to(root).parts
        client = re.search(r"client(\d+)", path.name)
        if parts[0] not in REPLAY_SPLITS or client is None or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        spoof = "attack" in parts[1:-1]
        attack = ("print" if "print" in path.name else "replay_screen") if spoof else ""
        sources.append(Source(path, int(spoof), client.group(1), attack, REPLAY_SPLITS[parts[0]]))
    return Listing(Path(root), sources, _others(root, sources))


# OULU-NPU: Phone_Session_User_File; file 1 real, 2-3 print, 4-5 replay; users 1-20 train,
# 21-35 dev, 36-55 test
OULU_NAME = re.compile(r"^(\d)_(\d)_(\d{2})_(\d)$")
OULU_ATTACKS = {1: "", 2: "print", 3: "print", 4: "replay_screen", 5: "replay_screen"}


def oulu_split(user):
    return "train" if user <= 20 else "dev" if user <= 35 else "test"


def oulu_npu(root):
    sources = []
    for path in _media(root):
        match = OULU_NAME.match(path.stem)
        if not match or int(match.group(4)) not in OULU_ATTACKS or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        user, kind = int(match.group(3)), int(match.group(4))
        sources.append(Source(path, int(kind != 1), f"{user:02d}", OULU_ATTACKS[kind], oulu_split(user)))
    return Listing(Path(root), sources, _others(root, sources))


# CelebA-Spoof: metas/intra_test/{train,test}_label.json map "Data/<split>/<id>/<live|spoof>/x.jpg"
# to 44 labels; index 40 is the spoof type, 43 live (0) or spoof (1)
CELEBA_ATTACKS = {0: "", 1: "print", 2: "print", 3: "print", 4: "mask", 5: "mask", 6: "mask",
                  7: "replay_screen", 8: "replay_screen", 9: "replay_screen", 10: "mask_3d"}


def celeba_spoof(root):
    root = Path(root)
    lists = sorted((root / "metas" / "intra_test").glob("*_label.json"))
    if not lists:
        raise AntispoofError(f"{root}: CelebA-Spoof label lists metas/intra_test/*_label.json not found")
    sources, rejected = [], []
    for listing in lists:
        split = "test" if listing.name.startswith("test") else "train"
        for relative, labels in sorted(read_json(listing).items()):
            path = root / relative
            if not path.is_file():
                rejected.append((str(path), f"listed in {listing.name} but missing"))
                continue
            parts = Path(relative).parts
            sources.append(Source(path, int(labels[43]), parts[-3], CELEBA_ATTACKS.get(labels[40], "spoof")
                                  if labels[43] else "", split))
    return Listing(root, sources, rejected)


def nuaa(root):
    root, sources = Path(root), []
    for label, folder in enumerate(("ClientFace", "ImposterFace")):
        for path in _media(root / folder):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                sources.append(Source(path, label, path.relative_to(root / folder).parts[0],
                                      "print" if label else ""))
    return Listing(root, sources, _others(root, sources), crops=True)


def folders(root):
    """``real/`` and ``spoof/`` trees of images or videos; the subject is the first sub-folder."""
    root, sources = Path(root), []
    for label, folder in enumerate(("real", "spoof")):
        if not (root / folder).is_dir():
            raise AntispoofError(f"{root / folder}: class folder not found (folders layout: real/, spoof/)")
        for path in _media(root / folder):
            relative = path.relative_to(root / folder)
            subject = relative.parts[0] if len(relative.parts) > 1 else path.stem
            sources.append(Source(path, label, subject, "spoof" if label else ""))
    return Listing(Path(root), sources, _others(root, sources))


ADAPTERS = {"rose-youtu": rose_youtu, "replay-attack": replay_attack, "oulu-npu": oulu_npu,
            "celeba-spoof": celeba_spoof, "nuaa": nuaa, "folders": folders}


def detect_format(root):
    root = Path(root)
    if (root / "ClientFace").is_dir() and (root / "ImposterFace").is_dir():
        return "nuaa"
    if (root / "metas").is_dir():
        return "celeba-spoof"
    if (root / "devel").is_dir() and (root / "train").is_dir():
        return "replay-attack"
    if (root / "real").is_dir() and (root / "spoof").is_dir():
        return "folders"
    for path in _media(root):
        if OULU_NAME.match(path.stem):
            return "oulu-npu"
        if any(t in ROSE_ATTACKS for t in path.stem.split("_")[:2]):
            return "rose-youtu"
    raise AntispoofError(f"{root}: cannot tell the dataset format; pass --format "
                         f"({', '.join(ADAPTERS)})")


SINGLE = "file"  # the format name of one video or image given alone


def single_source(path, label):
    """One video or image as a dataset of one source, labelled ``label`` (real or spoof); the
    subject is its file name."""
    if path.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise AntispoofError(f"{path}: not a video or image (a dataset is a folder)")
    if label not in LABELS:
        raise AntispoofError(f"{path}: a single video or image needs --label real or spoof")
    spoof = LABELS.index(label)
    return Listing(path.parent, [Source(path, spoof, path.stem, "spoof" if spoof else "")], [])


def list_sources(root, format="auto", label=None):
    """(format name, Listing) of a dataset folder, or of one video or image with ``label``."""
    root = Path(root)
    if root.is_file():
        return SINGLE, single_source(root, label)
    if not root.is_dir():
        raise AntispoofError(f"{root}: source folder not found")
    name = detect_format(root) if format == "auto" else format
    if name not in ADAPTERS:
        raise AntispoofError(f"unknown format {name!r}: choose auto or {', '.join(ADAPTERS)}")
    listing = ADAPTERS[name](root)
    if not listing.sources:
        raise AntispoofError(f"{root}: no videos or images found (format {name})")
    for path, reason in listing.rejected:
        log.warning("warning: skipped %s: %s", path, reason)
    return name, listing
