"""`gatedvae bench`: the ratio bench, the paper-scale bench and its DAG image count.

Figures are measured, never compared with thresholds: the tests check that every expected row
exists, that the figures are positive and finite, and that each ratio is its own columns' ratio.
"""

import json
import math
import os
from pathlib import Path

import pytest
import yaml

from gatedvae.bench.dag_images import (CELEBA_IMAGES, images_per_dataset, scaled_params,
                                       training_images)
from gatedvae.bench.paper_scale import projection
from gatedvae.cli import main
from gatedvae.dsprites.spec import N_GRID

ROOT = Path(__file__).resolve().parents[2]
NETS = ("mlp h256 b128", "conv h256 b64")


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_quick_bench_reports_every_ratio_against_its_own_columns(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--device", "cpu", "--threads", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())

    expected = {(m, net) for net in NETS for m in
                ["engine vs compute bound", "engine vs per-item DataLoader", "gated vs un-gated (engine)"]
                + (["bf16 vs fp32 (engine)"] if result["bf16"] else [])}
    expected.add(("pair sampler vs per-item Python (pairs/s)", "-"))
    expected |= {("first layer: lit-pixel sum vs dense (engine)", net) for net in NETS if net.startswith("mlp")}
    rows = {(r["measurement"], r["net"]): r for r in result["rows"]}
    assert set(rows) == expected and len(result["rows"]) == len(expected)
    for row in rows.values():
        assert _positive(row["baseline_per_s"]) and _positive(row["measured_per_s"]), row
        assert row["ratio"] == pytest.approx(row["measured_per_s"] / row["baseline_per_s"], rel=1e-12)

    # the same measurement is the baseline of one ratio and the measured figure of another
    for net in NETS:
        engine = rows[("engine vs compute bound", net)]["measured_per_s"]
        assert rows[("engine vs per-item DataLoader", net)]["measured_per_s"] == engine
        assert rows[("gated vs un-gated (engine)", net)]["measured_per_s"] == engine
        if net.startswith("mlp"):
            assert rows[("first layer: lit-pixel sum vs dense (engine)", net)]["measured_per_s"] == engine
        if result["bf16"]:
            assert rows[("bf16 vs fp32 (engine)", net)]["baseline_per_s"] == engine
    assert result["machine"]["device"] == "cpu" and result["machine"]["torch_threads"] >= 1

    # the printed table holds every row, its ratio consistent with its rounded columns
    printed = capsys.readouterr().out
    assert "device cpu" in printed and "torch threads" in printed
    table = [line for line in printed.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(table) == len(expected)
    for line in table:
        measurement, net, baseline, measured, ratio = [c.strip() for c in line.strip("|").split("|")]
        assert (measurement, net) in rows
        b, m = float(baseline.replace(",", "")), float(measured.replace(",", ""))
        assert float(ratio.rstrip("x")) == pytest.approx(rows[(measurement, net)]["ratio"], abs=0.006)
        assert float(ratio.rstrip("x")) == pytest.approx(m / b, rel=0.02, abs=0.01)


def test_paper_scale_bench_on_cpu_runs_concurrent_processes_and_projects(tmp_path, capsys):
    out = tmp_path / "paper.json"
    assert main(["bench", "--paper-scale", "--device", "cpu", "--size", "tiny", "--concurrency", "1", "2",
                 "--steps", "3", "--warmup-steps", "1", "--threads", "1", "--params", str(ROOT / "params.yaml"),
                 "--scales-dir", str(ROOT / "configs/scales"), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["size"] == "tiny" and result["machine"]["device"] == "cpu"

    for dataset in ("dsprites", "faces"):
        levels = result["concurrency"][dataset]
        assert [level["concurrency"] for level in levels] == [1, 2]
        for level in levels:
            pids = level["worker_pids"]
            assert len(pids) == len(set(pids)) == level["concurrency"] and os.getpid() not in pids
            assert len(level["per_run_images_per_s"]) == level["concurrency"]
            assert all(_positive(x) for x in level["per_run_images_per_s"])
            assert _positive(level["aggregate_images_per_s"]) and _positive(level["span_s"])

    # the projection divides the paper-scale DAG's images by the best aggregate measured
    stages = training_images(scaled_params("paper", ROOT / "params.yaml", ROOT / "configs/scales"))
    projected = result["projection"]["per_dataset"]
    hours = 0.0
    for dataset, images in images_per_dataset(stages).items():
        best = max(level["aggregate_images_per_s"] for level in result["concurrency"][dataset])
        assert projected[dataset]["images"] == images
        assert projected[dataset]["best_aggregate_images_per_s"] == best
        assert projected[dataset]["hours"] == pytest.approx(images / best / 3600)
        hours += images / best / 3600
    assert result["projection"]["total_hours"] == pytest.approx(hours)
    printed = capsys.readouterr().out
    assert "figures from: CPU" in printed and "not paper-size figures" in printed
    assert "projected hours" in printed


SMALL_PARAMS = {
    "dsprites": {"acquire": {"n_images": 1000}, "net": {"name": "mlp"},
                 "train": {"epochs": 3, "batch_size": 128}, "finetune": {"epochs": 1},
                 "sweep": {"models": ["beta_vae", "info_vae"], "seeds": [0, 1, 2]}},
    "studies": {"epochs": 2,
                "beta_sweep": {"betas": [0.0, 1.0, 4.0], "seeds": [0]},
                "noise": {"fractions": [0.0, 0.5], "seeds": [0, 1]},
                "faces_clusters": {"counts": [4, 16], "seeds": [0], "epochs": 5},
                "curve": {"epochs": [1, 3, 2], "hidden": 64, "seeds": [0, 1]}},
    "faces": {"acquire": {"source": "synthetic", "synthetic": {"n_images": 300}},
              "train": {"net": "conv", "epochs": 4, "batch_size": 64}, "finetune": {"epochs": 2},
              "study": {"runs": ["gated-faithful", "gated-self_target", "ungated-faithful"], "seeds": [0, 1]},
              "main_runs": {"runs": ["gated-self_target", "ungated-faithful"], "seeds": [0, 1, 2], "epochs": 10}},
}


def test_dag_image_count_known_answer():
    # dSprites epoch: 1000 // 128 = 7 full batches = 896 images; faces: 300 // 64 = 4 -> 256
    by_stage = {s.stage: s.images for s in training_images(SMALL_PARAMS)}
    assert by_stage == {
        "dsprites_train": 2 * 2 * 3 * 3 * 896,      # models x gatings x seeds x epochs
        "dsprites_finetune": 2 * 2 * 3 * 1 * 896,
        "dsprites_beta_sweep": 3 * 2 * 1 * 2 * 896,  # betas x gatings x seeds x studies.epochs
        "dsprites_noise_study": 2 * 2 * 2 * 896,     # fractions x seeds (gated only)
        "dsprites_curve": 2 * 2 * 3 * 896,           # gatings x seeds x the last listed epoch
        "faces_train": 3 * 2 * 4 * 256,              # study runs x seeds x epochs
        "faces_main_train": 2 * 3 * 10 * 256,         # main runs x main seeds x main epochs
        "faces_finetune": 2 * 2 * 256,
        "faces_cluster_study": 2 * 1 * 5 * 256,      # counts x seeds (gated only)
        "faces_cluster_baseline": 1 * 5 * 256,
    }
    stages = training_images(SMALL_PARAMS)
    assert images_per_dataset(stages) == {"dsprites": 60_928 + 10_752, "faces": 6_912 + 15_360 + 4 * 4 * 256}
    proj = projection(stages, {"dsprites": {"aggregate_images_per_s": 2.0, "concurrency": 4}})
    assert proj["per_dataset"]["dsprites"]["hours"] == pytest.approx((60_928 + 10_752) / 2.0 / 3600)
    assert proj["per_dataset"]["faces"]["hours"] is None and proj["total_hours"] is None


def test_dag_image_count_full_grid_and_real_faces():
    params = json.loads(json.dumps(SMALL_PARAMS))
    params["dsprites"]["acquire"]["n_images"] = 0          # the full grid
    params["faces"]["acquire"]["source"] = "path"          # real CelebA
    by_stage = {s.stage: s for s in training_images(params)}
    assert by_stage["dsprites_train"].images_per_epoch == N_GRID // 128 * 128 == 737_280
    assert by_stage["faces_train"].images_per_epoch == CELEBA_IMAGES // 64 * 64


def test_scaled_params_overlays_the_scale_in_memory_only():
    before = (ROOT / "params.yaml").read_text()
    paper = scaled_params("paper", ROOT / "params.yaml", ROOT / "configs/scales")
    overlay = yaml.safe_load((ROOT / "configs/scales/paper.yaml").read_text())
    assert paper["dsprites"]["net"]["hidden"] == overlay["dsprites"]["net"]["hidden"]
    assert paper["dsprites"]["sweep"]["seeds"] == overlay["dsprites"]["sweep"]["seeds"]
    assert paper["dsprites"]["net"]["latent_dim"] == yaml.safe_load(before)["dsprites"]["net"]["latent_dim"]
    assert (ROOT / "params.yaml").read_text() == before
