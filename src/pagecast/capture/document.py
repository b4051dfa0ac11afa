"""Turn an ``html`` source (plus css, javascript, baseUrl) into the document we serve."""

from __future__ import annotations

import html as html_lib
import re

from pagecast.models.page import PageOptions

# Tags are found in the document's UTF-8 bytes with ASCII letters lowered (``bytes.lower`` keeps
# every offset, unlike ``str.lower``), so the patterns need no IGNORECASE, which would turn off
# the regex engine's fast scan for the leading "<": the html may be 50 MB, and it is built on
# the event loop.
#
# Every pattern must also stay linear on hostile input: ``<head(\s[^>]*)?>`` took minutes on
# "<head " repeated over a few hundred KB, retrying from every "<head" to the end. So a run of
# attribute text may also end at the end of the document (``\Z``): it then matches at once.
_HEAD_OPEN = rb"<head(?:\s[^>]*)?(?:>|\Z)"
_HEAD_CLOSE = rb"</head\s*>"
_BODY_CLOSE = rb"</body\s*>"
# Where a <base> goes when there is no <head>: after the doctype and <html>, never before the
# doctype, which would switch the page into quirks mode. Anchored, so it runs once.
_PROLOGUE = re.compile(rb"\s*(?:<!doctype[^>]*>)?\s*(?:<html(?:\s[^>]*)?>)?")
# Text that only looks like markup: a "</body>" in a JS string or a comment is not the tag, and
# inserting there would put our snippet inside the page's script (breaking it) or a comment.
# An unclosed one runs to the end, as the parser treats it.
_NOT_MARKUP = rb"<(script|style|textarea|title)\b[^>]*(?:>.*?(?:</\1\s*>|\Z)|\Z)|<!--.*?(?:-->|\Z)"
# One pass steps over script, style and comment text and finds the tags outside them.
_SCANNERS = {tag: re.compile(_NOT_MARKUP + rb"|(?P<tag>" + tag + rb")", re.DOTALL)
             for tag in (_HEAD_OPEN, _HEAD_CLOSE, _BODY_CLOSE)}  # fmt: skip


def _script_text(source: str) -> str:
    # "</script" inside the user's code would end our <script> element early.
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def _find(doc: bytes, tag: bytes, *, last: bool) -> tuple[int, int] | None:
    """Span of the first (or last) real ``tag`` in ``doc``, outside scripts and comments."""
    found = None
    for match in _SCANNERS[tag].finditer(doc.lower()):
        if match.group("tag") is not None and match.group("tag").endswith(b">"):  # not cut off
            found = match.span()
            if not last:
                break
    return found


def _insert(doc: bytes, tag: bytes, snippet: str, *, after: bool, fallback_end: bool,
            last: bool = False) -> bytes:  # fmt: skip
    """Put ``snippet`` at ``tag`` (after or before it), else at the end or after the prologue.

    ``last``: use the last such tag (for ``</body>``: the real one ends the document).
    """
    span = _find(doc, tag, last=last)
    if span is None and not fallback_end:
        prologue = _PROLOGUE.match(doc.lower())
        span = prologue.span() if prologue else None
    if span is None:
        return doc + snippet.encode(errors="replace")
    at = span[1] if after else span[0]
    return doc[:at] + snippet.encode(errors="replace") + doc[at:]


def build_document(options: PageOptions) -> bytes:
    assert options.html is not None
    # errors="replace": JSON may carry lone surrogates ("\ud800"), which UTF-8 cannot encode.
    doc = options.html.encode(errors="replace")
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
    return doc
