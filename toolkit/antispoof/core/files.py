"""Atomic writes: a reader never sees half a file, an interrupted job leaves none; the user's
cache folder."""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.core.fields import flag

CACHE_ENV = "ANTISPOOF_CACHE"  # the cache folder (default ~/.cache/antispoof)


def cache_folder(kind):
    """Where the results that builds share are kept (``kind``: teacher-scores, contractions):
    ``~/.cache/antispoof/KIND``, or under ``$ANTISPOOF_CACHE``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "antispoof") / kind


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
    refuse a folder that holds such a job with another record, naming what differs."""
    if Path(record_path).exists():
        check_same_record(folder, read_json(record_path), record, job)
    write_json(record_path, record)


def check_same_record(folder, recorded, record, job):
    """One AntispoofError naming each option (as its flag) or input whose value in ``record``
    differs from what ``folder`` was made with (``recorded``); paths compare where they lead."""
    record = json.loads(json.dumps(record))
    differ = _differences(_comparable({k: recorded.get(k) for k in record}), _comparable(record))
    if differ:
        said = "; ".join(f"{flag(key.split('.')[-1])} {_shown(old)} there, {_shown(new)} now"
                         for key, old, new in differ)
        raise AntispoofError(f"{folder}: holds {job} made otherwise ({said}): use a new --out, "
                             "or delete it to start over")


def _differences(old, new, key=""):
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _differences(old.get(k), new.get(k), f"{key}.{k}" if key else k)]
    return [] if old == new else [(key, old, new)]


def _comparable(value):
    """Existing paths as where they lead (a relative and an absolute path compare equal)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, str) and value and os.path.exists(value):
        return os.path.realpath(value)
    return value


def _shown(value):
    return "none" if value is None else ",".join(map(str, value)) if isinstance(value, list) else str(value)
