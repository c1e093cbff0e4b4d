"""``dojo-pulse dlq inspect | replay``: the click group ``dojo_pulse.cli`` registers.

A wrong argument is one line and exit 2 (no usage block: the message is the news); Kafka
away is one line and exit 1. Kafka clients are imported only when a command runs.
"""

from __future__ import annotations

import asyncio
import logging.config
from typing import Any

import click
import orjson

from dojo_pulse.moment import parse_moment
from stream.ingest.contract import REASONS
from stream.logs import log_config
from stream.settings import Settings, SettingsError


class _OneLine:
    """Usage errors without the usage block; click prints only ``Error: ...`` then."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        try:
            context: click.Context = super().make_context(  # type: ignore[misc]
                info_name, args, parent, **extra
            )
            return context
        except click.UsageError as exc:
            exc.ctx = None  # the block comes from the context; the one line stays
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except click.UsageError as exc:  # a group's unknown command
            exc.ctx = None
            raise


class OneLineCommand(_OneLine, click.Command):
    """A command whose argument errors are one line."""


class OneLineGroup(_OneLine, click.Group):
    """A group whose argument errors, and its commands', are one line."""

    command_class = OneLineCommand


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else parse_moment(value)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


SINCE_HELP = "Only dead letters received since then: an ISO date or UTC time, or an age (2h, 7d)."


@click.group(cls=OneLineGroup)
def dlq() -> None:
    """Inspect and replay the dead-letter topic (dojo.events.dlq)."""
    # A failure ends the command with its own line; aiokafka's retries would bury it.
    logging.config.dictConfig(log_config("crit"))


@dlq.command()
@click.option("--reason", type=click.Choice(REASONS), help="Only this reason.")
@click.option("--since", callback=_since, help=SINCE_HELP)
@click.option("--field", "field_", metavar="FIELD", help="Only this field (e.g. props.title).")
@click.option(
    "--samples", default=3, show_default=True, type=click.IntRange(0, 100),
    help="Dead letters shown per reason.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def inspect(
    reason: str | None, since: int | None, field_: str | None, samples: int, as_json: bool
) -> None:
    """Count dead letters by reason and field, and show samples of each reason."""
    from dojo_pulse.dlq.letters import read_letter
    from dojo_pulse.dlq.scan import DlqError, Seen, scan
    from dojo_pulse.dlq.summary import Filters, Summary

    settings = _settings()
    filters = Filters(reason, field_, since)
    summary = Summary(samples)

    def visit(seen: Seen) -> None:
        letter = read_letter(seen.at, seen.value)
        if letter is None:
            summary.add_unreadable(seen.at)
        elif filters.admit(letter):
            summary.add(letter)

    try:
        ends = asyncio.run(scan(settings, settings.topic_dlq, visit, since_ms=since))
    except DlqError as exc:
        raise click.ClickException(str(exc)) from None
    if ends is None:
        raise click.ClickException(f"no topic {settings.topic_dlq}: run dojo-pulse topics")
    if as_json:
        click.echo(orjson.dumps(summary.to_json()).decode())
    else:
        click.echo("\n".join(summary.lines(settings.topic_dlq)))


@dlq.command()
@click.option("--reason", type=click.Choice(REASONS), help="Replay this reason (required).")
@click.option("--since", callback=_since, help=SINCE_HELP)
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; write nothing.")
@click.option(
    "--wait", "wait_s", default=120.0, show_default=True, type=click.FloatRange(0, 3600),
    help="Seconds to wait for the validate stage's verdict (0: do not wait).",
)  # fmt: skip
def replay(reason: str | None, since: int | None, dry_run: bool, wait_s: float) -> None:
    """Send dead letters back through the current contract, each at most once."""
    if reason is None:  # checked here: click's own message lists the choices over ten lines
        raise click.UsageError(f"--reason is required: one of {', '.join(REASONS)}")
    from dojo_pulse.dlq import replay as replaying
    from dojo_pulse.dlq.scan import DlqError

    settings = _settings()
    try:
        if dry_run:
            plan = asyncio.run(replaying.make_plan(settings, reason, since))
            click.echo("\n".join(replaying.dry_run_lines(plan, reason)))
            return
        outcome = asyncio.run(replaying.replay(settings, reason, since, wait_s=wait_s))
    except DlqError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("\n".join(replaying.summary_lines(outcome)))
    if wait_s > 0 and outcome.sent and not outcome.judged:
        raise click.ClickException(
            f"the validate stage has not judged the replayed events within {wait_s:g} s "
            "(is a worker running?); they are replayed and will be judged when it runs"
        )
