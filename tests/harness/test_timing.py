"""Stage timing: phases add up to the stage's total (gatedvae.timing), the harness writes one record
per finished stage, and the report sums them per stage (gatedvae.report.timings)."""

from __future__ import annotations

import json

import pytest

from gatedvae import params as P
from gatedvae import timing
from gatedvae.report import timings as T
from gatedvae.stage import run


class Clock:
    """perf_counter that moves only when told: phase lengths become known answers."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timing.time, "perf_counter", c)
    timing.reset()
    yield c
    timing.reset()


def test_nested_phases_count_once_and_repeat_entries_sum(clock):
    with timing.phase("training"):
        clock.now += 10
        with timing.phase("encoding"):
            clock.now += 3
        clock.now += 1
    with timing.phase("encoding"):
        clock.now += 2
    assert timing.phases() == {"training": pytest.approx(11.0), "encoding": pytest.approx(5.0)}


def test_a_phase_that_raises_is_still_counted(clock):
    with pytest.raises(RuntimeError):
        with timing.phase("figures"):
            clock.now += 4
            raise RuntimeError("boom")
    assert timing.phases() == {"figures": pytest.approx(4.0)}


def test_process_age_is_the_time_since_this_process_started():
    import psutil
    import time

    # psutil adds the start ticks to the boot time, which Linux gives in whole seconds (btime):
    # its answer is up to 1 s off, whatever the load
    expected = time.time() - psutil.Process().create_time()
    assert timing.process_age() == pytest.approx(expected, abs=1.2)


# --- the harness --------------------------------------------------------------------------------

@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(P.RECORD_ENV, raising=False)
    (tmp_path / "params.yaml").write_text("compute:\n  threads: 1\nsection:\n  value: 3\n")
    timing.reset()
    yield tmp_path
    timing.reset()


def test_the_harness_writes_a_record_whose_parts_add_up(in_tmp):
    def work(params):
        with timing.phase("training"):
            sum(range(200_000))

    with pytest.raises(SystemExit):
        run(work, "doc", argv=["--timing", "timings/train@a-b-0.json"])
    record = json.loads((in_tmp / "timings" / "train@a-b-0.json").read_text())
    assert record["stage"] == "train@a-b-0"
    assert set(record["phases_s"]) == {"training"} and record["phases_s"]["training"] > 0
    parts = record["startup_s"] + record["phases_s"]["training"] + record["other_s"]
    assert parts == pytest.approx(record["total_s"], abs=0.01)
    assert record["finished_at"] - record["started_at"] == pytest.approx(record["total_s"], abs=0.01)


def test_a_failed_stage_writes_no_record(in_tmp):
    from gatedvae.errors import StageError

    def work(params):
        raise StageError("bad input")

    with pytest.raises(SystemExit) as info:
        run(work, "doc", argv=["--timing", "t.json"])
    assert info.value.code == 2 and not (in_tmp / "t.json").exists()


# --- the report's table ------------------------------------------------------------------------

def record(stage, start, total, startup, phases, other):
    return {"stage": stage, "started_at": start, "finished_at": start + total, "total_s": total,
            "startup_s": startup, "phases_s": phases, "other_s": other, "torch_threads": 2}


RECORDS = [
    record("acquire", 0.0, 10.0, 1.0, {}, 9.0),
    record("train@m-gated-0", 10.5, 100.0, 2.0, {"training": 95.0}, 3.0),
    record("train@m-gated-1", 111.0, 90.0, 2.0, {"training": 85.0}, 3.0),
    record("evaluate@m-gated-0", 201.5, 8.0, 2.0, {"encoding": 0.5, "DCI (rf)": 1.5, "figures": 1.0}, 3.0),
]


def test_per_stage_rows_sum_runs_in_order_of_start():
    rows = T.per_stage(RECORDS)
    assert [r["stage"] for r in rows] == ["acquire", "train", "evaluate"]
    train = rows[1]
    assert train["runs"] == 2 and train["total"] == 190.0 and train["training"] == 180.0
    assert train["start-up"] == 4.0 and train["other"] == 6.0 and train["DCI (rf)"] == 0.0
    assert list(rows[0])[:5] == ["stage", "runs", "total", "start-up", "training"]  # PHASE_ORDER


def test_summary_knows_one_repro_from_several():
    total = T.summary(RECORDS)
    assert total["serial_s"] == 208.0 and total["span_s"] == 209.5
    assert total["largest_gap_s"] == pytest.approx(0.5)
    assert total["by_phase_s"]["training"] == 180.0 and total["by_phase_s"]["other"] == 18.0
    later = RECORDS + [record("report", 5000.0, 5.0, 1.0, {}, 4.0)]
    assert T.summary(later)["largest_gap_s"] == pytest.approx(5000.0 - 209.5)


def test_a_malformed_record_is_an_error_naming_its_file(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps(RECORDS[0]))
    (tmp_path / "bad.json").write_text(json.dumps({"stage": "x"}))
    with pytest.raises(ValueError, match="bad.json: not a stage timing record"):
        T.read_records(tmp_path)


def test_the_report_leaves_out_records_of_stages_no_longer_defined(tmp_path):
    from gatedvae.report.build import FigureDir, timing_section
    from gatedvae.report.document import Report

    for r in RECORDS:
        (tmp_path / f"{r['stage']}.json").write_text(json.dumps(r))
    (tmp_path / "figures").mkdir()
    report = Report("t")
    current = {"acquire", "train@m-gated-0", "evaluate@m-gated-0"}  # seed 1 was removed
    timing_section(report, tmp_path, FigureDir(tmp_path / "figures", tmp_path / "figures"), current)
    text = report.to_markdown(tmp_path)
    assert "Left out: 1 timing record(s) of stages no longer in dvc.yaml (train@m-gated-1)" in text
    assert "3 stage runs" in text and "gatedvae prune" in text
