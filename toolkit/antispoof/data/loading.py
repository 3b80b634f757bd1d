"""Opening data by what it is: a folder of crops, a packed dataset (``pack.json``) or several
datasets as one; and the calibration crops quantization and contraction read."""
import random
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.data.datasets import FaceDataset, MultiDataset, Sample, data_sources, load_images
from antispoof.data.images import IMAGE_SUFFIXES
from antispoof.data.packing import PACK_FILE, PackedDataset


def open_dataset(root, protocol=None, subject_regex=None, seed=0):
    """A folder of crops (``FaceDataset``), a packed one (``antispoof pack``: ``pack.json``), or
    several datasets as one (``MultiDataset``): a list of ``{"data", "protocol", "weight"}``
    entries, or a JSON file holding such a list under ``"datasets"``."""
    sources = data_sources(root)
    if sources is not None:
        if protocol:
            raise AntispoofError("several datasets: each takes its own protocol (--protocol once "
                                 "per --data), not one for all")
        return MultiDataset(sources, subject_regex, seed)
    if (Path(root) / PACK_FILE).is_file():
        if protocol or subject_regex:
            raise AntispoofError(f"{root}: a packed dataset carries its protocol; drop --protocol "
                                 "and --subject-regex (or pack again with them)")
        return PackedDataset(root)
    return FaceDataset(root, protocol, subject_regex, seed)


def calibration_crops(folder, size, count=256, protocol=None, seed=0):
    """Up to ``count`` crops for calibration: a dataset folder's train split (never dev or
    test), or, for any other folder, its images."""
    try:
        return open_dataset(folder, protocol, seed=seed).load("train", size, limit=count, seed=seed).pixels
    except AntispoofError:
        if protocol is not None or data_sources(folder) is not None or not Path(folder).is_dir():
            raise
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AntispoofError(f"{folder}: no images to calibrate on")
    picks = sorted(random.Random(seed).sample(files, min(count, len(files))))
    return load_images([Sample(str(p), 0, "") for p in picks], size).pixels
