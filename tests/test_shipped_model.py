"""The shipped default model: its contract, its NUAA test metrics, the demo, and the command and
benchmark recipe that made it."""
import json
from dataclasses import fields, replace
from pathlib import Path

import pytest

from antispoof.compress.config import QuantizationConfig
from antispoof.core.rundir import CONTRACT_FILE
from antispoof.core.shipped import DEFAULT_MODEL
from antispoof.evaluation.evaluate import evaluate
from antispoof.pipeline.build import BuildOptions
from antispoof.pipeline.demo import demo
from antispoof.pipeline.recipes import (CALIBRATED_96, RECIPES, SHIPPED_RECIPE, float_twins,
                                        resolve)
from antispoof.runtime.info import model_info
from antispoof.training.options import TrainOptions
from conftest import NUAA, REPO, SHARED

CONTRACT = DEFAULT_MODEL.with_name(CONTRACT_FILE)


def test_shipped_model_is_int8_and_matches_its_contract():
    info = model_info(DEFAULT_MODEL)
    contract = json.loads(CONTRACT.read_text())
    assert info["input_dtype"] == "int8" and info["quantization"].startswith("full-integer")
    assert contract["model"] == DEFAULT_MODEL.name
    assert contract["input_size"] == info["input_shape"][0]
    assert contract["input"]["scale"] == info["inputs"][0]["quantization"]["scale"]


@pytest.mark.shared
def test_shipped_model_on_nuaa_test_split():
    result = evaluate(DEFAULT_MODEL, NUAA, "test")
    assert result["auc"] >= 0.98
    assert result["threshold"] == pytest.approx(json.loads(CONTRACT.read_text())["threshold"])


@pytest.mark.shared
def test_demo_benchmarks_and_classifies():
    lines = []
    timing, rows = demo(data=NUAA, webcam=SHARED / "data" / "webcam-multi", echo=lines.append)
    assert timing["runtime"] == "litert" and timing["inference"]["p50"] > 0
    assert len(rows) == 16 and {r["truth"] for r in rows} == {"real", "spoof"}
    assert any("correct" in line for line in lines)
    screen = [r for r in rows if "webcam-multi" in r["file"] and r["truth"] == "spoof"]
    assert len(screen) == 4 and any("screen replays" in line for line in lines)


def _shell_block_after(text, marker):
    """The first ```sh block after ``marker`` in a Markdown text, as one line per command."""
    block = text.split(marker, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [" ".join(command.split()) for command in block.replace("\\\n", " ").splitlines()]


def test_the_readmes_give_the_command_that_built_the_shipped_model():
    contract = json.loads(CONTRACT.read_text())
    readme = _shell_block_after((REPO / "README.md").read_text(),
                                "The build that produced `models/antispoof_int8.tflite`")
    shipped = _shell_block_after(DEFAULT_MODEL.with_name("README.md").read_text(), "Built with")
    assert readme == shipped
    build = readme[0].split()
    assert build[build.index("--input-size") + 1] == str(contract["input_size"])
    assert "--seed" in build and readme[1].startswith("antispoof export ")


def test_the_model_card_names_each_teacher_with_its_weight_and_licence():
    import re

    card = DEFAULT_MODEL.with_name("MODEL_CARD.md").read_text()
    for teacher in SHIPPED_RECIPE["teacher"]:
        assert re.search(rf"^\| {re.escape(Path(teacher).name)} \| [01]\.\d\d \| (Apache License|BSD 3-Clause "
                         r"License) \|$", card, re.M), teacher


def test_the_model_card_and_the_models_readme_give_one_latency():
    import re

    card = DEFAULT_MODEL.with_name("MODEL_CARD.md").read_text()
    readme = DEFAULT_MODEL.with_name("README.md").read_text()
    card_p50 = re.search(r"Latency: p50 ([\d.]+) ms", card)[1]
    readme_p50 = re.search(r"^Latency \(measured by `antispoof export`.*?p50\s+([\d.]+) ms", readme,
                           re.S | re.M)[1]
    assert card_p50 == readme_p50


@pytest.mark.shared
def test_the_benchmarks_shipped_recipe_is_the_readmes_build_command():
    """SHIPPED_RECIPE (what benchmarks/generalization.py measured over three seeds) has the
    flags of the build command that made the shipped file, and every recipe is a valid build."""
    build = _shell_block_after((REPO / "README.md").read_text(),
                               "The build that produced `models/antispoof_int8.tflite`")[0].split()
    for field, value in SHIPPED_RECIPE.items():
        flag = "--" + field.replace("_", "-")
        assert flag in build, flag
        given = [build[i + 1] for i, arg in enumerate(build) if arg == flag]  # a flag may repeat
        if isinstance(value, tuple):  # --teacher A --teacher B, in this order
            assert [Path(v).name for v in given] == [Path(v).name for v in value], flag
        elif value is not True:
            assert given == [given[0]] and Path(given[0]).name == Path(str(value)).name, flag
    options = {arg[2:].replace("-", "_") for arg in build if arg.startswith("--")}
    assert options - set(SHIPPED_RECIPE) <= {"data", "weights", "epochs", "seed", "out"}
    assert int(build[build.index("--epochs") + 1]) == SHIPPED_RECIPE.get("epochs", TrainOptions().epochs)
    # a build without --input-size makes the shipped model's size
    assert TrainOptions().input_size == SHIPPED_RECIPE["input_size"] == json.loads(CONTRACT.read_text())["input_size"]

    for name in RECIPES:
        _, fields, plan, data = resolve(name, SHARED / "data", SHARED / "weights")
        TrainOptions(**{"input_size": 64, **fields, "seed": 0})  # checks its fields
        replace(BuildOptions(), **plan)
        assert all(Path(d["data"]).is_dir() for d in data), name
        assert all(Path(t).is_file() for t in fields.get("teacher", ())), name


def test_recipes_equal_but_for_quantization_share_their_float_model():
    """float_twins pairs exactly the recipes of the same datasets, training options and
    contraction: the 96x96 recipe shipped before has its two QAT variants as twins, not the
    shipped recipe (the same at 104x104)."""
    before = next(name for name, (_, options, plan, _) in RECIPES.items()
                  if options is CALIBRATED_96 and not plan)
    twins = float_twins(before)
    assert sorted(key for t in twins for key in RECIPES[t][2]) == ["qat_epochs", "qat_learning_rate"]
    assert not any(RECIPES[name][1] is SHIPPED_RECIPE for name in twins)
    quantization = {f.name for f in fields(QuantizationConfig)}
    for name, (_, options, plan, data) in RECIPES.items():
        found = set(float_twins(name))
        for other, (_, other_options, other_plan, other_data) in RECIPES.items():
            differ = {k for k in {*plan, *other_plan} if plan.get(k) != other_plan.get(k)}
            same_float = (other != name and options == other_options and data == other_data
                          and differ <= quantization)
            assert (other in found) == same_float, (name, other)
