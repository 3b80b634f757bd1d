"""What compression takes, without TensorFlow (the CLI reads its choices here): the contraction
config, the quantization config, and the registries of criteria and quantization modes."""
from dataclasses import dataclass

from antispoof.core.errors import AntispoofError

CRITERIA = {  # how contraction ranks a group's channels
    "l1": "L1 norm of the filters that write the channel",
    "bn-gamma": "|γ| / σ of the BatchNorm after them",
    "activation": "mean |activation| on calibration crops",
}
QUANTIZATIONS = {  # mode -> what it makes
    "qat": "quantization-aware fine-tuning, then a full-integer int8 file",
    "ptq": "post-training quantization to a full-integer int8 file",
    "float16": "float16 weights, float32 in and out (the server model's export)",
}
INT8_MODES = ("qat", "ptq")  # the modes that make the light model's int8 file


@dataclass
class ContractionConfig:
    budget_kb: float | None = 100  # contract the backbone to fit; None: the named backbone as is
    criterion: str = "l1"
    width: float | None = None  # contract to this width and depth instead of searching the
    blocks: int = 16  # budget's grid (what ``antispoof search`` chose)

    def check_contraction(self):
        if self.criterion not in CRITERIA:
            raise AntispoofError(f"unknown criterion {self.criterion!r}: choose one of "
                                 f"{', '.join(CRITERIA)}")

    @property
    def budget_bytes(self):
        return int(self.budget_kb * 1024) if self.budget_kb is not None else None

    def __post_init__(self):
        self.check_contraction()


@dataclass
class QuantizationConfig:
    mode: str = "qat"  # a name in INT8_MODES
    qat_epochs: int = 2
    qat_learning_rate: float = 1e-5
    per_channel: bool = True  # False: per-tensor weights (PTQ only)
    qat_distill: bool = False  # QAT on the run's teachers' scores as training (else hard labels)

    def check_quantization(self):
        if self.mode not in INT8_MODES:
            raise AntispoofError(f"unknown quantization mode {self.mode!r}: choose one of "
                                 f"{', '.join(INT8_MODES)}")
        if not self.per_channel and self.mode == "qat":
            raise AntispoofError("per-tensor quantization needs --mode ptq (tfmot's QAT learns "
                                 "per-channel weight ranges)")
        if self.qat_distill and self.mode != "qat":
            raise AntispoofError("--qat-distill distils during quantization-aware training: it "
                                 "needs --mode qat")

    def __post_init__(self):
        self.check_quantization()


CONTRACTION, QUANTIZATION = ContractionConfig(), QuantizationConfig()  # the defaults
