"""What a user sees on the terminal: our messages, one per line, and none of the C++ log lines
of TensorFlow, TFLite, MediaPipe and the converter unless asked for (``--verbose``).
"""
import io
import logging
import os
import sys
import warnings

_quieted = False
LIBRARY_LOGGERS = ("tensorflow", "absl", "tf_keras", "jax", "ray")


def quiet_logger(name):
    """Errors only from the library logger ``name`` unless --verbose: for libraries that set
    their own level when they load (Ray does), call it again after the import."""
    if _quieted:
        logging.getLogger(name).setLevel(logging.ERROR)


def configure(verbose=False):
    """Send the antispoof logger to stderr; unless ``verbose``, silence the libraries' logs.

    The native libraries write to file descriptor 2 directly, so quieting points descriptor 2
    at /dev/null and gives Python (our messages, click's errors, tracebacks, progress bars) a
    copy of the terminal's descriptor as ``sys.stderr``.
    """
    global _quieted
    if not verbose and not _quieted:
        for name, level in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("GLOG_minloglevel", "3")):
            os.environ.setdefault(name, level)
        try:
            descriptor = sys.stderr.fileno()
        except (AttributeError, ValueError, io.UnsupportedOperation):
            descriptor = None  # an in-memory stderr (click's CliRunner): nothing native to hide
        if descriptor == 2:
            sys.stderr.flush()
            terminal = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            sys.stderr = open(terminal, "w", buffering=1, encoding=sys.stderr.encoding,
                              errors="backslashreplace")
        warnings.simplefilter("ignore")
        _quieted = True
        for name in LIBRARY_LOGGERS:
            quiet_logger(name)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr, force=True)
    logging.getLogger("antispoof").setLevel(logging.INFO)


def progress(iterable=None, total=None, desc=None, unit="it", enabled=True):
    """A tqdm progress bar on stderr, drawn only when stderr is a terminal (and ``enabled``)."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=None if enabled else True, dynamic_ncols=True, leave=False)


def plural(count, noun):
    """``1 problem``, ``3 problems``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
