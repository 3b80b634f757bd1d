"""Named model configurations: a backbone, where it is cut, and a head."""
from dataclasses import dataclass

from .errors import AntispoofError


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    alpha: float  # MobileNetV2 width multiplier
    cut_after: str  # the last layer kept: the network is truncated there
    description: str


BACKBONES = {
    spec.name: spec
    for spec in (
        BackboneSpec("mnv2-0.35-b8", 0.35, "block_8_add",
                     "MobileNetV2 width 0.35 cut after block 8 (24 channels); ~96 KB as int8"),
        BackboneSpec("mnv2-0.35-b16", 0.35, "block_16_project_BN",
                     "MobileNetV2 width 0.35 cut after block 16 (112 channels); ~400 KB as int8"),
        BackboneSpec("mnv2-0.35", 0.35, "out_relu",
                     "MobileNetV2 width 0.35 with its 1280-channel final 1x1 conv; ~650 KB as int8"),
    )
}
DEFAULT_BACKBONE = "mnv2-0.35-b8"
HEADS = ("linear",)
DEFAULT_HEAD = "linear"


def backbone_spec(name):
    try:
        return BACKBONES[name]
    except KeyError:
        raise AntispoofError(
            f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}") from None
