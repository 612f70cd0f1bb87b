"""The report's wall time is the latest `dvc repro`'s: records of stages that run found up to date
(older, before a gap) are told apart from the run's own."""

from gatedvae.report.timings import latest_run, summary


def record(stage, start, end):
    return {"stage": stage, "started_at": start, "finished_at": end, "total_s": end - start,
            "startup_s": 0.0, "other_s": end - start, "phases_s": {}}


def test_one_repro_back_to_back_is_all_latest():
    records = [record("a", 0, 10), record("b", 13, 20), record("c", 24, 30)]
    latest, older = latest_run(records)
    assert [r["stage"] for r in latest] == ["a", "b", "c"] and older == []
    assert summary(latest)["span_s"] == 30


def test_a_stage_found_up_to_date_keeps_its_old_record_outside_the_run():
    # faces_sweeps ran days before; the fresh repro ran the rest
    records = [record("b", 1000, 1010), record("faces_sweeps", 0, 5), record("c", 1012, 1040)]
    latest, older = latest_run(records)
    assert [r["stage"] for r in latest] == ["b", "c"]
    assert [r["stage"] for r in older] == ["faces_sweeps"]
    assert summary(latest)["span_s"] == 40


def test_a_long_stage_beside_short_ones_is_no_gap():
    # c starts 100 s after b ends, but within the long stage a's run: still one repro
    records = [record("a", 0, 500), record("b", 10, 20), record("c", 120, 130), record("d", 505, 510)]
    latest, older = latest_run(records)
    assert len(latest) == 4 and older == []
