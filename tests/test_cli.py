import json

from click.testing import CliRunner

from amma_edge.cli import main


def test_models_table_names_each_preset_and_the_convention():
    result = CliRunner().invoke(main, ["models", "--model", "amma-s", "--model", "amma-m"])
    assert result.exit_code == 0, result.output
    assert "multiply-adds" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("amma-")]
    assert [line.split()[0] for line in lines] == ["amma-s", "amma-m"]
    assert "1×3×4×3×288×288" in result.output


def test_models_json_carries_the_same_figures():
    result = CliRunner().invoke(main, ["models", "--json", "--model", "amma-s"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (entry,) = data["models"]
    assert entry["name"] == "amma-s"
    assert entry["stream_macs"] == entry["encoder_macs"] + entry["head_macs"]
    assert entry["full_pass_macs"] == 3 * entry["encoder_macs"] + entry["head_macs"]
    assert 5e6 < entry["params"] < 7e6


def test_unknown_model_is_a_one_line_error_not_a_traceback():
    result = CliRunner().invoke(main, ["models", "--model", "amma-xxl"])
    assert result.exit_code != 0
    assert "unknown model 'amma-xxl'" in result.output and "Traceback" not in result.output
