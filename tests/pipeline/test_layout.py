"""The shape the project promises: thin stage scripts that import only the library, params
validation without torch, and every stage script wired into dvc.yaml."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGES = sorted((ROOT / "stages").glob("*.py"))


def test_stage_scripts_are_wiring_only():
    """A few lines each, importing the library (never another stage) and defining nothing."""
    assert STAGES
    for script in STAGES:
        tree = ast.parse(script.read_text())
        assert len(script.read_text().splitlines()) <= 40, script.name
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module and node.module.split(".")[0] in ("gatedvae", "dataclasses", "__future__"), \
                    f"{script.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                raise AssertionError(f"{script.name}: plain import {[a.name for a in node.names]}")
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef)), f"{script.name} defines {node.name}"


def test_every_stage_script_runs_in_a_dvc_stage_and_back():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    used = {word for stage in stages.values() for word in stage["cmd"].split() if word.startswith("stages/")}
    assert used == {f"stages/{s.name}" for s in STAGES}


def test_params_validation_imports_no_torch():
    code = ("import sys\n"
            "from gatedvae import params as P\n"
            "from gatedvae.dsprites.config import check_dsprites, train_config\n"
            "from gatedvae.faces.config import check_faces\n"
            "p = P.load('params.yaml')\n"
            "check_dsprites(p); check_faces(p)\n"
            "train_config(p, model='factor_vae', gating='gated', seed=0)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
