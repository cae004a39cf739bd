"""HTML mail bodies made harmless with nh3 (ammonia) before anything renders them.

An allowlist of text-formatting tags survives; scripts, styles, forms, frames, images (no remote
content, no tracking pixels), event handlers and every attribute except table spans are removed.
Links are kept as text: `<a href="https://x">Rechnung</a>` becomes `Rechnung (https://x)`, so
the address stays readable without being clickable. The original stays in the filed `.eml`.
"""

from __future__ import annotations

import re

import nh3

ALLOWED_TAGS = frozenset({
    "p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "small", "sub", "sup", "code", "pre",
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
})
# Removed together with their content.
_DROP_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object",
                                "embed", "svg", "math", "textarea", "select", "button"})
_ATTRIBUTES = {"td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_LINK = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
_TAGS = re.compile(r"<[^>]*>")


def _link_as_text(match: re.Match[str]) -> str:
    href, label = match.group(1), match.group(2)
    target = href.removeprefix("mailto:")
    plain = _TAGS.sub("", label).strip()
    if not target or plain in (target, href):
        return label
    return f"{label} ({target})"


def sanitize_html(html: str) -> str:
    """The HTML with only harmless formatting left (links turned into text)."""
    first = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS) | {"a"},
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={**_ATTRIBUTES, "a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    with_links = _LINK.sub(_link_as_text, first)
    return nh3.clean(
        with_links,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes=_ATTRIBUTES,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )
