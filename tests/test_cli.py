"""Every command answers --help, quickly and without loading TensorFlow."""
import pytest
from click.testing import CliRunner

from antispoof.cli import main

COMMANDS = ["contract", "train", "quantize", "evaluate", "build", "explain", "report", "info", "bench",
            "demo"]


def test_group_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: main {command}" in result.output or f"Usage: antispoof {command}" in result.output
    assert "--help" in result.output


def test_missing_required_option_is_a_usage_error():
    result = CliRunner().invoke(main, ["train"])
    assert result.exit_code == 2 and "--data" in result.output
