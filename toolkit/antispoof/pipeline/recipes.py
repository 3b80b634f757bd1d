"""Named training recipes, a registry as timm's of model configurations: for each, the stem of
its run folders, the ``TrainOptions`` fields besides the seed (input size 64 unless given), the
``BuildOptions`` fields and the datasets it trains on, by name. ``SHIPPED_RECIPE`` made
``models/antispoof_int8.tflite`` (seed 0). Datasets are folder names and the teacher a file
under the weights folder, so a recipe names no machine's paths; ``resolve`` makes them paths.
``benchmarks/generalization.py`` builds and scores the recipes."""
import dataclasses
from pathlib import Path

from antispoof.compress.config import QuantizationConfig

NUAA_ONLY = ("nuaa",)
MULTI = ("nuaa", "webcam-multi")
# the same with webcam-multi's share of the train stream raised from about three quarters (its
# crops' share) to nine tenths: with source balance, NUAA's 11 subjects otherwise weigh as much
# as nine or ten of webcam-multi's 29 sources
MULTI_WEBCAM_90 = (("nuaa", 0.1), ("webcam-multi", 0.9))
PEER_TEACHER = "silentface/minifasnetv2_scale2.7_80x80.onnx"  # the peer, MiniFASNetV2
PEER = {"teacher": PEER_TEACHER, "select_epoch": True}  # distilled from the peer
# the three peers whose licences allow distillation, weighted on dev (training.teacher.Ensemble)
TEACHERS = (PEER_TEACHER, "suri/suri_minifasnetv2se_celebaspoof_128.onnx",
            "hyperfas/hyperfas_mobilenet05_224.onnx")
