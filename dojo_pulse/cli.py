"""The ``dojo-pulse`` command line: one entry point for operators and developers.

Every command reads settings once from the environment (``DOJO_*``, see ``--help`` of each
command and README) and turns known failures into one clear line and exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging.config
import socket
import sys
from functools import partial
from pathlib import Path

import click

from dojo_pulse.backup_cli import backup
from dojo_pulse.content_cli import content
from dojo_pulse.dlq.commands import dlq
from dojo_pulse.experiments_cli import experiments
from dojo_pulse.history_cli import history
from dojo_pulse.reports.command import report
from dojo_pulse.reports.schedule import report_schedule
from stream.settings import ENV, Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _check_port(settings: Settings, server: str) -> None:
    """Fail with one line if ``server`` (collector, live, worker_web) cannot listen."""
    host, port = getattr(settings, f"{server}_host"), getattr(settings, f"{server}_port")
    host_var, port_var = ENV[f"{server}_host"], ENV[f"{server}_port"]
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(family[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {port} is in use: set {port_var}") from None
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): set {host_var} or {port_var}"
        ) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Dojo Pulse: real-time analytics for the DD Coder Dojo website.

    Start with `dojo-pulse run` to see everything working locally with simulated traffic.
    """


@main.group()
def infra() -> None:
    """Start, stop and inspect the local Kafka broker and Redis (no Docker needed)."""


@infra.command("up")
def infra_up() -> None:
    """Fetch Kafka once (Maven Central, cached), then start Kafka and Redis if not running."""
    import infra as local
    from infra.errors import InfraError

    settings = _settings()
    try:
        local.up_all(settings, echo=click.echo)
    except InfraError as exc:
        raise click.ClickException(str(exc)) from None


@infra.command("down")
def infra_down() -> None:
    """Stop the Kafka broker and Redis that `infra up` started (and nothing else)."""
    import infra as local

    local.down_all(_settings(), echo=click.echo)


@infra.command("status")
def infra_status() -> None:
    """Show whether Kafka and Redis are running, where, and whether we started them."""
    import infra as local

    for item in local.status_all(_settings()):
        state = "running" if item.get("running") else "stopped"
        owner = " (started by dojo-pulse)" if item.get("ours") else ""
        click.echo(f"{item['name']:<6} {state}{owner}  {item.get('address', '')}")


