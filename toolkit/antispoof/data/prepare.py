"""Videos and images → a face-crop dataset: ``{real,spoof}/<subject>/<source>_<frame>.jpg``,
``manifest.csv``, ``sources.csv``, ``protocol.json`` and ``prepare.json``.

Each source (one video or image) is a unit of work: its crops are written atomically, then a
part file records its manifest rows; a rerun skips sources with a part file, so an interrupted
run resumes without losing or duplicating crops. The tables are assembled from the parts at
the end, in source order, so they do not depend on the number of workers.
"""
import csv
import io
import logging
import multiprocessing
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from antispoof.core.cluster import map_unordered
from antispoof.core.console import progress
from antispoof.core.model_contract import CROP_SCALE, LABELS
from antispoof.core.errors import AntispoofError
from antispoof.core.files import (atomic_path, claim_folder, read_json, remove_stale_temporaries,
                                  write_bytes, write_json)
from antispoof.data.datasets import MANIFEST_FILE, PREPARE_FILE, PROTOCOL_FILE, hold_out
from antispoof.data.faces import FaceDetector, crop_face, sharpness
from antispoof.data.images import read_image
from antispoof.data.sources import list_sources

log = logging.getLogger("antispoof")

MANIFEST_COLUMNS = ("file", "label", "subject", "attack", "source", "frame", "bbox_xyxy", "score",
                    "sharpness")
SOURCES_FILE = "sources.csv"  # one row per source video or folder: counts and problems
DROPS = ("no_face", "multiple_faces", "small_face", "blurry")
SOURCE_COLUMNS = ("source", "label", "subject", "attack", "split", "frames", "crops", *DROPS, "problem")


@dataclass(frozen=True)
class PrepareOptions:
    every_nth_frame: int = 1
    max_frames_per_video: int = 0  # 0: all
    crop_scale: float = CROP_SCALE
    size: int = 128  # side of the saved crops (models resize to their input)
    min_face: int = 40  # shorter side of the detector's box, frame pixels
    # variance of Laplacian of the saved crop; 0: keep all. At 8, none of 2,000 NUAA crops is
    # dropped (their lowest 0.1 % score 16) while a σ = 1 px blur of a soft NUAA print scores 5
    min_sharpness: float = 8.0
    min_score: float = 0.5  # detector confidence
    detect: bool = None  # None: detect unless the dataset holds face crops already (NUAA)
    jpeg_quality: int = 95

    def __post_init__(self):
        for name in ("every_nth_frame", "size", "jpeg_quality"):
            if getattr(self, name) < 1:
                raise AntispoofError(f"--{name.replace('_', '-')} must be at least 1")
        if self.crop_scale <= 0:
            raise AntispoofError("--crop-scale must be positive")


def prepare(source_dir, out_dir, format="auto", options=PrepareOptions(), workers=1, seed=0,
            progress=True, ray_address=None, label=None):
    """Prepare ``source_dir`` into ``out_dir``; returns the summary written to prepare.json.

    ``source_dir`` may also be one video or image, whose class ``label`` (real or spoof) says.
    ``workers`` processes here, or, with ``ray_address``, one Ray task per source on that
    cluster (``out_dir`` must then be a folder every node writes to, such as an NFS mount).
    """
    out_dir = Path(out_dir)
    name, listing = list_sources(source_dir, format, label)
    if options.detect is None:
        options = PrepareOptions(**{**asdict(options), "detect": not listing.crops})
    parts = out_dir / ".parts"
    claim_folder(out_dir, parts / "options.json", {"source": str(Path(source_dir).resolve()),
                                                   "format": name, "options": asdict(options)},
                 "a preparation")
    remove_stale_temporaries(out_dir)
    jobs = [(source, listing.root, out_dir, options) for source in listing.sources
            if not _part_path(parts, listing.root, source).exists()]
    meter = Meter(len(listing.sources), len(listing.sources) - len(jobs), progress)
    started = time.perf_counter()
    if ray_address:
        for crops, frames in map_unordered(_run_job_on_worker, jobs, ray_address, num_cpus=workers):
            meter.update(crops, frames)
    elif workers > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, context, initializer=_start_worker) as pool:
            for crops, frames in pool.map(_run_job, jobs, chunksize=1):
                meter.update(crops, frames)
    else:
        _start_worker()
        for job in jobs:
            meter.update(*_run_job(job))
    meter.close()
    summary = _assemble(out_dir, name, listing, options, seed)
    summary["elapsed_s"] = round(time.perf_counter() - started, 2)
    summary["workers"] = workers
    summary["ray"] = ray_address
    write_json(out_dir / PREPARE_FILE, summary)
    return summary


