"""Cross-process Redis names: one module builds them, and deployments never share one."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from live_feed.channels import parse_published
from stream.models.keys import Keys
from stream.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("stream", "collector", "live_feed", "dojo_pulse")
# Hostile parts: separators, glob characters, a path, another deployment's namespace.
PARTS = ("traffic", "a:b", "*", "[x]", "../..", "dojo:dojo-pulse:snapshot", "")

# Every kind of name, with the arguments it takes; a kind added to Keys must be listed here.
KINDS: dict[str, Callable[[Keys, str], list[str]]] = {
    "snapshot": lambda k, p: [k.snapshot(p)],
    "snapshot_parts": lambda k, p: [k.snapshot_parts(p)],
    "live": lambda k, p: [k.live(p)],
    "live_pattern": lambda k, p: [k.live_pattern],
    "checkpoints": lambda k, p: [k.checkpoints(p)],
    "folded": lambda k, p: [k.folded],
    "folded_at": lambda k, p: [k.folded_at],
    "seen_at": lambda k, p: [k.seen_at],
    "pipeline": lambda k, p: [k.pipeline],
    "events_processed": lambda k, p: [k.events_processed],
    "ingest_minute": lambda k, p: [k.ingest_minute(1_700_000_040_000)],
    "recommendations": lambda k, p: [k.recommendations(p)],
    "popular": lambda k, p: [k.popular],
    "segment": lambda k, p: [k.segment(p)],
    "dedupe_prefix": lambda k, p: [k.dedupe_prefix],
    "dedupe": lambda k, p: [k.dedupe(p)],
    "dedupe_ledger": lambda k, p: [k.dedupe_ledger],
    "salt": lambda k, p: [k.salt(p)],
    "salt_reset": lambda k, p: [k.salt_reset(p)],
    "rate_limit": lambda k, p: [k.rate_limit(7, p)],
    "session": lambda k, p: [k.session(p)],
    "dojo_notice": lambda k, p: [k.dojo_notice(p)],
}
DEPLOYMENTS = [
    Settings(),
    Settings(topic_prefix="staging"),
    Settings(app_id="dojo-pulse-2"),
    Settings(topic_prefix="dojo.dojo-pulse", app_id="x"),  # the default's parts, joined
    Settings(topic_prefix="staging", app_id="dojo-pulse-2"),
]


def names(keys: Keys) -> set[str]:
    return {name for kind in KINDS.values() for part in PARTS for name in kind(keys, part)}


def owner(name: str) -> tuple[str, str]:
    """Whose a name is: its first two segments (prefix and app id contain no ':')."""
    prefix, app_id, _ = name.split(":", 2)
    return prefix, app_id


def test_every_kind_of_name_is_covered_here() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Keys)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    assert public - {"of", "channel_of"} == set(KINDS)


@pytest.mark.parametrize("settings", DEPLOYMENTS, ids=lambda s: f"{s.topic_prefix}/{s.app_id}")
def test_each_name_starts_with_the_deployment(settings: Settings) -> None:
    keys = Keys.of(settings)
    assert keys.namespace == f"{settings.topic_prefix}:{settings.app_id}:"
    for name in names(keys):
        assert owner(name) == (settings.topic_prefix, settings.app_id), name


def test_two_deployments_share_no_name_of_any_kind() -> None:
    for n, one in enumerate(DEPLOYMENTS):
        for other in DEPLOYMENTS[n + 1 :]:
            a, b = Keys.of(one), Keys.of(other)
            for kind in KINDS.values():
                mine = {name for part in PARTS for name in kind(a, part)}
                theirs = {name for part in PARTS for name in kind(b, part)}
                assert not mine & theirs, (one.topic_prefix, one.app_id, kind)
            assert not any(name.startswith(b.namespace) for name in names(a))
            assert not any(name.startswith(a.namespace) for name in names(b))


def test_a_live_channel_is_read_back_only_by_its_own_deployment() -> None:
    ours, theirs = Keys.of(DEPLOYMENTS[0]), Keys.of(DEPLOYMENTS[2])
    assert ours.channel_of(ours.live("traffic")) == "traffic"
    assert ours.channel_of(theirs.live("traffic")) is None
    assert ours.channel_of(ours.snapshot("traffic")) is None
    body = b'{"channel": "traffic", "data": 1, "ts": 5}'
    assert parse_published(theirs, ours.live("traffic"), body) is None


@pytest.mark.parametrize("value", ["a:b", "x*", "pulse?", "[ab]", "", "a b"])
@pytest.mark.parametrize("var", ["DOJO_APP_ID", "DOJO_TOPIC_PREFIX"])
def test_a_namespace_part_that_could_blur_two_deployments_is_refused(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: value})


def test_no_product_module_spells_a_redis_key() -> None:
    # A literal "dojo:..." is a name that ignores the deployment; Keys builds every one.
    literal = re.compile(r"""(?:\bf|\bb)?["']dojo:""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line)
    ]
    assert found == []
    # The check would see one: it is not blind to the form it looks for.
    assert literal.search('KEY = "dojo:snapshot:{}"') and literal.search("f'dojo:live:{c}'")
