"""The model registry: named architectures, MobileNetV2 backbones (width, depth, where features
are read) and heads. Pure Python (no TensorFlow): the CLI builds its choices from it."""
from dataclasses import dataclass

from antispoof.core.errors import AntispoofError
from antispoof.core.fields import option
from antispoof.models.widths import Widths

POOL = "pool"  # the pooled features layer: every head (and a training-only source head) reads it
DEFAULT_INPUT_SIZE = 104  # the light model's input side when none is given: the shipped model's,
# above the design's 96 on dev (benchmarks/README.md, "104×104 shipped, built in 420 s")
MIN_INPUT_SIZE = 32  # the smallest input Keras builds MobileNetV2 and EfficientNet-B0 for


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    alpha: float  # MobileNetV2 width multiplier (Keras layout: its ImageNet weights load by name)
    blocks: int  # last inverted-residual block kept
    description: str
    tap: str = "output"  # "expanded": features after the last block's depthwise conv
    last: int = 0  # channels of the final 1x1 conv (only after block 16)

    def widths(self):
        return Widths.uniform(self.alpha, self.blocks, self.last, self.tap)


@dataclass(frozen=True)
class HeadSpec:
    name: str
    hidden: tuple  # Dense widths before the output unit(s)
    description: str
    dropout: float = 0.0
    groups: int = 8  # GroupNormalization groups after each hidden Dense


@dataclass(frozen=True)
class ArchSpec:
    """An architecture: its default input side and the heads it takes (the first is its default)."""

    name: str
    description: str
    input_size: int
    heads: tuple


BACKBONES = {spec.name: spec for spec in (
    BackboneSpec("mnv2-0.35-b8", 0.35, 8, "width 0.35 cut after block 8 (24 channels); ~96 KB as int8"),
    BackboneSpec("mnv2-0.35-b16", 0.35, 16, "width 0.35 through block 16 (112 channels)"),
    BackboneSpec("mnv2-0.35", 0.35, 16, "width 0.35 with the 1280-channel final 1x1 conv", last=1280),
    BackboneSpec("mnv2-0.35-paper", 0.35, 16, "width 0.35 up to block 16's depthwise output "
                 "(336 channels): the paper's light backbone", tap="expanded"),
)}
SERVER_HEAD = "paper-server"
HEADS = {spec.name: spec for spec in (
    HeadSpec("linear", (), "pooling, dropout 0.2, one sigmoid unit", dropout=0.2),
    HeadSpec("paper", (112,), "pooling, Dense 112, GroupNorm, ReLU, sigmoid unit (336 -> 112 -> 1 "
             "on the paper backbone)"),
    HeadSpec(SERVER_HEAD, (1024, 256, 32), "pooling, Dense 1024 -> 256 -> 32 each with BatchNorm, "
             "swish and dropout 0.2, 2-way softmax (EfficientNet-B0 only)", dropout=0.2),
)}
ARCHS = {spec.name: spec for spec in (
    ArchSpec("mobilenetv2", "the light model: a (contracted) MobileNetV2 and a sigmoid head",
             DEFAULT_INPUT_SIZE, ("linear", "paper")),
    ArchSpec("efficientnet-b0", "the paper's server model", 224, (SERVER_HEAD,)),
)}
DEFAULT_ARCH = "mobilenetv2"
DEFAULT_BACKBONE = "mnv2-0.35-b8"
DEFAULT_HEAD = "linear"
SERVER_ARCH = "efficientnet-b0"
SERVER_INPUT_SIZE = ARCHS[SERVER_ARCH].input_size


def _lookup(table, kind, name):
    try:
        return table[name]
    except KeyError:
        raise AntispoofError(f"unknown {kind} {name!r}: choose one of {', '.join(table)}") from None


def arch_spec(name):
    return _lookup(ARCHS, "arch", name)


def backbone_spec(name):
    return _lookup(BACKBONES, "backbone", name)


def head_spec(name):
    return _lookup(HEADS, "head", name)


@dataclass
class ModelSpec:
    """Which model to train: the architecture, its backbone (or a contracted one), head and input
    side, and whether the saved model averages each crop with its mirror image."""

    arch: str = option(DEFAULT_ARCH, f"{DEFAULT_ARCH}: the light model; {SERVER_ARCH}: the paper's "
                       f"server model (head {SERVER_HEAD}, Rectified Adam, 2-way softmax, input "
                       f"{SERVER_INPUT_SIZE}).", choices=ARCHS)
    backbone: str = option(DEFAULT_BACKBONE, "Named backbone.", choices=BACKBONES)
    head: str = option(DEFAULT_HEAD, "Named head.", choices=HEADS,
                       default_text=f"{DEFAULT_HEAD}; {SERVER_HEAD} with {SERVER_ARCH}")
    init: str | None = option(None, "Start from a contracted backbone (antispoof contract) instead "
                                    "of --backbone.", metavar="PATH", path=True,
                              default_text="none")
    input_size: int | None = option(None, "Model input side in px.", low=MIN_INPUT_SIZE,
                                    default_text=f"{DEFAULT_INPUT_SIZE}; {SERVER_INPUT_SIZE} for "
                                                 f"{SERVER_ARCH}")  # None: the architecture's
    flip_average: bool = option(False, "The finished model averages each crop's score with its "
                                       "mirror image's, inside the model file (twice the compute).")

    def check_model(self):
        """Validate and fill in the defaults (called by the options that include a ModelSpec)."""
        arch = arch_spec(self.arch)
        if self.arch == SERVER_ARCH and self.head == DEFAULT_HEAD:
            self.head = SERVER_HEAD  # the default head of the light model means "the default"
        head_spec(self.head)
        if self.head not in arch.heads:
            raise AntispoofError(f"{self.arch} takes the {' or '.join(arch.heads)} head, not "
                                 f"{self.head!r}")
        if self.input_size is None:
            self.input_size = arch.input_size

    def __post_init__(self):
        self.check_model()
