"""``dojo-pulse experiments list | show KEY``: definitions from the store, figures from Redis."""

from __future__ import annotations

import json
from typing import Any

import click

from stream.experiments.definition import EXPERIMENT  # registers the type for every command
from stream.settings import Settings, SettingsError


@click.group()
def experiments() -> None:
    """A/B experiments: their published definitions and the worker's live figures."""


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _definitions(settings: Settings) -> dict[str, dict[str, Any]]:
    from stream.content.queries import Reader
    from stream.store import StoreError, open_store

    try:
        engine = open_store(settings)
        try:
            items = Reader(engine).published(EXPERIMENT.name)
        finally:
            engine.dispose()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    return {str(item["key"]): item for item in items}


def _figures(settings: Settings) -> dict[str, dict[str, Any]]:
    """The worker's latest figures per experiment ({} when Redis has none or is away)."""
    import redis
    from redis.exceptions import RedisError

    from stream.models.keys import Keys

    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        raw = client.get(Keys.of(settings).snapshot("experiments"))
        client.close()
    except RedisError:
        click.echo("(Redis unreachable: no live figures)", err=True)
        return {}
    try:
        data = json.loads(raw or b"{}").get("data") or {}
    except (ValueError, AttributeError):
        return {}
    found = data.get("experiments") if isinstance(data, dict) else None
    return {
        e["key"]: e for e in found or [] if isinstance(e, dict) and isinstance(e.get("key"), str)
    }


@experiments.command("list")
def list_experiments() -> None:
    """One line per experiment: status, traffic, variants and the decision line."""
    settings = _settings()
    definitions, figures = _definitions(settings), _figures(settings)
    if not definitions and not figures:
        click.echo("no experiments: publish one (content type 'experiment') in the panel")
        return
    for key in sorted(set(definitions) | set(figures)):
        d, f = definitions.get(key, {}), figures.get(key, {})
        status = d.get("status", "unpublished")
        traffic = f"{d.get('traffic', 100)}%" if d else "-"
        variants = d.get("variants", ", ".join(v.get("name", "?") for v in f.get("variants", [])))
        click.echo(
            f"{key}  [{status}, {traffic}]  {variants}  — {f.get('decision', 'no figures yet')}"
        )


@experiments.command("show")
@click.argument("key")
def show(key: str) -> None:
    """KEY's definition and figures as JSON (the figures /api/experiments/KEY serves)."""
    settings = _settings()
    definition, figures = _definitions(settings).get(key), _figures(settings).get(key)
    if definition is None and figures is None:
        raise click.ClickException(f"no experiment {key[:64]!r}: `dojo-pulse experiments list`")
    click.echo(json.dumps({"definition": definition, "figures": figures}, indent=2))
