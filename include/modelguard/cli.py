"""The `modelguard` command line: init, simulate, replay, status, story, release, approve."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from modelguard.config import CONFIG_ENV_VAR, ConfigError, PipelineConfig, config_path, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(width=None if sys.stdout.isatty() else 160)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help=f"Pipeline YAML (default ${CONFIG_ENV_VAR} "
                                                   "or include/config/pipeline.yaml).")]


def _config(path: Path | None) -> PipelineConfig:
    try:
        config = load_config(path)
    except ConfigError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    os.environ[CONFIG_ENV_VAR] = str(config_path(path))  # tasks run in this process read the same file
    return config


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@app.command()
def simulate(
    config: ConfigOption = None,
    days: Annotated[int, typer.Option(help="Days of batches.")] = 60,
    rows: Annotated[int, typer.Option(help="Rows per daily batch.")] = 5000,
    reference_rows: Annotated[int, typer.Option(help="Labelled reference rows.")] = 60_000,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-09-01",
    seed: Annotated[int, typer.Option()] = 42,
    incident: Annotated[list[str] | None, typer.Option(help="kind@day, repeatable; default: the 60-day script.")] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the lake first.")] = False,
) -> None:
    """Generate the demo's fraud stream, labels and incident schedule into the lake."""
    from modelguard.simulate import parse_incident
    from modelguard.simulate import simulate as run

    cfg = _config(config)
    incidents = [parse_incident(spec) for spec in incident] if incident else None
    with _progress() as progress:
        task = progress.add_task("simulating days", total=days)
        schedule = run(cfg.storage_root, start=dt.date.fromisoformat(start), days=days, rows=rows,
                       reference_rows=reference_rows, seed=seed, incidents=incidents, fresh=fresh,
                       progress=lambda n: progress.advance(task, n))
    console.print(f"wrote {days} days x {rows} rows to {cfg.storage_root}; incidents:")
    for item in schedule["incidents"]:
        console.print(f"  {item['batch_id']}  {item['kind']:<14} expect {item['expected_response']}")


@app.command()
def init(
    config: ConfigOption = None,
    champion: Annotated[str | None, typer.Option(
        help="Adopt this version as the first champion instead of training one: models:/NAME/VERSION, "
             "registered in the project's own MLflow registry (default: model.champion).")] = None,
    rebase_reference: Annotated[bool, typer.Option(
        "--rebase-reference", help="Re-profile the reference with the current champion (drift and output "
        "anomalies are then judged against it); without it a rerun keeps the first champion's profile.")] = False,
) -> None:
    """Train (or adopt) and register the first champion; build expectation suites and the reference profile."""
    from modelguard.alias_lock import AliasLockError
    from modelguard.bootstrap import initialise

    cfg = _config(config)
    source = champion or cfg.model.champion
    try:
        with console.status(f"adopting {source} and building suites" if source
                            else "training the first champion and building suites"):
            result = initialise(cfg, champion=champion, rebase_reference=rebase_reference)
    except (ValueError, FileNotFoundError, AliasLockError) as error:  # unusable input, or the alias lock said no
        console.print(f"[red]init: {error}[/red]")
        raise typer.Exit(2) from None
    adopted = f" adopted from {result['adopted_from']}" if result.get("adopted_from") else ""
    console.print(f"champion: {cfg.model.name} v{result['champion_version']}{adopted} "
                  f"({cfg.challenger.metric} {result.get(cfg.challenger.metric, float('nan')):.3f} on the reference holdout)")
    if result["reference_rebased"]:
        console.print(f"[yellow]reference profile re-based on v{result['reference_version']}: drift and output "
                      "anomalies are judged against it from now on (a line in the decision log says so)[/yellow]")
    elif result["reference_version"] != result["champion_version"]:
        console.print(f"reference profile kept: v{result['reference_version']}'s (the first champion); "
                      "--rebase-reference re-profiles it with the current champion")
    if source and result.get("adopted") is None:
        console.print(f"[yellow]{source} was not adopted: {cfg.model.name} already has a champion "
                      "(init adopts only into a registered model without one)[/yellow]")


