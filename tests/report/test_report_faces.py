"""The report's faces section: a collapsed run is flagged instead of interpreted, the remedies and
the main runs are named, and the paper-faithful run stands beside the main ones."""

import json

from gatedvae.faces.evaluate import best_gated_run
from gatedvae.report.document import Report
from gatedvae.report.faces import faces_section


def _summary(pose, expression, collapsed, seeds=2):
    mean = {"rf_placement_pose": pose, "rf_placement_expression": expression, "rf_disentanglement": 0.2,
            "rf_completeness": 0.3, "rf_informativeness": 0.9, "lasso_disentanglement": 0.1,
            "lasso_completeness": 0.2, "lasso_informativeness": 0.95, "kl_pose": 0.5, "kl_expression": 3.0,
            "active_pose": 1.5, "active_expression": 6.0, "recon_vs_mean_face": 0.8, "test_elbo": -2800.0,
            "test_recon_bce": 2790.0, "test_kl": 3.5, "collapsed": collapsed / seeds}
    return {"mean": mean, "std": {k: 0.01 for k in mean}, "seeds": seeds, "collapsed_seeds": collapsed}


def _metrics(tmp_path):
    recipes = {"gated-faithful": _summary(0.31, 0.70, collapsed=2),
               "gated-self_target": _summary(0.62, 0.91, collapsed=0),
               "gated-free_bits": _summary(0.55, 0.88, collapsed=0),
               "ungated-faithful": _summary(0.27, 0.74, collapsed=0)}
    metrics = {"main_runs": {"gated": "gated-self_target", "ungated": "ungated-faithful"},
               "gated": recipes["gated-self_target"], "ungated": recipes["ungated-faithful"],
               "faithful": recipes["gated-faithful"], "recipes": recipes,
               "best_gated_run": best_gated_run(recipes),
               "factor_variance_shares": {"pose": 0.3, "expression": 0.1, "identity": 0.4},
               "pair_variance_explained": {"pose": 0.2, "expression": 0.05}}
    path = tmp_path / "faces.json"
    path.write_text(json.dumps(metrics))
    return path


def test_best_gated_run_skips_collapsed_and_ungated_runs(tmp_path):
    metrics = json.loads(_metrics(tmp_path).read_text())
    assert metrics["best_gated_run"] == "gated-self_target"
    assert best_gated_run({"gated-faithful": _summary(0.9, 0.9, collapsed=1)}) is None


def test_faces_section_flags_collapse_and_names_remedies(tmp_path):
    report = Report("t")
    faces_section(report, _metrics(tmp_path), tmp_path, [6, 18],
                  {"faithful": {}, "self_target": {"self_target_prob": 0.25,
                                                   "self_target_partitions": ["expression"]}})
    text = report.to_markdown(tmp_path)
    assert "collapsed (0.310 ± 0.010)" in text          # the faithful run's placement is not a result
    assert "0.620 ± 0.010" in text                       # the main gated run's placement is
    assert "self_target_prob 0.25" in text and "| none |" in text
    assert "**gated-self_target**" in text
    assert "faithful (gated-faithful)" in text           # beside the main runs
    assert "pose 0.25, expression 0.75" in text          # the chance level: the partition shares


