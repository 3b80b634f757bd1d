"""The model contract: what ``model.json`` beside a model file promises the app that feeds it —
input size and colour order, the crop around the detector box, input and output quantization,
the decision threshold on P(spoof) and the labels. One dataclass, read and written here only;
the Kotlin ``org.antispoof.core.ModelContract`` (``android_demo/core``) mirrors its fields."""
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.core.files import read_json, write_json
from antispoof.core.rundir import CONTRACT_FILE

LABELS = ("real", "spoof")  # class 0 and class 1: the folder names of a dataset, the score order
CROP_SCALE = 1.1  # crop side over the face detector box's longer side, unless data says otherwise
# The filter that brings the square crop to input_size: OpenCV's INTER_AREA when shrinking
# (bilinear when enlarging), as training saw it. Measured on 360 NUAA test crops: bilinear
# shrinking instead flips 5 decisions (largest score change 0.27), nearest-neighbour 12 (0.50).
RESIZE = "area"
RESIZE_FILTERS = (RESIZE,)
FALLBACK_THRESHOLD = 0.5  # for a model whose model.json records no threshold of its own
INPUT_MEANING = "face crop resized to input_size; q = pixel / scale + zero_point"
OUTPUT_MEANING = "P(spoof) = (q - zero_point) * scale"
# The MediaPipe variant (``mediapipe_model``) wraps the int8 graph in uint8 ↔ int8
# requantizations: uint8 q = int8 q + UINT8_SHIFT, the same real values.
UINT8_SHIFT = 128


@dataclass
class Quantization:
    """How a tensor's integers map to real values: real = (q - zero_point) * scale."""

    dtype: str
    scale: float
    zero_point: int
    meaning: str = ""


@dataclass(kw_only=True)
class ModelContract:
    model: str  # the model file's name, beside model.json
    input_size: int
    color_order: str = "RGB"
    input: Quantization
    output: Quantization
    threshold: float | None  # spoof when P(spoof) >= threshold (None: the app chooses)
    threshold_source: str | None = None  # which split and operating point chose the threshold
    labels: tuple = LABELS
    thresholds: dict | None = None  # a run folder's other files (model.keras): their own thresholds
    mediapipe_model: str | None = None  # export: the MediaPipe Tasks variant (shares the threshold)
    crop_scale: float = CROP_SCALE
    resize: str = RESIZE  # the filter from the crop to input_size (RESIZE above)
    version: str | None = None  # export: the antispoof version that wrote it
    size_bytes: int | None = None
    arch: str | None = None  # the server model: its architecture, and its SavedModel folder
    saved_model: str | None = None

    def __post_init__(self):
        for name in ("input", "output"):
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, Quantization(**value))
        self.labels = tuple(self.labels)
        if self.resize not in RESIZE_FILTERS:
            raise AntispoofError(f"{CONTRACT_FILE}: resize filter {self.resize!r} is not one antispoof "
                                 f"feeds ({', '.join(RESIZE_FILTERS)})")

    @classmethod
    def from_json(cls, obj, source=CONTRACT_FILE):
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise AntispoofError(f"{source}: unknown fields {', '.join(sorted(unknown))}")
        try:
            return cls(**obj)
        except TypeError as exc:
            raise AntispoofError(f"{source}: not a model contract ({exc})") from None

    def to_json(self):
        """The JSON object, without the optional fields that do not apply (None); a required
        one stays, as null (the server model's threshold: the app chooses)."""
        required = {f.name for f in fields(self) if f.default is MISSING}
        out = asdict(self)
        out["labels"] = list(self.labels)
        return {k: v for k, v in out.items() if v is not None or k in required}

    def write(self, folder):
        write_json(Path(folder) / CONTRACT_FILE, self.to_json())

    def threshold_of(self, name):
        """(threshold, source) this contract records for the model file ``name``, or (None, None):
        the int8 model and its MediaPipe variant share ``threshold``; a run folder's other files
        (the float ``model.keras``) have their own under ``thresholds``."""
        thresholds = dict(self.thresholds or {})
        for shared in (self.model, self.mediapipe_model):
            if shared and self.threshold is not None:
                thresholds.setdefault(shared, self.threshold)
        if name not in thresholds:
            return None, None
        return thresholds[name], self.threshold_source or CONTRACT_FILE


def mediapipe_variant(contract):
    """The contract of the MediaPipe variant of the int8 model ``contract`` describes: uint8
    pixels in, uint8 scores [P(real), P(spoof)] out, the same threshold and crop."""
    def shifted(q, meaning):
        return Quantization("uint8", q.scale, q.zero_point + UINT8_SHIFT, meaning)

    return replace(contract, model=contract.mediapipe_model, mediapipe_model=None,
                   input=shifted(contract.input, contract.input.meaning),
                   output=shifted(contract.output, "[P(real), P(spoof)] = (q - zero_point) * scale"))


def contract_path(model):
    """Where the contract of a model file is: ``model.json`` beside it."""
    return Path(model).with_name(CONTRACT_FILE)


def read_contract(model):
    """The ModelContract beside a model file (or the ``model.json`` path itself), or None."""
    path = Path(model) if Path(model).name == CONTRACT_FILE else contract_path(model)
    if not path.is_file():
        return None
    try:
        obj = read_json(path)
    except ValueError as exc:
        raise AntispoofError(f"{path}: not valid JSON ({exc})") from None
    return ModelContract.from_json(obj, path)


def contract_threshold(model):
    """(threshold, where it came from) that ``model.json`` records for this very file, or
    (None, None)."""
    contract = read_contract(model)
    return (None, None) if contract is None else contract.threshold_of(Path(model).name)


def contract_crop_scale(model):
    """The crop scale the model was trained with (its ``model.json``), else the default."""
    contract = read_contract(model)
    return CROP_SCALE if contract is None else contract.crop_scale


def decision_threshold(model, given=None, warn=None):
    """The threshold to decide with: ``given``, else the one ``model.json`` records for this
    file, else FALLBACK_THRESHOLD (``warn`` gets a one-line message then)."""
    if given is not None:
        return given
    recorded, _ = contract_threshold(model)
    if recorded is not None:
        return recorded
    if warn:
        beside = Path(model).with_name(CONTRACT_FILE)
        cause = (f"{CONTRACT_FILE} beside it records no threshold for it" if beside.is_file() else
                 f"no {CONTRACT_FILE} beside it")
        warn(f"warning: {model}: {cause}; deciding at {FALLBACK_THRESHOLD:g} (--threshold sets one)")
    return FALLBACK_THRESHOLD
