"""Page bodies in a safe subset of HTML (Markdown's inline HTML included), cleaned by nh3.

nh3 (the Ammonia sanitiser) parses like a browser and keeps only the tags and attributes
below: no scripts, styles, event handlers, frames or ``javascript:`` links survive, whatever
the spelling. Markdown text passes through as text.
"""

from __future__ import annotations

import nh3

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i", "img",
    "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}
SCHEMES = {"http", "https", "mailto"}


def clean_html(body: str) -> str:
    """``body`` with everything outside the safe subset removed (text is kept, escaped)."""
    return nh3.clean(
        body,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
