"""MobileNetV2's channel layout as plain numbers (no TensorFlow): the blocks of Keras'
``mobilenet_v2.py``, the width rounding, and ``Widths``, a (contracted) network's channel counts."""
from dataclasses import asdict, dataclass

# (output filters at width 1.0, stride, expansion) of blocks 0..16, as in Keras' mobilenet_v2.py
BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6),
          (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6),
          (160, 1, 6), (160, 1, 6), (320, 1, 6))
STAGE_OF_BLOCK = (0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6)
STAGE_FILTERS = (16, 24, 32, 64, 96, 160, 320)
RESIDUAL = {i for i in range(1, 17) if BLOCKS[i][1] == 1 and BLOCKS[i][0] == BLOCKS[i - 1][0]}
STEM_FILTERS, LAST_FILTERS = 32, 1280


def make_divisible(value, divisor=8):
    """Keras' rounding of channel counts: to a multiple of 8, never below 90 % of the value."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


@dataclass(frozen=True)
class Widths:
    """Channel counts of a (contracted) MobileNetV2, and where it ends.

    ``blocks``: the last inverted-residual block kept (0..16). ``tap``: ``"output"`` ends at
    that block's output; ``"expanded"`` at its depthwise output (before the projection).
    ``last``: channels of the final 1×1 conv, kept only after block 16 (0: none).
    """

    stem: int
    stages: tuple
    expand: tuple  # blocks 1..16
    last: int = 0
    blocks: int = 16
    tap: str = "output"

    @classmethod
    def uniform(cls, alpha, blocks=16, last=LAST_FILTERS, tap="output"):
        """The Keras width-``alpha`` layout (its first layer: half the filters at 0.35)."""
        stages = tuple(make_divisible(f * alpha) for f in STAGE_FILTERS)
        inputs = (stages[0],) + tuple(stages[STAGE_OF_BLOCK[i - 1]] for i in range(2, 17))
        expand = tuple(6 * c for c in inputs)
        return cls(make_divisible(STEM_FILTERS * alpha), stages, expand,
                   last if blocks == 16 and tap == "output" else 0, blocks, tap)

    def groups(self):
        """Kept channel count per group, for the blocks this network has."""
        kept = {"stem": self.stem}
        for i in range(1, self.blocks + 1):
            kept[f"expand{i}"] = self.expand[i - 1]
        projected = range(self.blocks + (1 if self.tap == "output" else 0))
        for k in sorted({STAGE_OF_BLOCK[i] for i in projected}):
            kept[f"stage{k}"] = self.stages[k]
        if self.last:
            kept["last"] = self.last
        return kept


def full_widths():
    return Widths.uniform(1.0)


def summarize(widths):
    """``widths`` in words, for a log line: ``stem 16, stages 8/16/24/32, 8 blocks``."""
    stages = "/".join(map(str, widths.stages))
    end = f", {widths.blocks} blocks" + ("" if widths.tap == "output" else f" ({widths.tap} tap)")
    return f"stem {widths.stem}, stages {stages}{end}" + (f", last conv {widths.last}" if widths.last else "")


def describe(widths):
    """``widths`` as JSON."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(widths).items()}


def from_description(fields):
    """The ``Widths`` that ``describe`` wrote as ``fields``."""
    return Widths(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items()})
