"""Sharded TFRecord datasets: ``antispoof pack`` writes them, training streams them (TensorFlow
is imported where a shard is read or written, so that opening a dataset folder stays light).

A face-crop folder becomes ``<split>-<i>-of-<n>.tfrecord`` shards (the encoded JPEG, label,
subject, attack type and original file of each crop), split by the dataset's protocol, with
``pack.json`` listing shards, counts and the protocol. Crops are dealt to shards round-robin
after a seeded shuffle, so every shard mixes classes and subjects and workers that read
disjoint shards see the same distribution. Shards are written atomically; a rerun keeps the
finished ones.
"""
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from antispoof.core.console import progress as console_progress
from antispoof.core.model_contract import LABELS
from antispoof.core.errors import AntispoofError
from antispoof.core.files import (atomic_path, claim_folder, read_json, remove_stale_temporaries,
                                  write_json)
from antispoof.data.datasets import FaceDataset, Images, Protocol, SPLITS, Sample
from antispoof.data.stream import jitter
from antispoof.data.images import read_image, to_model_input

log = logging.getLogger("antispoof")

PACK_FILE = "pack.json"
FORMAT = "antispoof-tfrecord-1"
FEATURES = {"image": "JPEG bytes of the crop", "label": "int64: 0 real, 1 spoof",
            "subject": "bytes", "attack": "bytes (empty for real)", "file": "bytes: path in the source"}


def pack(dataset_dir, out_dir, shards=8, protocol=None, subject_regex=None, seed=0, progress=True):
    """Write the dataset's splits as TFRecord shards under ``out_dir``; returns pack.json."""
    if shards < 1:
        raise AntispoofError("--shards must be at least 1")
    dataset = FaceDataset(dataset_dir, protocol, subject_regex, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    claim_folder(out, out / ".shards" / "options.json",
                 {"source": str(Path(dataset_dir).resolve()), "protocol": dataset.protocol.name,
                  "shards": shards, "seed": seed}, "a pack")
    remove_stale_temporaries(out)
    index = {"format": FORMAT, "source": str(Path(dataset_dir).resolve()), "features": FEATURES,
             "protocol": {"name": dataset.protocol.name, "test": list(dataset.protocol.test),
                          "dev": list(dataset.protocol.dev)},
             "seed": seed, "splits": {}, "skipped": []}
    for split in SPLITS:
        samples = [s for s in dataset.samples if dataset.protocol.split_of(s.subject) == split]
        if not samples:
            continue
        random.Random(seed).shuffle(samples)
        count = min(shards, len(samples))
        names = [f"{split}-{i:05d}-of-{count:05d}.tfrecord" for i in range(count)]
        counts = dict.fromkeys(LABELS, 0)
        with console_progress(total=count, desc=f"pack {split}", unit="shard", enabled=progress) as bar:
            for i, name in enumerate(names):  # a bar on a terminal only, no \r into a log
                written, skipped = _write_shard(out / name, samples[i::count], Path(dataset_dir))
                for label in written:
                    counts[LABELS[label]] += 1
                index["skipped"] += skipped
                bar.update()
        index["splits"][split] = {"shards": names, "records": sum(counts.values()), "counts": counts}
    write_json(out / PACK_FILE, index)
    return index


def _write_shard(path, samples, root):
    """Write one shard (unless a finished one is there); returns (labels written, skipped files).
    A finished shard's undecodable files are listed in ``.shards/<shard>.json``, so a rerun
    reports them again."""
    import tensorflow as tf

    companion = path.parent / ".shards" / f"{path.name}.json"
    if path.exists() and companion.exists():
        skipped = read_json(companion)
        bad = {entry["file"] for entry in skipped}
        return [s.label for s in samples if s.path not in bad], skipped
    labels, skipped = [], []
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for sample in samples:
            encoded = _jpeg_bytes(sample.path)
            if encoded is None:
                log.warning("warning: skipped %s: cannot decode image", sample.path)
                skipped.append({"file": sample.path, "reason": "cannot decode image"})
                continue
            writer.write(_example(encoded, sample, root).SerializeToString())
            labels.append(sample.label)
    write_json(companion, skipped)
    return labels, skipped


def _jpeg_bytes(path):
    """The file's bytes if it is a JPEG that decodes, a JPEG re-encoding of any other image that
    decodes, else None."""
    image = read_image(path)
    if image is None:
        return None
    data = Path(path).read_bytes()
    if data[:3] == b"\xff\xd8\xff":
        return data
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def _example(encoded, sample, root):
    import tensorflow as tf

    def raw(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    file = Path(sample.path)
    file = file.relative_to(root) if file.is_relative_to(root) else file
    return tf.train.Example(features=tf.train.Features(feature={
        "image": raw(encoded),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[sample.label])),
        "subject": raw(sample.subject.encode()),
        "attack": raw(sample.attack.encode()),
        "file": raw(file.as_posix().encode()),
    }))


def _parse(serialized):
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
            "subject": tf.io.FixedLenFeature([], tf.string), "attack": tf.io.FixedLenFeature([], tf.string),
            "file": tf.io.FixedLenFeature([], tf.string)}
    return tf.io.parse_single_example(serialized, spec)


