"""python -m engine: list, run with presets and --set, files written with --out, exit 2 on bad input."""

import json
import subprocess
import sys
from pathlib import Path

from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_list_names_every_technique():
    out = cli("list")
    assert out.returncode == 0 and "xai" in out.stdout and "Explainable AI" in out.stdout


def test_run_prints_metrics_and_writes_files(tmp_path):
    out = cli("run", "xai", "--set", "dataset=iris", "--set", "epochs=80", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert metrics["test_accuracy"] > 0.8 and metrics["shap_additivity_error"] < 1e-3
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 80
    assert (tmp_path / "history.csv").read_text().startswith("step,")
    weights = load_file(tmp_path / "model.safetensors")
    assert any(k.startswith("mlp.") for k in weights)


def test_bad_input_exits_2_with_the_message():
    out = cli("run", "xai", "--set", "epochs=0")
    assert out.returncode == 2 and "`epochs` must be >= 1, but got 0" in out.stderr
    out = cli("run", "nope")
    assert out.returncode == 2 and "Unknown technique 'nope'" in out.stderr
    out = cli("run", "xai", "--set", "colour=red")
    assert out.returncode == 2 and "not a setting" in out.stderr


def test_out_of_range_settings_are_refused_before_torch_is_imported():
    """A typo should answer in well under a second, not after torch's multi-second import."""
    code = (
        "import sys; from engine.__main__ import main; rc = main(['run', 'gan', '--set', 'epochs=999999']); "
        "print(rc, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stdout + out.stderr
    assert "epochs" in out.stderr
