"""The command line's report of a failed step: the partner-facing cause, and the source marked as failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from cvpipeline.cli import _root_message, ensure_dagster_home, summary


def test_a_failed_step_is_reported_by_its_own_message_and_in_the_summary(tmp_path: Path) -> None:
    @dg.asset(name="cites_lab")
    def failing() -> None:
        raise ValueError(
            "suite d'attentes absente pour cites_lab.accompagnes : créez le fichier\ndétail sur la ligne suivante"
        )

    result = dg.materialize([failing], raise_on_error=False, instance=dg.DagsterInstance.ephemeral())
    failure = next(e for e in result.all_events if e.is_step_failure)
    # Dagster wraps the exception; the command line shows the cause's first line only.
    assert _root_message(failure.step_failure_data.error) == (
        "ValueError: suite d'attentes absente pour cites_lab.accompagnes : créez le fichier"
    )
    text = summary(
        f"sqlite:///{tmp_path / 'w.db'}",
        result.run_id,
        ["cites_lab", "programmation"],
        "CV262",
        {"cites_lab"},
    )
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert "ÉCHEC" in lines["cites_lab"] and "en attente de fichiers" in lines["programmation"]


def test_the_local_instance_starts_a_queued_run_within_a_second(tmp_path: Path, monkeypatch) -> None:
    """The instance `run` and `make ui` write: no telemetry, the UI's runs dequeued every second."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(tmp_path)
    assert home == (tmp_path / "dagster_home").resolve()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
        assert not instance.telemetry_enabled
    written = (home / "dagster.yaml").read_text()
    ensure_dagster_home(tmp_path)  # an instance already there is left as it is
    assert (home / "dagster.yaml").read_text() == written


def test_the_local_instance_keeps_its_event_log_open_and_dagster_reads_it_as_its_own(
    tmp_path: Path, monkeypatch
) -> None:
    """Runs on the local instance's pooled SQLite event log; Dagster's own storage reads every event back."""
    from cvpipeline.local_storage import SQLITE_ENGINES_KEPT

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(tmp_path)
    partitions = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=partitions)
    def first() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"lignes": 1})

    @dg.asset(partitions_def=partitions, deps=[first], check_specs=[dg.AssetCheckSpec("ok", asset="second")])
    def second() -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(passed=True)

    runs = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert type(storage).__name__ == "PooledSqliteEventLogStorage"
        for key in ("A", "B", "A"):
            result = dg.materialize([first, second], instance=instance, partition_key=key)
            assert result.success
            runs.append((result.run_id, len(instance.all_logs(result.run_id))))
        kept = list(storage._engines.values())  # type: ignore[attr-defined]
        assert 1 <= len(kept) <= SQLITE_ENGINES_KEPT
        assert all(engine.pool.checkedin() >= 1 for engine in kept)  # connections kept between events
        assert instance.get_materialized_partitions(dg.AssetKey("second")) == {"A", "B"}
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "dagster.yaml").write_text(
        f"telemetry:\n  enabled: false\nstorage:\n  sqlite:\n    base_dir: {home}\n", encoding="utf-8"
    )
    with dg.DagsterInstance.from_config(str(tmp_path / "plain")) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        for run_id, logged in runs:
            assert logged > 10 and len(instance.all_logs(run_id)) == logged  # the same files, every event
        assert instance.get_materialized_partitions(dg.AssetKey("second")) == {"A", "B"}
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("second"), "ok")]
        )
        assert check  # the check's result is in Dagster's own index too
