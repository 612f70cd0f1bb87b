"""Unit tests of gatedvae.training.run: a run's dvclive curve and its checkpoint folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gatedvae.training.run import checkpoint_dir, training_curve


def write_tsv(log_dir: Path, key: str, rows: list[tuple[int, float]]) -> None:
    folder = log_dir / "plots" / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"step\t{key}"] + [f"{step}\t{value!r}" for step, value in rows]
    (folder / f"{key}.tsv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def log_dir(tmp_path):
    log = tmp_path / "reports" / "runs" / "beta_vae-gated-0" / "train"
    write_tsv(log, "loss", [(0, 30.5), (1, 20.25), (2, 15.125)])
    write_tsv(log, "recon", [(0, 28.0), (1, 18.5), (2, 14.0)])
    write_tsv(log, "regulariser", [(0, 2.5), (1, 1.75), (2, 1.125)])
    # another metric dvclive logs (a part of the objective): not part of the curve
    write_tsv(log, "kl", [(0, 9.0), (1, 8.0), (2, 7.0)])
    return log


def test_training_curve_rows_columns_and_values(log_dir):
    curve = training_curve(log_dir, "beta_vae-gated-0")
    assert list(curve.columns) == ["run", "epoch", "loss", "recon", "regulariser"]
    expected = pd.DataFrame({
        "run": ["beta_vae-gated-0"] * 3,
        "epoch": [1, 2, 3],
        "loss": [30.5, 20.25, 15.125],
        "recon": [28.0, 18.5, 14.0],
        "regulariser": [2.5, 1.75, 1.125],
    })
    pd.testing.assert_frame_equal(curve, expected, check_dtype=False)
    assert curve["epoch"].dtype.kind == "i"


def test_training_curve_accepts_a_string_path(log_dir):
    assert len(training_curve(str(log_dir), "r")) == 3


def test_training_curve_aligns_metrics_by_step_not_by_line(tmp_path):
    write_tsv(tmp_path, "loss", [(0, 1.0), (1, 2.0)])
    write_tsv(tmp_path, "recon", [(1, 20.0), (0, 10.0)])  # lines in another order
    write_tsv(tmp_path, "regulariser", [(0, 100.0), (1, 200.0)])
    curve = training_curve(tmp_path, "x").sort_values("epoch").reset_index(drop=True)
    assert curve["epoch"].tolist() == [1, 2]
    assert curve["recon"].tolist() == [10.0, 20.0]
    assert curve["regulariser"].tolist() == [100.0, 200.0]


def test_training_curve_of_two_runs_concatenates_with_their_names(log_dir, tmp_path):
    other = tmp_path / "other"
    for key in ("loss", "recon", "regulariser"):
        write_tsv(other, key, [(0, 5.0)])
    both = pd.concat([training_curve(log_dir, "a"), training_curve(other, "b")], ignore_index=True)
    assert both["run"].tolist() == ["a", "a", "a", "b"]
    assert both["epoch"].tolist() == [1, 2, 3, 1]


def test_training_curve_missing_metric_file_names_it(tmp_path):
    write_tsv(tmp_path, "loss", [(0, 1.0)])
    write_tsv(tmp_path, "recon", [(0, 1.0)])
    with pytest.raises(FileNotFoundError, match="regulariser.tsv"):
        training_curve(tmp_path, "x")


def test_training_curve_reads_what_dvclive_writes(tmp_path):
    """The hand-made layout above is the one dvclive itself writes."""
    dvclive = pytest.importorskip("dvclive")
    live = dvclive.Live(dir=str(tmp_path / "log"), save_dvc_exp=False, dvcyaml=None, report=None)
    for epoch in range(2):
        live.log_metric("loss", 10.0 + epoch)
        live.log_metric("recon", 8.0 + epoch)
        live.log_metric("regulariser", 2.0 + epoch)
        live.next_step()
    live.end()
    curve = training_curve(tmp_path / "log", "live")
    assert curve["epoch"].tolist() == [1, 2]
    assert curve["loss"].tolist() == [10.0, 11.0]
    assert curve["recon"].tolist() == [8.0, 9.0]
    assert curve["regulariser"].tolist() == [2.0, 3.0]


# --- checkpoint_dir ------------------------------------------------------------------------------

@pytest.mark.parametrize("model_out, phase, expected", [
    ("models/dsprites/beta_vae-gated-0/model.pt", "train", "checkpoints/models/dsprites/beta_vae-gated-0/train"),
    ("models/dsprites/beta_vae-gated-0/finetuned.pt", "finetune",
     "checkpoints/models/dsprites/beta_vae-gated-0/finetune"),
    ("model.pt", "train", "checkpoints/train"),
])
def test_checkpoint_dir_mirrors_the_model_folder(model_out, phase, expected):
    assert checkpoint_dir(model_out, phase) == Path(expected)
    assert checkpoint_dir(Path(model_out), phase) == Path(expected)


def test_checkpoint_dirs_of_two_runs_and_two_phases_differ():
    dirs = {checkpoint_dir(f"models/faces/{run}/model.pt", phase)
            for run in ("gated", "ungated") for phase in ("train", "finetune")}
    assert len(dirs) == 4
