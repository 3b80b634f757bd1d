"""Training options, split the way users think of them: the model to train
(``models.specs.ModelSpec``), the hyper-parameters, distillation and augmentation.
``TrainOptions`` is all four in one flat record (what ``train``/``build`` take and
``config.json`` records)."""
from dataclasses import dataclass, fields

from antispoof.core.errors import AntispoofError
from antispoof.data.synthesis import FAMILIES
from antispoof.models.specs import ModelSpec, SERVER_ARCH
from antispoof.training.distribute import STRATEGIES

LR_SCHEDULES = ("constant", "cosine")  # cosine: from the learning rate down to 0 over the epochs


@dataclass
class HyperParameters:
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 3e-4
    lr_schedule: str = "constant"  # a name in LR_SCHEDULES (training.optimizers.learning_rate)
    freeze_batchnorm: bool = True
    seed: int = 0
    limit: int | None = None  # at most this many images per split (quick runs)
    strategy: str = "default"  # or "mirrored", "multiworker" (see antispoof.training.distribute)
    ema: float = 0.0  # > 0: the light model ends with this exponential moving average of its weights
    label_smoothing: float = 0.0  # hard labels pulled towards 0.5 by this much (less saturated scores)
    select_epoch: bool = False  # keep the epoch with the best dev AUC instead of the last one
    cdc: float = 0.0  # θ > 0: depthwise convolutions train as central difference convolutions,
    # folded into plain ones in the saved model (models.layers.with_central_difference)
    pixel_supervision: float = 0.0  # λ > 0: a training-only pixel map (models.layers.with_pixel_map)
    # trained towards the label with this loss weight, dropped from the saved model

    def check_hyperparameters(self):
        if self.lr_schedule not in LR_SCHEDULES:
            raise AntispoofError(f"unknown learning-rate schedule {self.lr_schedule!r}: choose one "
                                 f"of {', '.join(LR_SCHEDULES)}")
        if self.strategy not in STRATEGIES:
            raise AntispoofError(f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if not 0 <= self.cdc < 1:
            raise AntispoofError(f"central difference theta must be in [0, 1), not {self.cdc}")
        if not 0 <= self.label_smoothing < 1:
            raise AntispoofError("label smoothing takes 0 ≤ ε < 1")
        if self.pixel_supervision < 0:
            raise AntispoofError("pixel supervision takes a loss weight λ ≥ 0")


@dataclass
class Distillation:
    teacher: str | None = None  # a trained run or model, or the ONNX peer, to distil from
    distill_alpha: float = 0.5  # weight of the hard labels; 1 - alpha goes to the teacher
    temperature: float = 2.0

    def check_distillation(self):
        if not 0 <= self.distill_alpha <= 1 or not self.temperature > 0:
            raise AntispoofError("distillation needs 0 ≤ alpha ≤ 1 and temperature > 0")


@dataclass
class Augmentation:
    augment: bool = False  # photometric and zoom jitter of training crops (data.datasets.jitter)
    synth_spoof: float = 0.0  # share of crops through webcam effects, half of those reals turned
    # into synthetic screen/print attacks (data.datasets._synthetic_attacks)
    synth_families: tuple = FAMILIES  # which attack families the synthesis draws from
    degrade: float = 0.0  # share of crops (both classes) given a webcam's blur, noise, JPEG and
    # white balance (data.datasets._degrade)

    def check_augmentation(self):
        self.synth_families = tuple(self.synth_families)
        if not self.synth_families or set(self.synth_families) - set(FAMILIES):
            raise AntispoofError(f"synthetic attack families are {', '.join(FAMILIES)}, not "
                                 f"{', '.join(self.synth_families) or 'none'}")
        if not 0 <= self.degrade <= 1:
            raise AntispoofError("degrade takes a rate 0 ≤ r ≤ 1")


@dataclass
class TrainOptions(ModelSpec, HyperParameters, Distillation, Augmentation):
    """Everything ``train`` takes besides the data: model spec, hyper-parameters, distillation
    and augmentation (each defined once in its own dataclass)."""

    def __post_init__(self):
        self.check_model()
        self.check_hyperparameters()
        self.check_distillation()
        self.check_augmentation()
        if self.arch == SERVER_ARCH:
            for given, what in ((self.cdc, "--cdc trains the light model's depthwise convolutions"),
                                (self.pixel_supervision, "--pixel-supervision maps the light "
                                                         "model's block outputs"),
                                (self.select_epoch, "--select-epoch picks by dev AUC, which the "
                                                    "light model reports"),
                                (self.teacher, "--teacher distils into the light model, not into "
                                               f"{SERVER_ARCH}")):
                if given:
                    raise AntispoofError(what)
        if self.synth_spoof and self.teacher:
            raise AntispoofError("--synth-spoof and --teacher do not mix: the teacher has no score "
                                 "for a synthetic attack")


TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainOptions)}  # as declared (input_size None)