def _slug(root, source):
    """A file-name-safe name of the source, unique in the dataset: its path under the root."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(source.path.relative_to(root).parts))


def _part_path(parts, root, source):
    return parts / source.subject / f"{_slug(root, source)}.json"


_detector = None


def _start_worker():
    global _detector
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    _detector = _detector or FaceDetector()


def _run_job_on_worker(job):
    """``_run_job`` in a Ray worker process, which loads the detector on its first job."""
    _start_worker()
    return _run_job(job)


def _run_job(job):
    """Crop one source; write its crops and then its part file. Returns (crops, frames)."""
    source, root, out_dir, options = job
    label = LABELS[source.label]
    counts = dict.fromkeys(("frames", "crops", *DROPS), 0)
    rows, problem = [], ""
    try:
        for index, rgb in _frames(source, options):
            counts["frames"] += 1
            kept = _crop(rgb, source.label, options)
            if isinstance(kept, str):
                counts[kept] += 1
                continue
            crop, box, score, sharp = kept
            relative = f"{label}/{source.subject}/{_slug(root, source)}_{index}.jpg"
            ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                       [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality])
            write_bytes(out_dir / relative, encoded.tobytes())
            counts["crops"] += 1
            rows.append({"file": relative, "label": label, "subject": source.subject,
                         "attack": source.attack, "source": str(source.path), "frame": index,
                         "bbox_xyxy": box, "score": score, "sharpness": round(sharp, 1)})
    except _Unreadable as exc:
        problem = str(exc)
        log.warning("warning: skipped %s: %s", source.path, problem)
    if source.is_video and not problem:
        problem = _video_problem(source.path, counts["frames"], options)
    record = {"source": str(source.path), "label": label, "subject": source.subject,
              "attack": source.attack, "split": source.split, **counts, "problem": problem}
    write_json(_part_path(out_dir / ".parts", root, source), {"source": record, "crops": rows})
    return counts["crops"], counts["frames"]


class _Unreadable(Exception):
    pass


def _frames(source, options):
    """(frame index, RGB frame) of a video (every n-th, up to the maximum) or of an image."""
    if not source.is_video:
        image = read_image(source.path)
        if image is None:
            raise _Unreadable("cannot decode image")
        yield 0, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return
    capture = cv2.VideoCapture(str(source.path))
    if not capture.isOpened():
        raise _Unreadable("cannot open video (unreadable, or not a video)")
    try:
        index = taken = 0
        while not options.max_frames_per_video or taken < options.max_frames_per_video:
            if not capture.grab():
                break
            if index % options.every_nth_frame == 0:
                ok, bgr = capture.retrieve()
                if not ok:
                    break
                taken += 1
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise _Unreadable("no frames could be read (empty or corrupt video)")


def _video_problem(path, read, options):
    """A note when the container promises frames that could not be read (a truncated file)."""
    if options.max_frames_per_video:
        return ""
    capture = cv2.VideoCapture(str(path))
    promised = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    expected = -(-promised // options.every_nth_frame)
    if promised > 0 and read < expected - 1:
        log.warning("warning: %s: truncated, read %d of %d frames", path, read, expected)
        return f"truncated: read {read} of {expected} frames"
    return ""


def _crop(rgb, label, options):
    """(crop, box xyxy, score, sharpness) of the frame's face, or the reason it was dropped."""
    if options.detect:
        faces = _detector.detect(rgb)
        if not faces:
            return "no_face"
        if len(faces) > 1 and label == 0:
            return "multiple_faces"  # a bystander or a portrait behind a real subject
        face = faces[0]
        if min(face.box[2:]) < options.min_face:
            return "small_face"
        x, y, w, h = face.box
        crop = crop_face(rgb, face.box, options.size, options.crop_scale)
        box, score = f"{x},{y},{x + w},{y + h}", round(face.score, 3)
    else:
        height, width = rgb.shape[:2]
        if min(height, width) < options.min_face:
            return "small_face"
        crop = crop_face(rgb, (0, 0, width, height), options.size, 1.0)
        box, score = f"0,0,{width},{height}", ""
    sharp = sharpness(crop)
    if sharp < options.min_sharpness:
        return "blurry"
    return crop, box, score, sharp


