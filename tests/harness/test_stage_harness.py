"""Unit tests of gatedvae.stage: the harness every DVC stage script runs through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gatedvae import params as P
from gatedvae.errors import StageError
from gatedvae.stage import arg, run


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Each test runs in its own folder with a small params.yaml and no params recording."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(P.RECORD_ENV, raising=False)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    (tmp_path / "params.yaml").write_text("compute:\n  threads: 1\nsection:\n  value: 3\n  name: default-file\n")


def exit_code(work, *arguments, argv=()):
    with pytest.raises(SystemExit) as info:
        run(work, "doc", *arguments, argv=list(argv))
    return info.value.code


# --- arg -------------------------------------------------------------------------------------

def test_arg_is_required_without_default_or_action():
    assert arg("--out") == (("--out",), {"required": True})


def test_arg_with_default_or_action_is_optional():
    assert arg("--n", type=int, default=3) == (("--n",), {"type": int, "default": 3})
    assert arg("--flag", action="store_true") == (("--flag",), {"action": "store_true"})


def test_arg_keeps_an_explicit_required_false():
    assert arg("--x", required=False) == (("--x",), {"required": False})


# --- exit codes --------------------------------------------------------------------------------

@pytest.mark.parametrize("returned, expected", [(None, 0), (0, 0), (1, 1)])
def test_exit_code_is_what_work_returns(returned, expected):
    assert exit_code(lambda params: returned) == expected


def test_work_gets_loaded_params_and_arguments_as_keywords():
    seen = {}

    def work(params, *, out, n, flag):
        seen.update(params=params, out=out, n=n, flag=flag)

    code = exit_code(work, arg("--out"), arg("--n", type=int, default=7), arg("--flag", action="store_true"),
                     argv=["--out", "x/y.json", "--flag"])
    assert code == 0
    assert seen["out"] == "x/y.json" and seen["n"] == 7 and seen["flag"] is True
    assert isinstance(seen["params"], P.Params)
    assert seen["params"]["section"] == {"value": 3, "name": "default-file"}


def test_missing_required_argument_is_an_argparse_error(capsys):
    called = []
    code = exit_code(lambda params, out: called.append(out), arg("--out"), argv=[])
    assert code == 2
    assert called == []
    assert "--out" in capsys.readouterr().err


def test_stage_error_becomes_exit_2_with_its_message(capsys):
    def work(params):
        raise StageError("data/x.npz: not found; run the acquire stage")

    assert exit_code(work) == 2
    err = capsys.readouterr().err
    assert err == "error: data/x.npz: not found; run the acquire stage\n"


def test_param_error_from_a_checker_becomes_exit_2_naming_the_key(capsys):
    def work(params):
        P.number(params, "section.name", integer=True)  # a string: ParamError

    assert exit_code(work) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params.yaml: `section.name` must be an integer")
    assert "Traceback" not in err


def test_other_exceptions_are_not_swallowed():
    def work(params):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run(work, "doc", argv=[])


# --- the params file ---------------------------------------------------------------------------

def test_params_option_picks_another_file(tmp_path):
    other = tmp_path / "elsewhere" / "other.yaml"
    other.parent.mkdir()
    other.write_text("compute:\n  threads: 1\nsection:\n  name: other-file\n")
    seen = []
    code = exit_code(lambda params: seen.append((params["section"]["name"], params.path)),
                     argv=["--params", str(other)])
    assert code == 0
    assert seen == [("other-file", other)]


def test_missing_params_file_is_exit_2_naming_it(tmp_path, capsys):
    called = []
    code = exit_code(lambda params: called.append(1), argv=["--params", "nowhere/missing.yaml"])
    assert code == 2
    assert called == []
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere/missing.yaml" in err and "not found" in err


def test_invalid_yaml_is_exit_2_naming_the_file(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    assert exit_code(lambda params: 0, argv=["--params", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.yaml: not valid YAML")


# --- the params record -------------------------------------------------------------------------

def test_record_is_written_even_when_work_fails(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv(P.RECORD_ENV, str(log))
    monkeypatch.setenv("DVC_STAGE", "some_stage@a")

    def work(params):
        P.get(params, "section.value")
        raise StageError("late failure")

    assert exit_code(work) == 2
    record = json.loads((log / "some_stage@a.json").read_text())
    assert record == {"stage": "some_stage@a", "keys": ["compute.threads", "section.value"]}


# --- as a real process ---------------------------------------------------------------------------

def test_stage_script_process_prints_no_traceback(tmp_path):
    script = tmp_path / "stage_script.py"
    script.write_text(textwrap.dedent('''
        """A stage."""
        from gatedvae.errors import StageError
        from gatedvae.stage import arg, run

        def work(params, *, out):
            raise StageError(f"{out}: cannot write")

        run(work, __doc__, arg("--out"))
    '''))
    done = subprocess.run([sys.executable, str(script), "--out", "o.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30,
                          env={k: v for k, v in os.environ.items()
                               if k not in (P.RECORD_ENV, "DVC_STAGE")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "error: o.json: cannot write"
    assert "Traceback" not in done.stderr
