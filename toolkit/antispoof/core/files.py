"""Atomic writes: a reader never sees half a file, an interrupted job leaves none."""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from antispoof.core.errors import AntispoofError


@contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_stale_temporaries(folder):
    """Delete the temporary files that a killed job left behind in ``folder`` (atomic_path's
    ``.<name>.<random>.tmp*``: a kill skips its clean-up). Only for a folder no other job writes."""
    for stale in Path(folder).rglob(".*.tmp*"):
        if stale.is_file():
            stale.unlink()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path, obj):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def claim_folder(folder, record_path, record, job):
    """Record at ``record_path`` what a resumable job writing ``folder`` is (``record``, JSON);
    refuse a folder that holds such a job with another record."""
    record = json.loads(json.dumps(record))  # as it reads back: tuples become lists
    if Path(record_path).exists() and read_json(record_path) != record:
        raise AntispoofError(f"{folder}: holds {job} of other data or with other options; use a "
                             "new --out or delete it")
    write_json(record_path, record)