def _assemble(out_dir, name, listing, options, seed):
    parts = out_dir / ".parts"
    records, rows = [], []
    for source in listing.sources:
        part = read_json(_part_path(parts, listing.root, source))
        records.append(part["source"])
        rows.extend(part["crops"])
    _write_csv(out_dir / MANIFEST_FILE, MANIFEST_COLUMNS, rows)
    _write_csv(out_dir / SOURCES_FILE, SOURCE_COLUMNS, records)
    protocol = _protocol(name, listing.sources, rows, seed)
    write_json(out_dir / PROTOCOL_FILE, protocol)
    totals = {key: sum(r[key] for r in records) for key in ("frames", "crops", *DROPS)}
    problems = [{"source": r["source"], "problem": r["problem"]} for r in records if r["problem"]]
    return {"source_format": name, "sources": len(records), **totals,
            "multiple_faces_in_real_videos": {r["source"]: r["multiple_faces"] for r in records
                                              if r["multiple_faces"]},
            "unusable_sources": problems,
            "rejected_files": [{"file": f, "reason": r} for f, r in listing.rejected],
            "options": asdict(options), "protocol": protocol["name"]}


def _write_csv(path, columns, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _protocol(name, sources, rows, seed):
    """The dataset's official subject split where it has one (a missing dev split is drawn from
    train), else a seeded subject hold-out: 20 % test, 20 % of the rest dev."""
    official = {s.subject: s.split for s in sources if s.split}
    subjects = sorted({s.subject for s in sources})
    if official:
        test = tuple(sorted(s for s in subjects if official.get(s) == "test"))
        dev = tuple(sorted(s for s in subjects if official.get(s) == "dev"))
        if not dev:
            _, dev = hold_out([s for s in subjects if s not in test], seed, test_share=0)
        title = f"{name}-official" + ("" if any(official[s] == "dev" for s in official)
                                      else f"-dev-seed{seed}")
    elif len(subjects) >= 3:
        test, dev = hold_out(subjects, seed)
        title = f"{name}-subject-holdout-seed{seed}"
    else:
        test = dev = ()
        title = f"{name}-too-few-subjects"
        log.warning("warning: %d subject(s): no subject-held-out split is possible", len(subjects))
    counts = {split: dict.fromkeys(LABELS, 0) for split in ("train", "dev", "test")}
    for row in rows:
        split = "test" if row["subject"] in test else "dev" if row["subject"] in dev else "train"
        counts[split][row["label"]] += 1
    return {"name": title,
            "description": f"Face crops prepared by antispoof from {name}; subjects never cross splits. "
                           "manifest.csv gives each crop's attack type and source.",
            "classes": {"real": "real", "spoof": "spoof"},
            "splits": {"test": list(test), "dev": list(dev), "train": "every other subject"},
            "counts": counts}


class Meter:
    """A progress bar on stderr (a terminal only): sources done, crops, frames/s and crops/s;
    the totals as one log line at the end."""

    def __init__(self, total, done, enabled):
        self.crops, self.frames, self.start = 0, 0, time.perf_counter()
        self.total, self.done, self.resumed, self.enabled = total, done, done, enabled
        if done and enabled:
            log.info("prepare: resuming, %d of %d sources already done", done, total)
        self.bar = progress(total=total, desc="prepare", unit="source", enabled=enabled)
        self.bar.update(done)

    def update(self, crops, frames):
        self.crops, self.frames, self.done = self.crops + crops, self.frames + frames, self.done + 1
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.crops} crops, {self.frames / elapsed:.0f} frames/s, "
                                 f"{self.crops / elapsed:.0f} crops/s", refresh=False)
        self.bar.update()

    def close(self):
        """Clear the bar; one line of totals stays (in a log file too)."""
        self.bar.close()
        if self.enabled:
            elapsed = max(time.perf_counter() - self.start, 1e-9)
            log.info("prepare: %d/%d sources, %d crops, %.1f sources/s, %.0f frames/s, %.0f crops/s",
                     self.done, self.total, self.crops, (self.done - self.resumed) / elapsed,
                     self.frames / elapsed, self.crops / elapsed)
