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
