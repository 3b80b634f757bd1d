"""Named model configurations: backbones (width, depth, where features are read) and heads."""
from dataclasses import dataclass

from .errors import AntispoofError


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    alpha: float  # MobileNetV2 width multiplier (Keras layout: its ImageNet weights load by name)
    blocks: int  # last inverted-residual block kept
    description: str
    tap: str = "output"  # "expanded": features after the last block's depthwise conv
    last: int = 0  # channels of the final 1x1 conv (only after block 16)

    def widths(self):
        from .contract import Widths

        return Widths.uniform(self.alpha, self.blocks, self.last, self.tap)


@dataclass(frozen=True)
class HeadSpec:
    name: str
    hidden: tuple  # Dense widths before the sigmoid unit
    description: str
    dropout: float = 0.0
    groups: int = 8  # GroupNormalization groups after each hidden Dense


BACKBONES = {spec.name: spec for spec in (
    BackboneSpec("mnv2-0.35-b8", 0.35, 8, "width 0.35 cut after block 8 (24 channels); ~96 KB as int8"),
    BackboneSpec("mnv2-0.35-b16", 0.35, 16, "width 0.35 through block 16 (112 channels)"),
    BackboneSpec("mnv2-0.35", 0.35, 16, "width 0.35 with the 1280-channel final 1x1 conv", last=1280),
    BackboneSpec("mnv2-0.35-paper", 0.35, 16, "width 0.35 up to block 16's depthwise output "
                 "(336 channels): the paper's light backbone", tap="expanded"),
)}
HEADS = {spec.name: spec for spec in (
    HeadSpec("linear", (), "pooling, dropout 0.2, one sigmoid unit", dropout=0.2),
    HeadSpec("paper", (112,), "pooling, Dense 112, GroupNorm, ReLU, sigmoid unit (336 -> 112 -> 1 "
             "on the paper backbone)"),
)}
DEFAULT_BACKBONE = "mnv2-0.35-b8"
DEFAULT_HEAD = "linear"


def _lookup(table, kind, name):
    try:
        return table[name]
    except KeyError:
        raise AntispoofError(f"unknown {kind} {name!r}: choose one of {', '.join(table)}") from None


def backbone_spec(name):
    return _lookup(BACKBONES, "backbone", name)


def head_spec(name):
    return _lookup(HEADS, "head", name)
