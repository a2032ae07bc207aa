"""The command line's report of a failed step: the partner-facing cause, and the source marked as failed."""

from __future__ import annotations

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
