"""Turn an ``html`` source (plus css, javascript, baseUrl) into the document we serve."""

from __future__ import annotations

import html as html_lib
import re

from pagecast.models.page import PageOptions

_HEAD_OPEN = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
# Where a <base> goes when there is no <head>: after the doctype and <html>, never before the
# doctype, which would switch the page into quirks mode.
_PROLOGUE = re.compile(r"^\s*(<!doctype[^>]*>)?\s*(<html(\s[^>]*)?>)?", re.IGNORECASE)
_HEAD_CLOSE = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


def _script_text(source: str) -> str:
    # "</script" inside the user's code would end our <script> element early.
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


# Text that only looks like markup: a "</body>" in a JS string or a comment is not the tag, and
# inserting there would put our snippet inside the page's script (breaking it) or a comment.
# An unclosed one runs to the end, as the parser treats it (and keeps the scan linear).
_NOT_MARKUP = r"<(script|style|textarea|title)\b[^>]*>.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)"


def _real(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` as a scanner that steps over script, style and comment text in one pass."""
    return re.compile(f"{_NOT_MARKUP}|(?P<tag>{pattern.pattern})", re.IGNORECASE | re.DOTALL)


_REAL = {p: _real(p) for p in (_HEAD_OPEN, _HEAD_CLOSE, _BODY_CLOSE)}


def _find(doc: str, pattern: re.Pattern[str], *, last: bool) -> re.Match[str] | None:
    found = None
    for match in _REAL[pattern].finditer(doc):
        if match.group("tag") is not None:
            found = match
            if not last:
                break
    return found


def _insert(doc: str, pattern: re.Pattern[str], snippet: str, *, after: bool, fallback_end: bool,
            last: bool = False) -> str:  # fmt: skip
    """Put ``snippet`` at ``pattern`` (after or before it), else at the end or after the prologue.

    ``last``: use the last such tag (``</body>``: the real one ends the document), else the first.
    """
    match = _find(doc, pattern, last=last) or (None if fallback_end else _PROLOGUE.match(doc))
    if match is None:
        return doc + snippet
    at = match.end() if after else match.start()
    return doc[:at] + snippet + doc[at:]


def build_document(options: PageOptions) -> bytes:
    assert options.html is not None
    doc = options.html
    if options.base_url:
        # <base> must come before anything that uses a URL, so it goes first in <head>.
        base = f'<base href="{html_lib.escape(options.base_url, quote=True)}">'
        doc = _insert(doc, _HEAD_OPEN, base, after=True, fallback_end=False)
    if options.css:
        # Last in <head> so it overrides the page's own styles.
        style = "<style>" + re.sub(r"</(style)", r"<\\/\1", options.css, flags=re.IGNORECASE) + "</style>"
        doc = _insert(doc, _HEAD_CLOSE, style, after=False, fallback_end=True)
    if options.javascript:
        script = "<script>" + _script_text(options.javascript) + "</script>"
        doc = _insert(doc, _BODY_CLOSE, script, after=False, fallback_end=True, last=True)
    return doc.encode()