@main.group()
def db() -> None:
    """Migrate and inspect the SQL store (DOJO_DATABASE_URL; default SQLite in DOJO_DATA_DIR).

    The worker and the live feed migrate the store when they start; these commands do it
    beforehand, e.g. before a release rolls out to several live-feed replicas.
    """


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the store to this release (an empty one is created); print its revision."""
    from stream.store import StoreError, migrate, open_store

    try:
        engine = open_store(_settings())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(migrate.current(engine))
    engine.dispose()


@db.command("current")
def db_current() -> None:
    """Print the store's revision ("empty" if never migrated); migrates nothing."""
    from stream.store import StoreError, migrate, open_store

    try:
        engine = open_store(_settings(), upgrade=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(migrate.current(engine) or "empty")
    engine.dispose()


@main.command()
def topics() -> None:
    """Create missing topics (partitions and retention from settings) and describe them."""
    from stream.topics import TopicError, ensure_topics

    try:
        report = asyncio.run(ensure_topics(_settings()))
    except TopicError as exc:
        raise click.ClickException(str(exc)) from None
    for spec, state in report:
        days = spec.retention_ms / 86_400_000
        click.echo(
            f"{spec.name:<24} {spec.partitions:>2} partitions  {days:>4.0f} d  "
            f"key: {spec.key:<11} {state}"
        )


@main.command()
@click.option(
    "--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"])
)
@click.option(
    "--kafka-wait", default=120.0, show_default=True, help="Seconds to wait for Kafka at start."
)
def worker(loglevel: str, kafka_wait: float) -> None:
    """Run the stream worker (the agents of DOJO_AGENTS) until interrupted."""
    from stream.sinks.prometheus import MetricsPortError
    from stream.topics import TopicError
    from stream.worker import run_worker

    settings = _settings()
    _check_port(settings, "worker_web")  # its /metrics
    try:
        run_worker(settings, loglevel=loglevel, kafka_wait_s=kafka_wait)
    except (TopicError, MetricsPortError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
def collector() -> None:
    """Serve the public beacon endpoint (POST /collect, GET /beacon.js)."""
    from collector.app import serve
    from stream.logs import log_config

    settings = _settings()
    _check_port(settings, "collector")
    logging.config.dictConfig(log_config())
    serve(settings)


@main.command()
def live() -> None:
    """Serve the admins' live activity panel, its WebSocket feed and REST API."""
    from live_feed.app import serve

    settings = _settings()
    _check_port(settings, "live")
    serve(settings)


@main.command()
@click.argument("channel")
@click.option("--url", default=None, help="WebSocket URL (default: the local live feed).")
def tail(channel: str, url: str | None) -> None:
    """Print a live channel (traffic, forms, vitals, activity, pipeline, ...) as it changes."""
    from live_feed.tail import Unauthorized
    from live_feed.tail import tail as follow
    from stream.topics import LIVE_CHANNELS

    if channel not in LIVE_CHANNELS:
        # One line, not click's usage block: the choices are the news.
        click.echo(
            f"Error: no channel {channel[:40]!r}; choose from {', '.join(LIVE_CHANNELS)}", err=True
        )
        sys.exit(2)
    settings = _settings()
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(
                follow(
                    settings, channel, url=url, out=click.echo, warn=partial(click.echo, err=True)
                )
            )
        except Unauthorized as exc:
            raise click.ClickException(f"{exc}: set DOJO_ADMIN_TOKEN to its token") from None


@main.command()
@click.option("--rate", default=50.0, show_default=True, help="Events per second on average.")
@click.option("--duration", default=60.0, show_default=True, help="Seconds of traffic to simulate.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same traffic.")
@click.option(
    "--invalid-ratio", default=0.0, show_default=True, help="Share of events made invalid."
)
@click.option("--via", type=click.Choice(["http", "kafka"]), default="http", show_default=True)
@click.option(
    "--truth", type=click.Path(dir_okay=False, path_type=Path), help="Write ground truth JSON here."
)
@click.option("--fast", is_flag=True, help="Send as fast as possible instead of in real time.")
@click.option(
    "--start",
    callback=lambda _ctx, _param, value: _start_ms(value),
    help="Backfill the past from this time on a simulated clock (with --via kafka): an ISO "
    "date or UTC datetime, or an age such as 7d or 36h. Example: --start 7d --duration 604800.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--experiments", is_flag=True, help="Also run the A/A experiment events_layout.")
def simulate(
    rate: float, duration: float, seed: int, invalid_ratio: float, via: str,
    truth: Path | None, fast: bool, start: int | None, quiet: bool, experiments: bool,
) -> None:  # fmt: skip
    """Send realistic, deterministic traffic of the dojo site (with a ground-truth summary)."""
    from dojo_pulse.simulation import SimulationError, run

    if rate <= 0 or duration <= 0 or not 0 <= invalid_ratio <= 1:
        raise click.BadParameter("rate and duration must be positive, invalid-ratio in 0..1")
    try:
        summary = run(
            _settings(), rate=rate, duration_s=duration, seed=seed, invalid_ratio=invalid_ratio,
            via=via, truth_path=truth, fast=fast, progress=not quiet, start_ms=start,
            experiments=experiments,
        )  # fmt: skip
    except (SimulationError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    totals = summary.to_dict()["totals"]
    click.echo(
        f"sent {totals['events']} events: {totals['valid']} valid, "
        f"{sum(totals['dead_lettered_by_reason'].values())} to be dead-lettered"
    )


def _start_ms(value: str | None) -> int | None:
    from dojo_pulse.moment import parse_moment

    return None if value is None else parse_moment(value)


@main.command()
@click.option("--rate", default=20.0, show_default=True, help="Simulated events per second.")
@click.option("--invalid-ratio", default=0.02, show_default=True, help="Share of invalid events.")
@click.option(
    "--backfill-days",
    default=7,
    show_default=True,
    type=click.IntRange(0, 400),
    help="Simulate this many past days first (once per deployment), so history has data.",
)
def run(rate: float, invalid_ratio: float, backfill_days: int) -> None:
    """Run everything locally: Kafka, Redis, worker, collector, live panel and traffic."""
    from dojo_pulse.launch import run_everything

    settings, echo = _settings(), click.echo
    sys.exit(run_everything(settings, rate=rate, invalid_ratio=invalid_ratio, echo=echo,
                            backfill_days=backfill_days))  # fmt: skip


main.add_command(dlq)
main.add_command(history)
main.add_command(report)
main.add_command(report_schedule)
main.add_command(backup)
main.add_command(experiments)
main.add_command(content)

if __name__ == "__main__":
    main()