def _decode(encoded, size):
    """JPEG bytes → size×size RGB uint8, exactly as a crop file is read (``load_face_crop``)."""
    image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    return to_model_input(image, int(size), bgr=True)


class PackedDataset:
    """A packed dataset read back: the same interface as ``FaceDataset`` (``protocol``,
    ``split``, ``load``) plus ``stream``, which decodes shards on the fly for training."""

    def __init__(self, root):
        self.root = Path(root)
        try:
            self.index = read_json(self.root / PACK_FILE)
            if self.index.get("format") != FORMAT:
                raise ValueError(f"format {self.index.get('format')!r}, expected {FORMAT}")
            p = self.index["protocol"]
            self.protocol = Protocol(p["name"], test=tuple(p["test"]), dev=tuple(p["dev"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AntispoofError(f"{self.root / PACK_FILE}: not a packed dataset index ({exc})") from None

    def shards(self, name):
        if name not in SPLITS:
            raise AntispoofError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)}")
        entry = self.index["splits"].get(name)
        counts = entry["counts"] if entry else dict.fromkeys(LABELS, 0)
        for class_name, count in counts.items():
            if not count:
                raise AntispoofError(f"{self.root}: the {name} split has no {class_name} images "
                                     f"(protocol {self.protocol.name!r})")
        paths = [self.root / shard for shard in entry["shards"]]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise AntispoofError(f"{missing[0]}: shard listed in {PACK_FILE} not found")
        return paths

    def counts(self, name):
        return dict(self.index["splits"][name]["counts"])

    def check(self):
        """Raise, in one line, unless every split holds both classes (before any long job)."""
        for name in SPLITS:
            counts = self.counts(name) if name in self.index["splits"] else {}
            for label in LABELS:
                if not counts.get(label):
                    raise AntispoofError(f"{self.root}: the {name} split has no {label} images")

    def _records(self, name):
        import tensorflow as tf

        ds = tf.data.TFRecordDataset([str(p) for p in self.shards(name)])
        return ds.map(_parse, num_parallel_calls=tf.data.AUTOTUNE)

    def split(self, name, limit=None, seed=0):
        """The split's crops as samples (``path``: the crop's file in the dataset that was packed)."""
        return [sample for sample, _ in self._read(name, limit, seed, images=False)]

    def _read(self, name, limit, seed, images):
        rows = []
        for record in self._records(name).as_numpy_iterator():
            rows.append((Sample(record["file"].decode(), int(record["label"]),
                                record["subject"].decode(), record["attack"].decode()),
                         record["image"] if images else None))
        if limit is not None and len(rows) > limit:
            rows = random.Random(seed).sample(rows, limit)
        return sorted(rows, key=lambda row: row[0].path)

    def load(self, name, size, limit=None, seed=0, workers=4, balance="size"):
        if balance != "size":
            raise AntispoofError(f"{self.root}: --balance {balance} reads crop files; give the "
                                 "unpacked dataset")
        rows = self._read(name, limit, seed, images=True)
        with ThreadPoolExecutor(workers) as pool:
            pixels = np.stack(list(pool.map(lambda row: _decode(row[1], size), rows)))
        labels = np.array([sample.label for sample, _ in rows], np.int32)
        return Images(pixels, labels, [sample for sample, _ in rows], [])

    def stream(self, name, size, batch_size, training, seed=0, shard=(0, 1), class_weight=None,
               augment=False):
        """(float32 crops, float32 labels) batches decoded from the shards as they are read:
        files interleaved and shuffled, then records shuffled and repeated without end, when
        training (an epoch is then a number of steps). ``shard``:
        (index, count) of this input pipeline, which reads every count-th shard file. With
        ``class_weight`` each crop carries its class's weight as a third element; ``augment``
        adds ``jitter`` when training."""
        import tensorflow as tf

        index, count = shard
        paths = [str(p) for p in self.shards(name)][index::count]
        if not paths:
            raise AntispoofError(f"{self.root}: {len(self.shards(name))} {name} shards for {count} "
                                 "input pipelines; pack with --shards of at least the workers")
        files = tf.data.Dataset.from_tensor_slices(paths)
        if training:
            files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = files.interleave(tf.data.TFRecordDataset, cycle_length=4,
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
        if training:
            ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True).repeat()

        def decode(serialized):
            record = _parse(serialized)
            image = tf.numpy_function(lambda e: _decode(e, size), [record["image"]], tf.uint8)
            image = tf.reshape(image, (size, size, 3))
            return image, tf.cast(record["label"], tf.float32)

        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)

        weights = tf.constant([class_weight[c] for c in range(len(LABELS))] if class_weight
                              else [1.0] * len(LABELS), tf.float32)

        def to_float(x, y):
            x = tf.cast(x, tf.float32)
            x = tf.image.random_flip_left_right(x, seed=seed) if training else x
            x = jitter(x, seed) if training and augment else x
            return (x, y, tf.gather(weights, tf.cast(y, tf.int32))) if class_weight else (x, y)

        return ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