ENSEMBLE = {"teacher": TEACHERS, "select_epoch": True}
PEER_72 = {**PEER, "input_size": 72}  # the model shipped before the ensemble, and its variants
# the ensemble, its weights and epoch chosen on the worst dev source (which gives HyperFAS, trained
# on NUAA, no weight: NUAA test stays held out); shipped before the linear probe, and its variants
ENSEMBLE_72_WORST = {**ENSEMBLE, "input_size": 72, "select_by": "worst-source"}
# the same after a linear probe, one epoch of the head alone, then its three epochs of the whole
# network (LP-FT); shipped before the cosine schedule, and its variants
LPFT = {**ENSEMBLE_72_WORST, "epochs": 4, "probe_epochs": 1}
# LP-FT with its learning rate decayed along a cosine in each phase (the probe's, then the whole
# network's), ending near zero as quantization-aware training does; shipped before 96x96 with
# source balance, and its variants
LPFT_COSINE = {**LPFT, "lr_schedule": "cosine"}
# that recipe with each source of a dataset an equal share of the training stream; at the
# design's 96x96, shipped before the labels' larger share, and its variants
BALANCE_72 = {**LPFT_COSINE, "balance": "source"}
BALANCE_96 = {**BALANCE_72, "input_size": 96}
# that recipe with more of the labels and less of the teachers (every teacher fails on
# gh_sonhaicode's high-end screens, where label-only training did better); shipped before one
# epoch fewer, and its variants
LABELS_08 = {**BALANCE_96, "distill_alpha": 0.8}
# that recipe one epoch shorter (the probe's and two of the whole network, the cosine ending
# there); shipped before the teachers' recalibration
LABELS_08_E3 = {**LABELS_08, "epochs": 3}
# the source-balanced 96x96 recipe with a pixel map trained on a mid-level feature map (dropped at
# save), one epoch shorter, its labels 0.5 again
PIXEL_E3 = {**BALANCE_96, "pixel_supervision": 0.5, "epochs": 3}
# that recipe with the teachers' mix recalibrated on the train labels (one Platt fit: the mix sat
# on the wrong side of 0.5 for a quarter of the train crops); shipped before 104x104, and its
# variants
CALIBRATED_96 = {**PIXEL_E3, "teacher_calibration": "pooled"}
# that recipe at 104x104, above it on every dev criterion at the worst of three seeds; its build
# took 420 s here once the decoded crops' stream lost tf.data's autotuning thread (690 s before;
# benchmarks/README.md); shipped before central difference convolutions, and its variants
CALIBRATED_104 = {**CALIBRATED_96, "input_size": 104}
# that recipe at 112x112: level with 104x104 on the worst dev source at the worst seed (0.9879
# against 0.9881), its build 737-809 s before that change, 0.97x the reference's latency
SHIPPED_112 = {**CALIBRATED_96, "input_size": 112}
# the 104x104 recipe with its depthwise convolutions trained as central difference convolutions
# (theta 0.7, folded into plain ones at save: the same file), above it at the worst of three seeds
# on the worst dev source, the rule's criterion (0.9890 against 0.9882), and on the mean per
# source (0.9974 against 0.9965); pooled, 0.972 against 0.973; shipped before theta 0.9
CDC_07 = {**CALIBRATED_104, "cdc": 0.7}
# that recipe at theta 0.9, above theta 0.7 at the worst of three seeds on the worst dev source
# (0.9918 against 0.9890) and pooled (0.975 against 0.972); shipped before theta 0.95
CDC_09 = {**CALIBRATED_104, "cdc": 0.9}
# models/antispoof_int8.tflite (seed 0): that recipe at theta 0.95, above theta 0.9 at the worst of
# three seeds on the worst dev source (0.9923 against 0.9918) and pooled (0.976 against 0.975)
SHIPPED_RECIPE = {**CALIBRATED_104, "cdc": 0.95}
RECIPES = {
    "nuaa-64": ("nuaa-64", {}, {}, NUAA_ONLY),  # the recipe of the NUAA-only shipped model
    "nuaa-64-synth": ("nuaa-64-synth", {"synth_spoof": 0.5}, {}, NUAA_ONLY),  # synthetic attacks
    "multi-64": ("multi-64", {}, {}, MULTI),
    "multi-64-peer": ("multi-64-peer", PEER, {}, MULTI),
    "multi-64-degrade": ("multi-64-deg", {"augment": True, "degrade": 0.5, "select_epoch": True},
                         {}, MULTI),
    "multi-64-cdc": ("multi-64-cdc", {"cdc": 0.7, "select_epoch": True}, {}, MULTI),
    # the 64x64 recipe (shipped before the 72x72 one) with one method more each
    "multi-64-peer-cdc": ("multi-64-peer-cdc", {**PEER, "cdc": 0.7}, {}, MULTI),
    "multi-64-peer-pixel": ("multi-64-peer-pix", {**PEER, "pixel_supervision": 0.5}, {}, MULTI),
    "multi-64-peer-alpha0.2": ("multi-64-peer-a02", {**PEER, "distill_alpha": 0.2}, {},
                               MULTI),  # more of the peer, less of the labels
    "multi-64-peer-cosine": ("multi-64-peer-cos", {**PEER, "lr_schedule": "cosine"}, {}, MULTI),
    # the size-accuracy curve: input side and budget
    "multi-72-peer": ("multi-72-peer", PEER_72, {}, MULTI),
    "multi-80-peer": ("multi-80-peer", {**PEER, "input_size": 80}, {}, MULTI),
    "multi-96-peer": ("multi-96-peer", {**PEER, "input_size": 96}, {}, MULTI),
    "multi-112-peer": ("multi-112-peer", {**PEER, "input_size": 112}, {}, MULTI),
    "multi-128-peer": ("multi-128-peer", {**PEER, "input_size": 128}, {}, MULTI),
    "multi-64-peer-50kb": ("multi-64-peer-50kb", PEER, {"budget_kb": 50}, MULTI),
    "multi-64-peer-400kb": ("multi-64-peer-400kb", PEER, {"budget_kb": 400}, MULTI),
    # a teacher ensemble instead of the peer alone, its weights chosen on dev
    "multi-72-teachers": ("multi-72-teachers", {**ENSEMBLE, "input_size": 72}, {}, MULTI),
    # the same with the weights and the epoch chosen on the worst dev source instead of pooled dev
    "multi-72-teachers-worst": ("multi-72-teachers-worst", ENSEMBLE_72_WORST, {}, MULTI),
    # that recipe ending on an exponential moving average of its weights (horizon ~1,000 steps,
    # over half the run) instead of a chosen epoch
    "multi-72-teachers-ema": ("multi-72-teachers-ema",
                              {**ENSEMBLE_72_WORST, "ema": 0.999, "select_epoch": False}, {}, MULTI),
    # that recipe after a linear probe
    "multi-72-teachers-lpft": ("multi-72-teachers-lpft", LPFT, {}, MULTI),
    # that recipe with its quantization-aware fine-tuning (hard labels, a low rate, which raised
    # most recipes' dev and held-out AUC above their float models') at three times the rate
    "multi-72-teachers-qat-lr3e-5": ("multi-72-teachers-qat-lr3e-5", ENSEMBLE_72_WORST,
                                     {"qat_learning_rate": 3e-5}, MULTI),
    # the linear probe and that quantization-aware rate together
    "multi-72-teachers-lpft-qat-lr3e-5": ("multi-72-teachers-lpft-qat-lr3e-5", LPFT,
                                          {"qat_learning_rate": 3e-5}, MULTI),
    # LP-FT with the learning rate decayed along a cosine (shipped before the 96x96 one)
    "multi-72-teachers-lpft-cosine": ("multi-72-teachers-lpft-cos", LPFT_COSINE, {}, MULTI),
    # LP-FT with its quantization-aware training distilled from the same teachers
    "multi-72-teachers-lpft-qat-distill": ("multi-72-teachers-lpft-qatd", LPFT,
                                           {"qat_distill": True}, MULTI),
    # the cosine recipe with twice the quantization-aware epochs (hard labels at a low rate)
    "multi-72-teachers-lpft-cosine-qat4": ("multi-72-teachers-lpft-cos-qat4", LPFT_COSINE,
                                           {"qat_epochs": 4}, MULTI),
    # the cosine recipe with each source of a dataset an equal share of the training stream
    "multi-72-teachers-lpft-cosine-balance": ("multi-72-teachers-lpft-cos-bal", BALANCE_72, {},
                                              MULTI),
    # the cosine recipe with photometric and zoom jitter of the training crops
    "multi-72-teachers-lpft-cosine-augment": ("multi-72-teachers-lpft-cos-aug",
                                              {**LPFT_COSINE, "augment": True}, {}, MULTI),
    # source balance at 96x96, the design's input (0.72x the reference's latency, 72x72's bytes)
    "multi-96-teachers-lpft-cosine-balance": ("multi-96-teachers-lpft-cos-bal", BALANCE_96, {},
                                              MULTI),
    # that recipe with one QAT epoch instead of two (the build's slowest stage)
    "multi-96-teachers-lpft-cosine-balance-qat1": ("multi-96-teachers-lpft-cos-bal-qat1",
                                                   BALANCE_96, {"qat_epochs": 1}, MULTI),
    # the labels 0.8 of the targets, the teachers 0.2: shipped before one epoch fewer
    "multi-96-teachers-lpft-cosine-balance-alpha0.8": ("multi-96-teachers-lpft-cos-bal-a08",
                                                       LABELS_08, {}, MULTI),
    # those two with a pixel map trained on a mid-level feature map (dropped at save; at 64x64 it
    # moved gh_sonhaicode and NUAA ACER, not dev); below the shipped recipe on the worst dev
    # source at 96x96 (benchmarks/README.md)
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-pixel": (
        "multi-96-teachers-lpft-cos-bal-a08-pix", {**LABELS_08, "pixel_supervision": 0.5},
        {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel": (
        "multi-96-teachers-lpft-cos-bal-pix", {**BALANCE_96, "pixel_supervision": 0.5}, {}, MULTI),
    # the labels 0.8 one epoch shorter (its seeds had kept epochs 2, 2 and 3 of 4, never the
    # last): shipped before the teachers' recalibration (benchmarks/README.md)
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-epochs3": (
        "multi-96-teachers-lpft-cos-bal-a08-e3", LABELS_08_E3, {}, MULTI),
    # the pixel map one epoch shorter, with the labels 0.5 and with the labels between; below
    # the labels 0.8 on the worst dev source at the first seed (benchmarks/README.md)
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3": (
        "multi-96-teachers-lpft-cos-bal-pix-e3", PIXEL_E3, {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-alpha0.65-pixel-epochs3": (
        "multi-96-teachers-lpft-cos-bal-a065-pix-e3", {**PIXEL_E3, "distill_alpha": 0.65}, {},
        MULTI),
    # that with the teachers' P(spoof) recalibrated on the train labels (Platt scaling) once for all
    # crops (shipped before 104x104) or per training source (0.952 on the worst dev source at the
    # first seed)
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp", CALIBRATED_96, {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-cal", {**PIXEL_E3, "teacher_calibration": "source"},
        {}, MULTI),
    # the 96x96 recipe shipped before with more of the labels (every teacher scores gh_sonhaicode
    # below chance); below it on the worst dev source at the first seed (0.976, 0.965)
    "multi-96-teachers-lpft-cosine-balance-alpha0.65-pixel-epochs3-calibrated-pooled": (
        "multi-96-teachers-lpft-cos-bal-a065-pix-e3-calp", {**CALIBRATED_96, "distill_alpha": 0.65},
        {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-pixel-epochs3-calibrated-pooled": (
        "multi-96-teachers-lpft-cos-bal-a08-pix-e3-calp", {**CALIBRATED_96, "distill_alpha": 0.8},
        {}, MULTI),
    # the 96x96 recipe shipped before with more of the teachers (the labels 0.65 and 0.8 fell on the
    # worst dev source), and with the distillation's temperature doubled; below it on the worst dev
    # source at the first seed (0.982, 0.977)
    "multi-96-teachers-lpft-cosine-balance-alpha0.35-pixel-epochs3-calibrated-pooled": (
        "multi-96-teachers-lpft-cos-bal-a035-pix-e3-calp", {**CALIBRATED_96, "distill_alpha": 0.35},
        {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-t4": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp-t4", {**CALIBRATED_96, "temperature": 4.0},
        {}, MULTI),
    # the 96x96 recipe shipped before with the teachers' wrong-side scores taught as 1 - P
    # (knowledge adjustment): their mistakes on the train crops not distilled; below it on the worst
    # dev source at the first seed (0.977; 0.985 at the second)
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-swap": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp-swap",
        {**CALIBRATED_96, "teacher_correction": "swap"}, {}, MULTI),
    # the corrected teachers (on the label's side everywhere) with a larger share, and the 96x96
    # recipe shipped before at temperature 1; below it on the worst dev source at the first seed
    # (0.969, 0.980)
    "multi-96-teachers-lpft-cosine-balance-alpha0.35-pixel-epochs3-calibrated-pooled-swap": (
        "multi-96-teachers-lpft-cos-bal-a035-pix-e3-calp-swap",
        {**CALIBRATED_96, "teacher_correction": "swap", "distill_alpha": 0.35}, {}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-t1": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp-t1", {**CALIBRATED_96, "temperature": 1.0},
        {}, MULTI),
    # the 96x96 recipe shipped before, its quantization-aware fine-tuning (hard labels, no
    # teacher), which lifts its held-out figures above its float model's, at three times its rate
    # or for twice its epochs; they train that recipe's float models (float_twins) and reuse them;
    # below it on the worst dev source (three seeds 0.976 / 0.984 / 0.977; at the first seed 0.975)
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-qat-lr3e-5": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp-qat-lr3e-5", CALIBRATED_96,
        {"qat_learning_rate": 3e-5}, MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-qat4": (
        "multi-96-teachers-lpft-cos-bal-pix-e3-calp-qat4", CALIBRATED_96, {"qat_epochs": 4},
        MULTI),
    # the 96x96 recipe shipped before at 112x112 (item 5 of #31 puts 112 and 128 on the curve):
    # worst dev source 0.988 / 0.990 / 0.990 at its three seeds, 0.93-0.97x the reference's
    # latency, its build over 10 minutes
    "multi-112-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled": (
        "multi-112-teachers-lpft-cos-bal-pix-e3-calp", SHIPPED_112, {}, MULTI),
    # that recipe with one QAT epoch instead of two, a build's slowest stage (its float models
    # reused); below the 96x96 recipe on the worst dev source at the second seed (0.987, 0.976)
    "multi-112-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-qat1": (
        "multi-112-teachers-lpft-cos-bal-pix-e3-calp-qat1", SHIPPED_112, {"qat_epochs": 1},
        MULTI),
    # the 104x104 recipe (shipped before CDC), between 96 and 112 on the size curve: worst dev
    # source 0.993 / 0.988 / 0.994 at its three seeds; its build 690 s, then 420 s without
    # tf.data's autotuning thread in the decoded crops' stream
    "multi-104-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled": (
        "multi-104-teachers-lpft-cos-bal-pix-e3-calp", CALIBRATED_104, {}, MULTI),
    # that recipe with central difference convolutions (shipped before theta 0.9: worst dev source
    # 0.991 / 0.993 / 0.989 at its three seeds) and with the pixel map weighing as much as the
    # score (0.991 / 0.989 / 0.985)
    "multi-104-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-cdc": (
        "multi-104-teachers-lpft-cos-bal-pix-e3-calp-cdc", CDC_07, {}, MULTI),
    # central difference weighing less and more: theta 0.5 (worst dev source 0.994 / 0.988 at
    # its first two seeds, the second below theta 0.7's worst seed) and theta 0.9 (shipped before
    # theta 0.95: 0.994 / 0.994 / 0.992)
    "multi-104-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-cdc0.5": (
        "multi-104-teachers-lpft-cos-bal-pix-e3-calp-cdc05", {**CALIBRATED_104, "cdc": 0.5}, {},
        MULTI),
    "multi-104-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-cdc0.9": (
        "multi-104-teachers-lpft-cos-bal-pix-e3-calp-cdc09", CDC_09, {}, MULTI),
    # theta 0.95, shipped (worst dev source 0.9953 / 0.9945 / 0.9923): the folded kernel's sum of
    # taps (its response to a flat patch) is (1 - theta) times the trained kernel's, so a step
    # moves it a twentieth as far as the same step moves a plain kernel's (a tenth at theta 0.9)
    "multi-104-teachers-lpft-cosine-balance-pixel-epochs3-calibrated-pooled-cdc0.95": (
        "multi-104-teachers-lpft-cos-bal-pix-e3-calp-cdc095", SHIPPED_RECIPE, {}, MULTI),
    "multi-104-teachers-lpft-cosine-balance-pixel1-epochs3-calibrated-pooled": (
        "multi-104-teachers-lpft-cos-bal-pix1-e3-calp",
        {**CALIBRATED_104, "pixel_supervision": 1.0}, {}, MULTI),
    # the labels 0.8 and the pixel map's recipes with the weights averaged over every step of
    # the whole network's epochs (dense weight averaging, as SWAD): dev scores and keeps the mean
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-average": (
        "multi-96-teachers-lpft-cos-bal-a08-avg", {**LABELS_08, "average_weights": True}, {},
        MULTI),
    "multi-96-teachers-lpft-cosine-balance-pixel-average": (
        "multi-96-teachers-lpft-cos-bal-pix-avg",
        {**BALANCE_96, "pixel_supervision": 0.5, "average_weights": True}, {}, MULTI),
    # the labels 0.8 with webcam-multi nine tenths of the train stream, NUAA one tenth
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-webcam90": (
        "multi-96-teachers-lpft-cos-bal-a08-w90", LABELS_08, {}, MULTI_WEBCAM_90),
    # the labels 0.8 with MixStyle (item 4 of #31, measured before only at 72x72 with the peer)
    "multi-96-teachers-lpft-cosine-balance-alpha0.8-mixstyle": (
        "multi-96-teachers-lpft-cos-bal-a08-mix", {**LABELS_08, "mixstyle": 0.5}, {}, MULTI),
    # source balance with more of the teachers and less of the labels
    "multi-72-teachers-lpft-cosine-balance-alpha0.2": ("multi-72-teachers-lpft-cos-bal-a02",
                                                       {**BALANCE_72, "distill_alpha": 0.2}, {},
                                                       MULTI),
    # the ensemble recipe (no probe), four one-epoch candidates of seeds S, S+1000, S+2000,
    # S+3000, the one with the best worst dev source kept (dev did not rank the candidates as
    # held-out sets do: benchmarks/README.md "webcam-multi v2: how well dev chooses")
    "multi-72-teachers-restarts4": ("multi-72-teachers-r4",
                                    {**ENSEMBLE_72_WORST, "epochs": 1, "restarts": 4}, {}, MULTI),
    # LP-FT with more of the teachers and less of the labels
    "multi-72-teachers-lpft-alpha0.2": ("multi-72-teachers-lpft-a02",
                                        {**LPFT, "distill_alpha": 0.2}, {}, MULTI),
    # the peer-distilled 72x72 recipe with its epoch chosen on the worst dev source instead of
    # pooled dev
    "multi-72-peer-worst": ("multi-72-peer-worst", {**PEER_72, "select_by": "worst-source"},
                            {}, MULTI),
    # each source of a dataset an equal share of the training stream
    "multi-72-peer-balance": ("multi-72-peer-bal", {**PEER_72, "balance": "source"}, {}, MULTI),
    # domain generalization at no inference cost: MixStyle after the first stages
    "multi-72-peer-mixstyle": ("multi-72-peer-mix", {**PEER_72, "mixstyle": 0.5}, {}, MULTI),
    # single-side source-adversarial training (live crops' features alike across sources)
    "multi-72-peer-adversarial": ("multi-72-peer-adv", {**PEER_72, "adversarial": 0.1}, {},
                                  MULTI),
    # the peer-distilled 72x72 recipe with one change more each
    "multi-72-peer-degrade": ("multi-72-peer-deg", {**PEER_72, "degrade": 0.5}, {}, MULTI),
    "multi-72-peer-lr1e-4": ("multi-72-peer-lr1e-4", {**PEER_72, "learning_rate": 1e-4}, {},
                             MULTI),
    "multi-64-smooth": ("multi-64-ls", {"label_smoothing": 0.1, "select_epoch": True}, {}, MULTI),
    "multi-96": ("multi-96", {"input_size": 96}, {}, MULTI),
    "multi-64-50kb": ("multi-64-50kb", {}, {"budget_kb": 50}, MULTI),
    "multi-64-400kb": ("multi-64-400kb", {}, {"budget_kb": 400}, MULTI),
}


