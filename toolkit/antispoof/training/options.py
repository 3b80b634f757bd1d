"""Training options, split the way users think of them: the model to train
(``models.specs.ModelSpec``), the hyper-parameters, distillation and augmentation.
``TrainOptions`` is all four in one flat record (what ``train``/``build`` take and
``config.json`` records)."""
from dataclasses import dataclass, fields
from pathlib import Path

from antispoof.core.errors import AntispoofError
from antispoof.core.fields import check_fields, option
from antispoof.data.datasets import BALANCES
from antispoof.data.synthesis import FAMILIES
from antispoof.models.specs import ModelSpec, SERVER_ARCH
from antispoof.training.distribute import STRATEGIES

CALIBRATIONS = ("none", "pooled", "source")  # --teacher-calibration (training.teacher)
CORRECTIONS = ("none", "swap")  # --teacher-correction (training.teacher)

LR_SCHEDULES = ("constant", "cosine")  # cosine: from the learning rate down to 0 over the epochs
# what --select-epoch maximises on dev, and the epoch log entry that holds it: the AUC of all dev
# crops, or the mean or the worst AUC over the dev sources (subjects)
SELECTION = {"pooled": "val_auc", "mean-source": "val_mean_source_auc",
             "worst-source": "val_worst_source_auc"}


@dataclass
class HyperParameters:
    epochs: int = option(3, "Epochs.", low=1)
    batch_size: int = option(64, "Batch size.", low=1)
    learning_rate: float = option(3e-4, "Adam learning rate.", low=0, low_open=True)
    lr_schedule: str = option("constant", "Learning rate over the epochs: constant, or cosine decay "
                                          "to 0.", choices=LR_SCHEDULES)  # training.optimizers
    freeze_batchnorm: bool = option(True, "Freeze BatchNorm when fine-tuning.", cli=False)
    seed: int = option(0, "Random seed.", low=0)
    limit: int | None = option(None, "At most N images per split (quick runs).", low=1,
                               default_text="all")
    balance: str = option("size", "How the train split weighs each dataset's sources (subjects): "
                                  "size, each crop once; source, each source an equal share of "
                                  "its dataset's crops.", choices=BALANCES)  # data.datasets
    strategy: str = option("default", "tf.distribute: mirrored (this host's GPUs) or multiworker "
                                      "(the hosts in TF_CONFIG, each running this command); "
                                      "--batch-size is the global batch.", choices=STRATEGIES)
    probe_epochs: int = option(0, "Train the head alone (the backbone frozen) for the first N of "
                                  "the epochs, then the whole network (linear probing, then "
                                  "fine-tuning: LP-FT).", low=0, default_text="0: off")
    ema: float = option(0.0, "End with an exponential moving average of the weights, e.g. 0.99.",
                        low=0, high=1, high_open=True, default_text="0: off")
    average_weights: bool = option(False, "Average the weights over every step of whole-network "
                                          "training (dense weight averaging, as SWAD): dev scores, "
                                          "--select-epoch keeps and the run saves the mean up to "
                                          "each epoch's end; training goes on from its own "
                                          "weights.")  # training.averaging
    label_smoothing: float = option(0.0, "Pull the hard labels towards 0.5 by this much: less "
                                         "saturated scores.", low=0, high=1, high_open=True)
    select_epoch: bool = option(False, "Keep the epoch with the best dev AUC instead of the last.",
                                off="--last-epoch")
    select_by: str = option("pooled", "Which dev AUC --select-epoch maximises: pooled (all dev "
                                      "crops), mean-source or worst-source (over the dev "
                                      "sources).", choices=SELECTION)
    restarts: int = option(1, "Train N candidates, seeds S, S+1000, ... (each under "
                              "RUN/candidates/), and keep the one whose kept epoch has the best "
                              "dev AUC of --select-by (with --select-epoch).", low=1,
                           default_text="1: one run")
    cdc: float = option(0.0, "Train the depthwise convolutions as central difference convolutions "
                             "(e.g. 0.7), folded into plain ones in the saved model.",
                        low=0, high=1, high_open=True, metavar="THETA",
                        default_text="0: off")  # models.layers.with_central_difference
    mixstyle: float = option(0.0, "Mix feature statistics between the crops of a batch after the "
                                  "first stages (MixStyle), with this probability per batch (e.g. "
                                  "0.5); training only, the saved model drops it.", low=0, high=1,
                             metavar="P", default_text="0: off")  # models.layers.with_mixstyle
    adversarial: float = option(0.0, "Train a source classifier on the pooled features of live "
                                     "crops through a gradient reversal, with this loss weight "
                                     "(e.g. 0.1): live features alike across training sources; the "
                                     "saved model drops it.", low=0, metavar="LAMBDA",
                                default_text="0: off")  # models.layers.with_source_head
    pixel_supervision: float = option(0.0, "Also train a pixel map on a mid-level feature map "
                                           "towards the label, with this loss weight (e.g. 0.5); "
                                           "the saved model drops it.", low=0, metavar="LAMBDA",
                                      default_text="0: off")  # models.layers.with_pixel_map


