"""``dojo-pulse backup create | list | verify | prune | restore | drill | schedule``.

Each command reads settings once, shows a progress bar on a terminal, says what is wrong
in one line and exits 1 when it cannot go on. The work is ``stream.backup``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging.config
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Never

import click
from tqdm import tqdm

from stream.backup.meter import Tick
from stream.settings import Settings, SettingsError

WHAT = """\b
A backup holds every topic of the deployment (records with keys, headers, timestamps,
partitions and offsets; the metric and model checkpoints are topics too), the consumer
groups' offsets, the SQL store and the pipeline counters, under one id, in
DOJO_BACKUP_DIR (default <DOJO_DATA_DIR>/backups). Never the visitor salts."""


@click.group(help=f"Make, check, prune and restore backups.\n\n{WHAT}")
def backup() -> None:
    pass


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _key(settings: Settings) -> bytes | None:
    from stream.backup.container import ContainerError
    from stream.backup.create import backup_key

    try:
        return backup_key(settings)
    except ContainerError as exc:
        raise click.ClickException(str(exc)) from None


class Bars:
    """The meter of the command line: one tqdm bar per step, closed at the end."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: list[tqdm[Never]] = []

    def __call__(self, label: str, total: int | None, unit: str) -> Tick:
        scaled = unit == "B"
        bar: tqdm[Never] = tqdm(total=total, desc=f"{label:<8}", unit=unit, unit_scale=scaled,
                               disable=self.quiet, leave=True, dynamic_ncols=True)  # fmt: skip
        self.bars.append(bar)

        def tick(done: int) -> None:
            bar.update(done)

        return tick

    def close(self) -> None:
        for bar in self.bars:
            bar.close()


@contextlib.contextmanager
def _bars(quiet: bool) -> Iterator[Bars]:
    bars = Bars(quiet)
    try:
        yield bars
    finally:
        bars.close()


def _failure() -> tuple[type[BaseException], ...]:
    from aiokafka.errors import KafkaError

    from infra.errors import InfraError
    from stream.backup.container import ContainerError
    from stream.backup.store_copy import StoreCopyError
    from stream.store import StoreError

    return (KafkaError, InfraError, ContainerError, StoreCopyError, StoreError, OSError)


QUIET = click.option("--quiet", is_flag=True, help="No progress bars.")


@backup.command("create")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="Write the backup under this directory instead of DOJO_BACKUP_DIR.")  # fmt: skip
@QUIET
def create_command(to: Path | None, quiet: bool) -> None:
    """Make one backup now (encrypted when DOJO_BACKUP_KEY is set); print its id."""
    from stream.backup.create import create

    settings = _settings()
    _key(settings)
    with _bars(quiet) as bars:
        try:
            directory, manifest = asyncio.run(create(settings, root=to, meter=bars))
        except _failure() as exc:
            raise click.ClickException(f"backup failed, nothing kept: {exc}") from None
    click.echo(f"{manifest.id}: {manifest.records} records, {manifest.size} bytes in {directory}")


@backup.command("list")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path),
              help="Look here instead of DOJO_BACKUP_DIR.")  # fmt: skip
def list_command(root: Path | None) -> None:
    """List the backups, oldest first: id, time, records, size, encrypted or not."""
    from stream.backup.catalog import entries
    from stream.backup.create import backups_root

    root = root or backups_root(_settings())
    found = entries(root)
    if not found:
        click.echo(f"no backups in {root}")
    for entry in found:
        m = entry.manifest
        if m is None:
            click.echo(f"{entry.directory.name:<26} unreadable: {entry.problem}")
            continue
        when = datetime.fromtimestamp(m.created_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        sealed = "encrypted" if m.sealed_by else "plain"
        click.echo(f"{m.id:<26} {when} UTC {m.records:>10} records {m.size:>12} B  {sealed}")


def _find(backup_id: str, root: Path | None) -> Path:
    from stream.backup.catalog import find
    from stream.backup.create import backups_root

    try:
        return find(root or backups_root(_settings()), backup_id)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


ROOT = click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path),
                    help="Backups directory (default DOJO_BACKUP_DIR).")  # fmt: skip