@app.command()
def replay(
    config: ConfigOption = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (inclusive).")] = None,
    all_days: Annotated[bool, typer.Option("--all", help="Every day that has a landed batch.")] = False,
    operator_approves: Annotated[bool, typer.Option(help="Simulate an engineer approving pending versions.")] = False,
) -> None:
    """Run the daily cycle day by day through the real Airflow DAGs (dag.test)."""
    from modelguard.replay import ReplayError, days_between
    from modelguard.replay import replay as run
    from modelguard.storage import Lake

    cfg = _config(config)
    if all_days:
        landed = Lake(cfg.storage_root).landed_ids("batches")
        if not landed:
            console.print("[red]no landed batches; run `modelguard simulate` first[/red]")
            raise typer.Exit(1)
        start, end = start or landed[0], end or landed[-1]
    if not start or not end:
        console.print("[red]give --start and --end (or --all)[/red]")
        raise typer.Exit(2)
    try:
        days = days_between(start, end)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    with _progress() as progress:
        task = progress.add_task("replaying days", total=len(days))

        def advance(batch_id: str, summary: dict) -> None:
            progress.update(task, advance=1, description=f"replayed {batch_id}")

        try:
            run(cfg, days, operator_approves=operator_approves, on_day=advance)
        except ReplayError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
    console.print(f"replayed {len(days)} days ({start} .. {end}); runs are in the Airflow UI (`make up`)")


@app.command("airflow-setup")
def airflow_setup() -> None:
    """Migrate Airflow's metadata DB if needed and create the pools the DAGs need (idempotent).

    Run once per deployment after `airflow db migrate` (make up, docker-compose's airflow-init do it):
    the scheduler never runs a task whose pool does not exist.
    """
    from modelguard.replay import ensure_metadata_db, prepare_airflow_env

    ensure_metadata_db(prepare_airflow_env())
    console.print("airflow metadata DB ready; pool modelguard_registry (1 slot) in place")


@app.command()
def status(config: ConfigOption = None, last: Annotated[int, typer.Option(help="Decisions to show.")] = 10) -> None:
    """Champion, challenger, pending approvals, last decisions, open incidents."""
    from modelguard.report import status_report

    console.print(status_report(_config(config), last=last))


@app.command()
def story(config: ConfigOption = None) -> None:
    """What happened in the simulated timeline: each incident and what the pipeline did about it."""
    from modelguard.report import story_report

    console.print(story_report(_config(config)))


@app.command()
def release(batch_id: str, config: ConfigOption = None,
            labels: Annotated[bool, typer.Option("--labels", help="Release the day's label file.")] = False) -> None:
    """Re-validate a quarantined batch (or, with --labels, label file) from its fixed file
    (quarantine/[labels/]<id>/fixed.* or landing) through the modelguard_release DAG and, if it passes,
    run the rest of that day's cycle on it."""
    from modelguard.batch_days import parse_batch_id
    from modelguard.replay import ReplayError
    from modelguard.replay import release as run

    cfg = _config(config)
    try:  # a day, YYYY-MM-DD, refused before anything is touched; like replay, any day of a timeline (the DAG
        # triggered by a person refuses a day after today)
        parse_batch_id(batch_id)
    except ValueError as error:
        console.print(f"[red]release DAY: {error}[/red]")
        raise typer.Exit(2) from None
    try:
        result = run(cfg, batch_id, labels=labels)
    except (ReplayError, FileNotFoundError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"{batch_id}: {result['status']} - {result['reason']}")
    if result["status"] not in ("accepted", "released"):
        raise typer.Exit(1)


@app.command()
def approve(version: str, config: ConfigOption = None) -> None:
    """Approve a version for promotion (same as setting tag approval=approved in the MLflow UI).

    On a registry server you approve as your MLflow login (MLFLOW_TRACKING_USERNAME / _PASSWORD), which the server
    stamps and checks against approval.approvers; on the embedded store, as your OS user (not verified)."""
    from mlflow.exceptions import MlflowException

    from modelguard.promote import PromotionRefused
    from modelguard.promote import approve as run

    try:
        console.print(json.dumps(run(_config(config), version)))
    except PromotionRefused as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    except MlflowException as error:  # the registry server's 403 names the rule
        console.print(f"[red]refused by the registry: {error.message}[/red]")
        raise typer.Exit(1) from None


def main() -> None:
    from modelguard.runtime import freeze_heap, lean_collector

    lean_collector()
    try:
        app()
    finally:
        freeze_heap()  # the interpreter's exit then skips a full collector pass over the libraries' objects


if __name__ == "__main__":
    main()
