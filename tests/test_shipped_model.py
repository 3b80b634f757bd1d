"""The shipped default model: its contract, its NUAA test metrics, and the demo."""
import json

import pytest

from antispoof.demo import DEFAULT_MODEL, demo
from antispoof.evaluate import evaluate
from antispoof.info import model_info
from conftest import NUAA

CONTRACT = DEFAULT_MODEL.with_name("model.json")


def test_shipped_model_is_int8_and_matches_its_contract():
    info = model_info(DEFAULT_MODEL)
    contract = json.loads(CONTRACT.read_text())
    assert info["input_dtype"] == "int8" and info["quantization"].startswith("full-integer")
    assert contract["model"] == DEFAULT_MODEL.name
    assert contract["input_size"] == info["input_shape"][0]
    assert contract["input"]["scale"] == info["inputs"][0]["quantization"]["scale"]


def test_shipped_model_on_nuaa_test_split():
    result = evaluate(DEFAULT_MODEL, NUAA, "test")
    assert result["auc"] >= 0.98
    assert result["threshold"] == pytest.approx(json.loads(CONTRACT.read_text())["threshold"])


def test_demo_benchmarks_and_classifies():
    lines = []
    timing, rows = demo(echo=lines.append)
    assert timing["runtime"] == "litert" and timing["inference"]["p50"] > 0
    assert len(rows) == 8 and {r["truth"] for r in rows} == {"real", "spoof"}
    assert any("correct" in line for line in lines)