@backup.command("verify")
@click.argument("backup_id", default="latest")
@ROOT
@QUIET
def verify_command(backup_id: str, root: Path | None, quiet: bool) -> None:
    """Check BACKUP_ID (default: latest): checksums, then every record of every file."""
    from stream.backup.verify import verify

    directory = _find(backup_id, root)
    with _bars(quiet) as bars:
        verdict = verify(directory, _key(_settings()), meter=bars)
    if not verdict.ok:
        for problem in verdict.problems:
            click.echo(f"FAIL {directory.name}: {problem}", err=True)
        raise SystemExit(1)
    assert verdict.manifest is not None
    click.echo(f"OK {directory.name}: {len(verdict.manifest.files)} files, "
               f"{verdict.manifest.records} records")  # fmt: skip


@backup.command("prune")
@ROOT
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def prune_command(root: Path | None, dry_run: bool) -> None:
    """Delete backups beyond DOJO_BACKUP_KEEP (daily,weekly,monthly; default 7,4,6)."""
    from stream.backup.catalog import prune
    from stream.backup.create import backups_root

    settings = _settings()
    daily, weekly, monthly = (int(n) for n in settings.backup_keep)
    gone = prune(root or backups_root(settings), daily, weekly, monthly, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(gone)}: {', '.join(gone)}" if gone else "nothing to prune")


RESTORE_HELP = """\b
Restore onto a new machine:
  1. install Dojo Pulse, copy the backup directory, set the same DOJO_* settings
     (and DOJO_BACKUP_KEY if it is encrypted);
  2. dojo-pulse infra up            (Kafka and Redis, empty);
  3. dojo-pulse backup restore ID --dry-run, then without --dry-run;
  4. dojo-pulse run (or the worker, collector and live feed).
Workers must be stopped while restoring."""


@backup.command("restore", epilog=RESTORE_HELP)
@click.argument("backup_id")
@ROOT
@click.option("--force", is_flag=True, help="Overwrite a stack that holds data.")
@click.option("--dry-run", is_flag=True, help="Say what would be done and overwritten; do nothing.")
@QUIET
def restore_command(backup_id: str, root: Path | None, force: bool, dry_run: bool,
                    quiet: bool) -> None:  # fmt: skip
    """Restore BACKUP_ID ("latest" for the newest) onto this stack: topics, offsets, store."""
    from stream.backup.restore import RestoreRefused, restore

    settings = _settings()
    directory = _find(backup_id, root)
    with _bars(quiet) as bars:
        try:
            outcome = asyncio.run(
                restore(
                    settings, directory, _key(settings), force=force, dry_run=dry_run, meter=bars
                )
            )
        except RestoreRefused as exc:
            raise click.ClickException(str(exc)) from None
        except _failure() as exc:
            raise click.ClickException(f"restore failed: {exc}") from None
    for line in outcome.overwritten:
        click.echo(f"{'would overwrite' if dry_run else 'overwrote'}: {line}")
    for step in outcome.steps:
        click.echo(f"{'would ' if dry_run else ''}{step}")
    if not dry_run:
        click.echo(f"restored {directory.name}: {outcome.records} records")


@backup.command("drill")
@click.argument("backup_id", default="latest")
@ROOT
@QUIET
def drill_command(backup_id: str, root: Path | None, quiet: bool) -> None:
    """Restore BACKUP_ID onto a scratch broker and store on other ports; compare; pass/fail."""
    from stream.backup.drill import drill
    from stream.backup.restore import RestoreRefused

    settings = _settings()
    directory = _find(backup_id, root)
    with _bars(quiet) as bars:
        try:
            report = asyncio.run(drill(settings, directory, _key(settings), meter=bars))
        except (RestoreRefused, *_failure()) as exc:  # type: ignore[misc]
            raise click.ClickException(f"drill FAILED: {exc}") from None
    for line in report.figures:
        click.echo(f"figure {line}")
    for line in report.mismatches:
        click.echo(f"mismatch: {line}", err=True)
    verdict = "PASSED" if report.passed else "FAILED"
    click.echo(f"drill {verdict} {report.backup_id}: {report.records} records in "
               f"{report.seconds:.1f} s")  # fmt: skip
    if not report.passed:
        raise SystemExit(1)


@backup.command("schedule")
def schedule_command() -> None:
    """Run the backup scheduler (as `dojo-pulse run` does): backup, verify, prune, drill."""
    from stream.backup.schedule import run_scheduler
    from stream.logs import log_config

    settings = _settings()
    logging.config.dictConfig(log_config())
    if not 0 < settings.backup_web_port < 65536:
        raise click.ClickException("DOJO_BACKUP_WEB_PORT must be a port from 1 to 65535")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_scheduler(settings))
