"""A coarse device class and a bot flag from a user agent; the agent itself is not kept."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ua_parser
from crawlerdetect import CrawlerDetect

MOBILE = "mobile"
TABLET = "tablet"
DESKTOP = "desktop"
BOT = "bot"
UNKNOWN = "unknown"

_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"})
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "ChromeOS",
        "Fedora",
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Red Hat",
        "SUSE",
        "Arch Linux",
    }
)
# Distinct user agents seen in a day are few compared with requests; this bounds memory
# while keeping the ~1 ms uncached parse off nearly every request.
CACHE_SIZE = 8192


@dataclass(frozen=True)
class DeviceClass:
    """What the collector keeps of a user agent."""

    device: str  # mobile | tablet | desktop | bot | unknown
    bot: bool


@functools.cache
def _crawler_detect() -> CrawlerDetect:
    return CrawlerDetect()


@functools.lru_cache(maxsize=CACHE_SIZE)
def classify(user_agent: str) -> DeviceClass:
    """The device class of ``user_agent``; crawlers (and agent-less clients) are bots."""
    # Every browser sends a user agent; requests without one are scripts.
    if not user_agent.strip() or _crawler_detect().isCrawler(user_agent):
        return DeviceClass(BOT, True)
    parsed = ua_parser.parse(user_agent)
    device = parsed.device
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    os_family = parsed.os.family if parsed.os else ""
    if family == "Spider":
        return DeviceClass(BOT, True)
    if "iPad" in family or "Kindle" in family or "Tablet" in brand or "Tablet" in family:
        return DeviceClass(TABLET, False)
    if os_family == "Android" and "Mobile" not in user_agent:
        # Android tablets drop the "Mobile" token (Google's documented convention).
        return DeviceClass(TABLET, False)
    if os_family in _MOBILE_OS or "Mobi" in user_agent:
        return DeviceClass(MOBILE, False)
    if os_family in _DESKTOP_OS or os_family.startswith("Windows"):
        return DeviceClass(DESKTOP, False)
    return DeviceClass(UNKNOWN, False)


def warm_up() -> None:
    """Load the parsers' rule sets now, so the first request does not pay ~0.3 s for it."""
    _crawler_detect().isCrawler("Mozilla/5.0")
    ua_parser.parse("Mozilla/5.0")
