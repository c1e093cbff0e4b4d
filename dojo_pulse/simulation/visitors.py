"""Who visits: devices, user agents, topic tastes and intents of simulated visitors."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from dojo_pulse.simulation.site import TOPICS

INTENTS = ("event_seeker", "resource_learner", "newcomer", "blog_parent")
_INTENT_WEIGHTS = (0.30, 0.30, 0.20, 0.20)

DEVICES = ("mobile", "desktop", "tablet")
_DEVICE_WEIGHTS = (0.45, 0.45, 0.10)

_AGENTS = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
}

BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)

# Viewport (w, h) in CSS pixels per device class.
VIEWPORTS = {
    "mobile": ((390, 844), (412, 915), (360, 800)),
    "tablet": ((820, 1180), (768, 1024)),
    "desktop": ((1920, 1080), (1440, 900), (1366, 768), (1536, 864)),
}


@dataclass(frozen=True, slots=True)
class Visitor:
    """A simulated person (or crawler) with a stable identity for the whole run."""

    number: int
    visitor_id: str  # stable hex id, used when writing straight to Kafka
    user_agent: str
    device: str  # mobile | tablet | desktop | bot
    intent: str
    taste: dict[str, float]  # topic -> weight, sums to 1
    viewport: tuple[int, int]
    variant: str  # cta_colour arm, fixed per visitor so exposures are consistent
    bot: bool = False


def _stable_id(namespace: str, number: int) -> str:
    return hashlib.blake2b(f"{namespace}:{number}".encode(), digest_size=8).hexdigest()


def new_visitor(rng: random.Random, number: int, namespace: str) -> Visitor:
    """A person with a device, a user agent tagged ``DojoSim/<ns>-<n>``, a taste and an intent."""
    device = rng.choices(DEVICES, _DEVICE_WEIGHTS)[0]
    agent = rng.choice(_AGENTS[device])
    # A few topics dominate each taste (gamma draws make a Dirichlet with alpha < 1).
    raw = [rng.gammavariate(0.6, 1.0) + 1e-6 for _ in TOPICS]
    total = sum(raw)
    taste = {topic: weight / total for topic, weight in zip(TOPICS, raw, strict=True)}
    return Visitor(
        number=number,
        visitor_id=_stable_id(namespace, number),
        # The token keeps visitors apart when every request comes from one IP.
        user_agent=f"{agent} DojoSim/{namespace}-{number}",
        device=device,
        intent=rng.choices(INTENTS, _INTENT_WEIGHTS)[0],
        taste=taste,
        viewport=rng.choice(VIEWPORTS[device]),
        variant="blue" if rng.random() < 0.5 else "orange",
    )


def new_bot(rng: random.Random, number: int, namespace: str) -> Visitor:
    """A crawler with a well-known bot user agent."""
    return Visitor(
        number=number,
        visitor_id=_stable_id(namespace, number),
        user_agent=rng.choice(BOT_AGENTS),
        device="bot",
        intent="crawler",
        taste={topic: 1 / len(TOPICS) for topic in TOPICS},
        viewport=(1920, 1080),
        variant="blue",
        bot=True,
    )
