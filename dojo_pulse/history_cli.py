"""``dojo-pulse history``: the store's history in the terminal, the same bytes as the API."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from stream.settings import Settings, SettingsError


@click.group()
def history() -> None:
    """Read the store's history: every channel's numbers per minute, hour and day."""


EXAMPLE = """\b
Example:
  dojo-pulse history export traffic --from 2024-05-01 --to 2024-05-08 \\
      --interval day --format csv --output traffic-week.csv
"""


@history.command("export", epilog=EXAMPLE)
@click.argument("channel")
@click.option("--from", "start", help="First moment: ISO 8601 date/datetime (UTC) or epoch ms.")
@click.option("--to", "end", help="End, exclusive (default: now).")
@click.option("--interval", help="minute, hour or day (default: chosen from the range).")
@click.option("--format", "fmt", default="csv", show_default=True, help="csv or json.")
@click.option("--compare", help="previous: add the period just before (JSON).")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout."
)
def export(
    channel: str, start: str | None, end: str | None, interval: str | None, fmt: str,
    compare: str | None, output: Path | None,
) -> None:  # fmt: skip
    """Print CHANNEL's windows over a range as CSV or JSON: the bytes /api/history serves.

    The range defaults to the day before --to; a range of more than 5,000 windows is
    refused with the interval that fits.
    """
    from stream.history.export import render
    from stream.history.query import QueryError, parse
    from stream.store import StoreError, open_store

    given = {"from": start, "to": end, "interval": interval, "format": fmt, "compare": compare}
    try:
        query = parse(
            [(name, value) for name, value in given.items() if value is not None],
            channel,
            now_ms=time.time_ns() // 1_000_000,
        )
    except QueryError as exc:
        # One line, not click's usage block; options are named as they are typed here.
        said = str(exc)
        click.echo(f"Error: {'--' if said.startswith(exc.field + ' ') else ''}{said}", err=True)
        sys.exit(2)
    try:
        engine = open_store(Settings.from_env())
    except (SettingsError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        body = render(engine, query).body
    finally:
        engine.dispose()
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
