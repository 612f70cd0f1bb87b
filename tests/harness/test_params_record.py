"""Unit tests of gatedvae.params: which dotted keys a stage reads, and the record it leaves."""

from __future__ import annotations

import json

import pytest

from gatedvae import params as P


@pytest.fixture(autouse=True)
def _no_record_env(monkeypatch):
    monkeypatch.delenv(P.RECORD_ENV, raising=False)
    monkeypatch.delenv("DVC_STAGE", raising=False)


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "a:\n"
        "  b: 1\n"
        "  c: {d: 2.5, e: fast}\n"
        "top: 7\n"
    )
    return P.load(path)


def test_load_returns_params_with_nothing_read(params, tmp_path):
    assert isinstance(params, P.Params)
    assert params.path == tmp_path / "params.yaml"
    assert params.read == set()
    assert params.recording is True
    assert params == {"a": {"b": 1, "c": {"d": 2.5, "e": "fast"}}, "top": 7}


def test_get_number_choice_record_dotted_keys(params):
    assert P.get(params, "a.b") == 1
    assert P.number(params, "a.c.d", positive=True) == 2.5
    assert P.choice(params, "a.c.e", ["slow", "fast"]) == "fast"
    assert params.read == {"a.b", "a.c.d", "a.c.e"}


def test_plain_dict_access_is_not_recorded(params):
    assert params["top"] == 7 and params["a"]["b"] == 1
    assert params.read == set()


def test_a_read_that_falls_back_to_its_default_is_recorded(params):
    assert P.get(params, "a.missing", None) is None
    assert params.read == {"a.missing"}


def test_a_failed_read_is_still_recorded(params):
    with pytest.raises(P.ParamError, match="missing key `a.nope`"):
        P.get(params, "a.nope")
    assert params.read == {"a.nope"}


def test_unrecorded_suppresses_and_restores(params):
    P.get(params, "top")
    with P.unrecorded(params):
        assert params.recording is False
        P.get(params, "a.b")
        P.number(params, "a.c.d")
        P.choice(params, "a.c.e", ["fast"])
    assert params.recording is True
    P.get(params, "a.c")
    assert params.read == {"top", "a.c"}


def test_unrecorded_restores_after_an_exception(params):
    with pytest.raises(P.ParamError):
        with P.unrecorded(params):
            P.number(params, "a.c.e")  # a string: ParamError
    assert params.recording is True
    assert params.read == set()
    P.get(params, "a.b")
    assert params.read == {"a.b"}


def test_nested_unrecorded_keeps_suppressing_until_the_outer_block_ends(params):
    with P.unrecorded(params):
        with P.unrecorded(params):
            P.get(params, "a.b")
        assert params.recording is False
        P.get(params, "top")
    assert params.recording is True
    assert params.read == set()


def test_unrecorded_accepts_a_plain_dict():
    plain = {"x": 1}
    with P.unrecorded(plain):
        assert P.get(plain, "x") == 1


# --- write_record -------------------------------------------------------------------------------

def test_write_record_writes_sorted_keys_named_by_dvc_stage(params, tmp_path, monkeypatch):
    log = tmp_path / "log" / "deeper"
    monkeypatch.setenv(P.RECORD_ENV, str(log))
    monkeypatch.setenv("DVC_STAGE", "dsprites_train@beta_vae-gated-0")
    for key in ("top", "a.c.e", "a.b"):
        P.get(params, key)
    P.write_record(params)
    files = list(log.iterdir())
    assert [f.name for f in files] == ["dsprites_train@beta_vae-gated-0.json"]
    assert json.loads(files[0].read_text()) == {"stage": "dsprites_train@beta_vae-gated-0",
                                                "keys": ["a.b", "a.c.e", "top"]}


def test_write_record_stage_argument_works_without_dvc_stage(params, tmp_path, monkeypatch):
    monkeypatch.setenv(P.RECORD_ENV, str(tmp_path))
    P.get(params, "a.b")
    P.write_record(params, stage="report")
    assert json.loads((tmp_path / "report.json").read_text()) == {"stage": "report", "keys": ["a.b"]}


def test_write_record_stage_argument_wins_over_dvc_stage(params, tmp_path, monkeypatch):
    monkeypatch.setenv(P.RECORD_ENV, str(tmp_path))
    monkeypatch.setenv("DVC_STAGE", "from_env")
    P.write_record(params, stage="given")
    assert sorted(f.name for f in tmp_path.iterdir() if f.suffix == ".json") == ["given.json"]


def test_write_record_makes_stage_names_file_safe(params, tmp_path, monkeypatch):
    monkeypatch.setenv(P.RECORD_ENV, str(tmp_path / "log"))
    P.write_record(params, stage="sub/dvc.yaml:train@x")
    record = json.loads((tmp_path / "log" / "sub_dvc.yaml_train@x.json").read_text())
    assert record == {"stage": "sub/dvc.yaml:train@x", "keys": []}


def test_write_record_does_nothing_without_the_folder(params, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_STAGE", "train")
    P.get(params, "a.b")
    P.write_record(params)
    P.write_record(params, stage="train")
    assert list(tmp_path.rglob("*.json")) == []


def test_write_record_does_nothing_without_a_stage(params, tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv(P.RECORD_ENV, str(log))
    P.get(params, "a.b")
    P.write_record(params)
    assert not log.exists()


def test_write_record_ignores_a_plain_dict(tmp_path, monkeypatch):
    log = tmp_path / "log"
    monkeypatch.setenv(P.RECORD_ENV, str(log))
    monkeypatch.setenv("DVC_STAGE", "train")
    P.write_record({"a": 1})
    assert not log.exists()