def test_budget_and_paired_differences_are_reported(tmp_path):
    """The main runs' budget (epochs against the study's, measured minutes per part) and the
    gated - un-gated intervals appear with their numbers."""
    path = _metrics(tmp_path)
    metrics = json.loads(path.read_text())
    metrics["budget"] = {"study": {"epochs": 3, "seeds": [0]}, "main": {"epochs": 15, "seeds": [0, 1]}}
    metrics["gated_minus_ungated"] = {
        "rf_placement_pose": {"mean": 0.35, "ci95_low": 0.1, "ci95_high": 0.6, "excludes_zero": True, "n": 2},
        "test_elbo": {"mean": -4.0, "ci95_low": None, "ci95_high": None, "excludes_zero": None, "n": 1}}
    path.write_text(json.dumps(metrics))
    stage_rows = [{"stage": "faces_main_train", "runs": 4, "total": 540.0},
                  {"stage": "faces_train", "runs": 7, "total": 180.0},
                  {"stage": "faces_evaluate", "runs": 1, "total": 120.0},
                  {"stage": "faces_sweeps", "runs": 1, "total": 6.0}]
    report = Report("t")
    faces_section(report, path, tmp_path, [6, 18], {}, stage_rows=stage_rows,
                  epochs={"faces.main_runs.epochs": 15, "faces.train.epochs": 3})
    text = report.to_markdown(tmp_path)
    assert "see 5x the images of a study run" in text
    assert "**14.1 min** for the faces branch" in text                 # (540 + 180 + 120 + 6) / 60
    assert "| main runs | faces_main_train | 4 | 15 | 9.0 |" in text
    assert "| evaluation, figures and sweeps | faces_evaluate, faces_sweeps | 2 |  | 2.1 |" in text
    assert "| RF placement: pose | +0.350 | [+0.100, +0.600] (excludes 0) | 2 |" in text
    assert "| test ELBO (nats) | -4.000 | n/a (one seed pair) | 1 |" in text


def test_speed_table_from_the_conv_step_benchmark(tmp_path):
    """The report's speed table: each option's images/s, its ratio to today's step and whether it
    keeps today's bytes, read from benchmarks/conv_step.py's JSON."""
    bench = tmp_path / "conv_step.json"
    bench.write_text(json.dumps({"torch": "2.13.0+cpu", "threads": 2, "rows": [
        {"option": "today", "images_per_second": 1552.3, "ratio": 1.0, "same_bytes_as_today": None},
        {"option": "channels-last", "images_per_second": 2032.2, "ratio": 1.309,
         "same_bytes_as_today": {"identical": False, "max_abs_difference": 9.7e-06}},
        {"option": "batch 128", "images_per_second": 1273.8, "ratio": 0.821, "same_bytes_as_today": None}]}))
    report = Report("t")
    faces_section(report, _metrics(tmp_path), tmp_path, [6, 18], {}, conv_step=bench)
    text = report.to_markdown(tmp_path)
    assert "| today | 1,552 | 1.00x | (baseline) |" in text
    assert "| channels-last | 2,032 | 1.31x | no (max difference 9.7e-06) |" in text
    assert "| batch 128 | 1,274 | 0.82x | (another step) |" in text


def test_pair_methods_stand_beside_the_gated_main_run_with_their_intervals(tmp_path):
    path = _metrics(tmp_path)
    metrics = json.loads(path.read_text())
    ada = _summary(0.40, 0.80, collapsed=0)
    for s, value in ((ada, 0.3), (metrics["gated"], 0.2)):
        s["mean"]["test_variance_explained"], s["std"]["test_variance_explained"] = value, 0.01
    ada["minus_gated"] = {
        "rf_placement_pose": {"mean": -0.22, "ci95_low": -0.4, "ci95_high": -0.04, "excludes_zero": True, "n": 2},
        "test_kl": {"mean": 0.1, "ci95_low": None, "ci95_high": None, "excludes_zero": None, "n": 1}}
    metrics["baselines"] = {"ada_gvae": ada}
    path.write_text(json.dumps(metrics))
    report = Report("t")
    faces_section(report, path, tmp_path, [6, 18], {"faithful": {}})
    text = report.to_markdown(tmp_path)
    assert "### Faces: the field's pair methods beside the gated main run" in text
    assert "| gated (gated-self_target) | 0.620 ± 0.010 |" in text
    assert "| ada_gvae | 0.400 ± 0.010<br>Δ -0.220 [-0.400, -0.040] **excludes 0** |" in text
    assert "3.500 ± 0.010<br>Δ +0.100 (no interval)" in text
    assert "1.5 / 6.0" in text and "0 of 2" in text
