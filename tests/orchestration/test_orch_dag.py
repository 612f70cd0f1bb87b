"""The task graph comes from dvc.yaml through DVC; no Prefect server needed."""

from __future__ import annotations

import subprocess
from pathlib import Path
import sys

import pytest

from gatedvae.orchestration.dag import DagError, load_dag
from gatedvae.orchestration.flow import retry_options
from orch_toyproject import DVC_YAML, STAGES, make_toy_repo


@pytest.fixture
def toy(tmp_path):
    return make_toy_repo(tmp_path / "toy")


def test_stages_edges_and_meta_come_from_dvc_yaml(toy):
    dag = load_dag(toy)
    assert dag.names == STAGES  # `dvc repro` order; matrix members are separate stages
    assert dag["acquire"].upstream == ()
    assert dag["train@a-0"].upstream == ("acquire",)
    assert dag["other"].upstream == ("acquire",)
    assert dag["aggregate"].upstream == ("train@a-0", "train@b-0")
    assert [s.name for s in dag.stages if s.gpu] == ["train@a-0", "train@b-0"]
    assert dag["train@b-0"].cmd == "python scripts/train.py b 0"
    assert dag["acquire"].retries is None and dag["acquire"].retry_delay_seconds is None


def test_select_takes_targets_with_their_upstream(toy):
    dag = load_dag(toy)
    assert dag.select(["aggregate"]).names == ["acquire", "train@a-0", "train@b-0", "aggregate"]
    assert dag.select(["train"]).names == ["acquire", "train@a-0", "train@b-0"]
    assert dag.select(["train@b-*"]).names == ["acquire", "train@b-0"]
    with pytest.raises(DagError, match="no DVC stage matches target 'nope'"):
        dag.select(["nope"])


def test_a_new_stage_in_dvc_yaml_is_a_new_task(toy):
    (toy / "dvc.yaml").write_text(DVC_YAML + """\
  report:
    cmd: cat data/agg.txt > data/report.txt
    deps:
      - data/agg.txt
    outs:
      - data/report.txt
    meta:
      retries: 3
      retry_delay_seconds: [1, 5]
""")
    dag = load_dag(toy)
    assert dag.names == STAGES + ["report"]
    assert dag["report"].upstream == ("aggregate",)
    opts = retry_options(dag["report"], retries=1, retry_delay_seconds=10)
    assert opts["retries"] == 3 and opts["retry_delay_seconds"] == [1.0, 5.0, 5.0]


def test_retry_defaults_back_off_exponentially(toy):
    spec = load_dag(toy)["acquire"]
    assert retry_options(spec, retries=3, retry_delay_seconds=10)["retry_delay_seconds"] == [10, 20, 40]
    assert retry_options(spec, retries=0, retry_delay_seconds=10)["retries"] == 0


def test_bad_meta_is_an_error_naming_file_stage_and_field(toy):
    (toy / "dvc.yaml").write_text(DVC_YAML.replace("gpu: true", "gpu: true\n      retries: many"))
    with pytest.raises(DagError, match=r"dvc.yaml: stage 'train@a-0': meta.retries must be an "
                                       r"integer >= 0, got 'many'"):
        load_dag(toy)


def test_not_a_dvc_repo_is_a_clear_error(tmp_path):
    with pytest.raises(DagError, match="not a DVC repository"):
        load_dag(tmp_path)


def test_cli_dag_prints_the_task_graph(toy):
    out = subprocess.run([sys.executable, "-m", "gatedvae.cli", "flow", "dag", "--repo", str(toy)],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "acquire",
        "train@a-0 [gpu]  <- acquire",
        "train@b-0 [gpu]  <- acquire",
        "other  <- acquire",
        "aggregate  <- train@a-0, train@b-0",
    ]


def _diamond():
    from gatedvae.orchestration.dag import Dag, StageSpec

    specs = [StageSpec("prep", "dvc.yaml", "c"), StageSpec("a", "dvc.yaml", "c", upstream=("prep",)),
             StageSpec("b", "dvc.yaml", "c", upstream=("prep",)), StageSpec("c", "dvc.yaml", "c", upstream=("prep",)),
             StageSpec("report", "dvc.yaml", "c", upstream=("a", "b", "c"))]
    return Dag(Path("."), tuple(specs))


def test_walk_starts_each_stage_after_its_upstream_and_at_most_max_parallel_at_once():
    from gatedvae.orchestration.dag import walk

    started, peak = [], []

    def wait(running):  # finish the oldest running stage
        peak.append(len(running))
        name = next(iter(running))
        return [(name, f"done {name}")]

    outcomes = walk(_diamond(), 2, lambda spec: started.append(spec.name) or spec.name, wait)
    assert started == ["prep", "a", "b", "c", "report"] and max(peak) == 2
    assert outcomes == {n: f"done {n}" for n in started}


def test_walk_skips_what_a_failure_feeds_and_lets_wait_retry():
    from gatedvae.orchestration.dag import walk

    attempts = {}

    def start(spec):
        attempts[spec.name] = attempts.get(spec.name, 0) + 1
        return spec.name

    def wait(running):
        done = []
        for name in list(running):
            if name == "b" and attempts["b"] == 1:  # a lost worker: submitted again
                running["b"] = start(_diamond()["b"])
                continue
            done.append((name, "failed" if name == "c" else "ok"))
        return done

    outcomes = walk(_diamond(), 4, start, wait, skip=lambda spec, failed: f"not ready: {failed}",
                    succeeded=lambda outcome: outcome == "ok")
    assert outcomes == {"prep": "ok", "a": "ok", "b": "ok", "c": "failed", "report": "not ready: ['c']"}
    assert attempts == {"prep": 1, "a": 1, "b": 2, "c": 1}