@dataclass
class Distillation:
    teacher: tuple = option((), "Distil from this trained run or model (e.g. the server model), or "
                                "a peer's .onnx file (MiniFASNet, suri, HyperFAS); repeat for an "
                                "ensemble: their weighted mean P(spoof), the weights chosen on dev "
                                "by --select-by.", metavar="PATH", path=True, multiple=True,
                            default_text="none")
    distill_alpha: float = option(0.5, "Weight of the hard labels with --teacher; 1 - alpha goes "
                                       "to the teacher.", low=0, high=1)
    temperature: float = option(2.0, "Distillation temperature.", low=0, low_open=True)
    teacher_calibration: str = option("none", "Recalibrate the teachers' P(spoof) on the train "
                                              "labels (Platt scaling) before distilling: pooled, "
                                              "one fit; source, one per training source (their "
                                              "offsets on each camera not taught).",
                                      choices=CALIBRATIONS)  # training.teacher
    teacher_correction: str = option("none", "Where the teachers' P(spoof) (recalibrated, with "
                                             "--teacher-calibration) is on the wrong side of 0.5 "
                                             "for a crop's label: none, taught as it is; swap, "
                                             "taught as 1 - P (knowledge adjustment).",
                                     choices=CORRECTIONS)  # training.teacher


@dataclass
class Augmentation:
    augment: bool = option(False, "Jitter training crops: brightness, contrast, saturation, "
                                  "zoom.")  # data.stream.jitter
    synth_spoof: float = option(0.0, "Share of training crops given webcam blur/noise/JPEG; half of "
                                     "those that are real become synthetic screen or print "
                                     "attacks.", low=0, high=1, metavar="RATE",
                                default_text="0: off")  # data.stream._synthetic_attacks
    synth_families: tuple = option(FAMILIES, "Attack families --synth-spoof draws from.", split=",",
                                   metavar="LIST", default_text=",".join(FAMILIES))
    degrade: float = option(0.0, "Share of training crops, real and spoof alike, given a webcam's "
                                 "white balance, blur, noise and JPEG.", low=0, high=1,
                            metavar="RATE", default_text="0: off")  # data.stream._degrade

    def check_augmentation(self):
        self.synth_families = tuple(self.synth_families)
        if not self.synth_families or set(self.synth_families) - set(FAMILIES):
            raise AntispoofError(f"synthetic attack families are {', '.join(FAMILIES)}, not "
                                 f"{', '.join(self.synth_families) or 'none'}")


@dataclass
class TrainOptions(ModelSpec, HyperParameters, Distillation, Augmentation):
    """Everything ``train`` takes besides the data: model spec, hyper-parameters, distillation
    and augmentation (each defined once in its own dataclass)."""

    def __post_init__(self):
        check_fields(self)  # choices and ranges, as the flags check them
        # one teacher may be given as a path; config.json records a list
        self.teacher = (self.teacher,) if isinstance(self.teacher, (str, Path)) else tuple(self.teacher or ())
        self.teacher = tuple(map(str, self.teacher))
        self.check_model()
        self.check_augmentation()
        if self.arch == SERVER_ARCH:
            for given, what in ((self.cdc, "--cdc trains the light model's depthwise convolutions"),
                                (self.pixel_supervision, "--pixel-supervision maps the light "
                                                         "model's block outputs"),
                                (self.mixstyle, "--mixstyle mixes the light model's block outputs"),
                                (self.adversarial, "--adversarial classifies the light model's "
                                                   "pooled features"),
                                (self.probe_epochs, "--probe-epochs trains the light model's head "
                                                    "alone"),
                                (self.select_epoch, "--select-epoch picks by dev AUC, which the "
                                                    "light model reports"),
                                (self.teacher, "--teacher distils into the light model, not into "
                                               f"{SERVER_ARCH}")):
                if given:
                    raise AntispoofError(what)
        if self.probe_epochs >= self.epochs:
            raise AntispoofError(f"--probe-epochs {self.probe_epochs} leaves no epoch of "
                                 f"--epochs {self.epochs} to fine-tune the backbone in")
        if self.restarts > 1 and not self.select_epoch:
            raise AntispoofError("--restarts keeps the candidate whose kept epoch has the best dev "
                                 "AUC: give --select-epoch too")
        if self.restarts > 1 and self.strategy != "default":
            raise AntispoofError("--restarts trains its candidates one after another on this "
                                 f"host: it does not mix with --strategy {self.strategy}")
        if self.average_weights and self.strategy != "default":
            raise AntispoofError("--average-weights keeps its mean on this host: it does not mix "
                                 f"with --strategy {self.strategy}")
        if self.average_weights and self.ema:
            raise AntispoofError("--average-weights and --ema both average the weights: give one "
                                 "of them")
        if self.ema and self.select_epoch:
            raise AntispoofError("--ema ends on the moving average of the weights, --select-epoch "
                                 "on one epoch's own weights: give one of them")
        if self.adversarial and (self.synth_spoof or self.pixel_supervision):
            raise AntispoofError("--adversarial trains on each crop's source: it does not mix with "
                                 f"--{'synth-spoof' if self.synth_spoof else 'pixel-supervision'}")
        if self.label_smoothing and self.teacher:
            raise AntispoofError("--label-smoothing smooths the hard labels of training without a "
                                 "teacher; with --teacher the labels' share is --distill-alpha")
        if self.synth_spoof and self.teacher:
            raise AntispoofError("--synth-spoof and --teacher do not mix: the teacher has no score "
                                 "for a synthetic attack")


TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainOptions)}  # as declared (input_size None)