def resolve(recipe, data_root, weights_root):
    """(run stem, TrainOptions fields, BuildOptions fields, datasets) of ``recipe`` with its
    datasets (folder names, or (name, share of the train stream) pairs) as ``build``'s list of
    {"data", "protocol", "weight"} under ``data_root`` and its teachers as files under
    ``weights_root``."""
    stem, fields, plan, names = RECIPES[recipe]
    fields = dict(fields)
    if "teacher" in fields:
        teachers = (fields["teacher"],) if isinstance(fields["teacher"], str) else fields["teacher"]
        fields["teacher"] = tuple(str(Path(weights_root) / t) for t in teachers)
    named = [(name, None) if isinstance(name, str) else name for name in names]  # (name, weight)
    data = [{"data": str(Path(data_root) / name), "protocol": None, "weight": weight}
            for name, weight in named]
    return stem, fields, plan, data


def float_twins(recipe):
    """The other recipes that train the same float model as ``recipe``: the same datasets,
    training options and contraction, their build options differing only in quantization. Their
    runs at one seed can share the float model (``benchmarks/generalization.py`` reuses it)."""
    quantization = {f.name for f in dataclasses.fields(QuantizationConfig)}

    def training(name):
        _, options, plan, names = RECIPES[name]
        return options, {k: v for k, v in plan.items() if k not in quantization}, names

    return [name for name in RECIPES if name != recipe and training(name) == training(recipe)]
