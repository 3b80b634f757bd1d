"""Option fields: a dataclass field that carries, beside its default, what its command-line
flag needs (help, choices, range, metavar), so that an option is written once and the CLI
makes its flags from the dataclasses (``antispoof.cli``)."""
from dataclasses import field, fields

from antispoof.core.errors import AntispoofError


def option(default, help, *, choices=None, low=None, high=None, low_open=False, high_open=False,
           metavar=None, off=None, default_text=None, split=None, path=False, multiple=False,
           cli=True):
    """A dataclass field with default ``default`` and the flag's ``help``.

    ``choices``: the allowed values; ``low``/``high`` (with ``*_open``): the allowed range;
    ``off``: the negative flag of a boolean (default ``--no-NAME``); ``default_text``: what the
    help says the default is, where the declared default is a placeholder; ``split``: the flag
    takes ``split``-separated values (a tuple field); ``path``: an existing file or folder;
    ``multiple``: the flag is repeated, once per value (a tuple field); ``cli=False``: no flag."""
    return field(default=default, metadata={
        "help": help, "choices": tuple(choices) if choices is not None else None,
        "range": (low, high, low_open, high_open), "metavar": metavar, "off": off,
        "default_text": default_text, "split": split, "path": path, "multiple": multiple, "cli": cli})


def flag(name):
    """The command-line flag of field ``name``."""
    return "--" + name.replace("_", "-")


def describe_range(low, high, low_open, high_open):
    """``> 0``, ``≥ 1``, ``0 ≤ x < 1``: the range in words, for help and errors."""
    if low is not None and high is not None:
        return f"{low} {'<' if low_open else '≤'} x {'<' if high_open else '≤'} {high}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low}"
    return f"{'<' if high_open else '≤'} {high}"


def check_fields(record):
    """Each option field of the dataclass ``record`` within its choices and range, else one
    AntispoofError naming the flag (the same rule whether a flag or a caller gave the value)."""
    for f in fields(record):
        if "range" not in f.metadata:
            continue
        value, meta = getattr(record, f.name), f.metadata
        if value is None:
            continue
        if meta["choices"] is not None and value not in meta["choices"]:
            raise AntispoofError(f"unknown {f.name.replace('_', ' ')} {value!r} ({flag(f.name)}): "
                                 f"choose one of {', '.join(map(str, meta['choices']))}")
        low, high, low_open, high_open = meta["range"]
        if low is None and high is None:
            continue
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            raise AntispoofError(f"{flag(f.name)} takes {describe_range(*meta['range'])}, not {value}")
