"""``dojo-pulse content``: import and export the site's content as JSON or YAML."""

from __future__ import annotations

import asyncio
import logging.config
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stream.settings import Settings, SettingsError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from stream.content.messages import Outbox

FORMAT = click.Choice(["json", "yaml"])
PROGRESS_FROM = 200  # items: smaller files are done before a bar would show


@click.group()
def content() -> None:
    """Import and export the site's content (dojo events, resources, pages)."""


IMPORT_EXAMPLE = """\b
A file holds {"items": [{"type": "event", "fields": {...}, "publish": true}, ...]};
`dojo-pulse content export` writes one. Example:
  dojo-pulse content import spring-term.yaml
"""


@content.command("import", epilog=IMPORT_EXAMPLE)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--format", "fmt", type=FORMAT, help="json or yaml (default: from the file name).")
@click.option("--author", default="import", show_default=True, help="Label on the revisions.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--kafka-wait", default=20.0, show_default=True, help="Seconds to wait for Kafka to take "
    "the content messages (the live feed sends them again at its next start otherwise).",
)  # fmt: skip
def import_(file: Path, fmt: str | None, author: str, quiet: bool, kafka_wait: float) -> None:
    """Check every item of FILE, then write them all in one transaction, or nothing.

    Every problem is listed with its item number (from 1), field and, for YAML, line.
    Items equal to their newest revision are left alone; each other item gets a revision.
    """
    from tqdm import tqdm

    from stream.content import ContentService, Invalid
    from stream.content.bulk import BulkError, apply, format_of, read
    from stream.content.messages import Outbox

    data = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    try:
        entries = read(data, format_of(file.name, fmt))
    except BulkError as exc:
        click.echo(f"Error: {file} was not imported, nothing was written:", err=True)
        click.echo("\n".join(f"  {line}" for line in str(exc).splitlines()), err=True)
        sys.exit(1)
    settings = _settings()
    outbox = Outbox()
    engine = _open(settings)
    service = ContentService(
        engine, outbox, settings=settings, keep_revisions=settings.content_keep_revisions
    )
    bar = tqdm(total=len(entries), unit="item", disable=quiet or len(entries) < PROGRESS_FROM)
    try:
        counts = apply(service, entries, author, bar.update)
    except Invalid as exc:
        raise click.ClickException(f"nothing was written: {exc}") from None
    finally:
        bar.close()
        engine.dispose()
    click.echo(
        f"{len(entries)} items: {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {counts.published} published"
    )
    _send(settings, outbox, kafka_wait)


@content.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--format", "fmt", type=FORMAT, help="json or yaml (default: from the file name).")
@click.option("--type", "type_name", help="Only this content type (event, resource, page).")
def export_(file: Path, fmt: str | None, type_name: str | None) -> None:
    """Write every item's newest revision to FILE ("-": standard output), as import reads it."""
    from stream.content import ContentService
    from stream.content.bulk import dump, export, format_of

    engine = _open(_settings())
    try:
        document = export(ContentService(engine), type_name)
    finally:
        engine.dispose()
    body = dump(document, format_of(file.name, fmt))
    if str(file) == "-":
        sys.stdout.buffer.write(body)
        return
    file.write_bytes(body)
    click.echo(f"{len(document['items'])} items written to {file}", err=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None


def _open(settings: Settings) -> sa.Engine:
    from stream.store import StoreError, open_store

    try:
        return open_store(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _send(settings: Settings, outbox: Outbox, wait_s: float) -> None:
    """Send the import's messages; the store has them already, so Kafka away is a warning."""
    from stream.content.kafka import send_all
    from stream.logs import log_config

    if not outbox.messages:
        return
    # The outcome is said in one line below; aiokafka's retries would bury it.
    logging.config.dictConfig(log_config("crit"))
    try:
        asyncio.run(send_all(settings.kafka, outbox.messages, timeout_s=wait_s))
    except TimeoutError:
        click.echo(
            f"warning: Kafka at {settings.kafka} did not take the content messages; the live "
            "feed sends the catalogue again when it next starts",
            err=True,
        )
