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


def test_training_flags_are_made_from_the_option_fields():
    """Each option field of TrainOptions is a flag of train and build, with its help and default
    written once, beside the field."""
    import dataclasses

    from antispoof.core.fields import flag
    from antispoof.training.options import TrainOptions

    for command in ("train", "build"):
        params = {p.name: p for p in main.commands[command].params}
        for f in dataclasses.fields(TrainOptions):
            if not f.metadata.get("cli") or (command == "build" and f.name in ("arch", "strategy")):
                assert f.name not in params or not f.metadata.get("cli", True), (command, f.name)
                continue
            param = params[f.name]
            assert flag(f.name) in param.opts and param.default is None, (command, f.name)
            assert param.help.startswith(f.metadata["help"].rstrip(".")) and "(default " in param.help


@pytest.mark.parametrize("args, says", [
    (["--epochs", "0"], "'--epochs': 0 is not in the range x>=1"),
    (["--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
    (["--input-size", "7"], "'--input-size': 7 is not in the range x>=32"),
    (["--init", "no-such-backbone.keras"], "'--init': Path 'no-such-backbone.keras' does not exist"),
    (["--lr-schedule", "linear"], "'--lr-schedule': 'linear' is not one of 'constant', 'cosine'"),
    (["--weights", "no-such.h5"], "'--weights': no-such.h5: no such file"),
])
def test_options_are_checked_when_parsed_in_one_line(args, says, tmp_path):
    """A bad flag is one line and exit status 2 before any work: no run folder is made."""
    result = CliRunner().invoke(main, ["build", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                                       *args])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: Invalid value for ") and says in line, line
    assert not (tmp_path / "run").exists()


def test_options_made_in_code_obey_the_same_ranges():
    from antispoof.core.errors import AntispoofError
    from antispoof.training.options import TrainOptions

    for fields, says in (({"epochs": 0}, "--epochs takes ≥ 1, not 0"),
                         ({"label_smoothing": 1.0}, "--label-smoothing takes 0 ≤ x < 1, not 1.0"),
                         ({"lr_schedule": "linear"}, r"unknown lr schedule 'linear' \(--lr-schedule\): choose one"),
                         # the distillation loss has no smoothing: said, not silently ignored
                         ({"label_smoothing": 0.1, "teacher": "runs/teacher"},
                          "--label-smoothing smooths the hard labels of training without a teacher")):
        with pytest.raises(AntispoofError, match=says):
            TrainOptions(**fields)
