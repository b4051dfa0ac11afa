"""Every option of ``POST /v1/pdf``, checked in the PDF Chromium produced (read with pypdf).

Sizes are in PDF points (1in = 72pt, 1 CSS px = 0.75pt). Chromium rounds paper sizes to its
own device units, so sizes are compared within a point or two.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from pypdf import PageObject, PdfReader
from pypdf.generic import ContentStream, Destination, DictionaryObject

from tests.site import Site

PT_PER_IN = 72.0
PT_PER_PX = 0.75


async def pdf(client: httpx.AsyncClient, **options: Any) -> PdfReader:
    r = await client.post("/v1/pdf", json=options)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(r.content))


def size(page: PageObject) -> tuple[float, float]:
    box = page.mediabox
    return float(box.width), float(box.height)


def close(actual: tuple[float, ...], expected: tuple[float, ...], tolerance: float = 1.5) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def text_at(page: PageObject, word: str) -> tuple[float, float]:
    """Where ``word`` is drawn: (x from the left, y from the top of the page) in points."""
    found: list[tuple[float, float]] = []
    height = size(page)[1]

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if word in text and not found:
            # The text origin is the text matrix's translation mapped through the CTM.
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((x, height - y))

    page.extract_text(visitor_text=visit)
    assert found, f"{word!r} not drawn on the page: {page.extract_text()!r}"
    return found[0]


def fill_colours(reader: PdfReader) -> set[tuple[float, ...]]:
    """Every RGB fill colour set (``r g b rg``) in the first page's content stream."""
    contents = ContentStream(reader.pages[0].get_contents(), reader)
    return {
        tuple(round(float(v), 2) for v in operands)
        for operands, operator in contents.operations
        if operator == b"rg"
    }


def texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def pages_html(count: int, title: str = "") -> str:
    """``count`` pages, each with one marker word, separated by forced page breaks."""
    body = "".join(
        f"<p style='margin:0;{'break-before:page' if i > 1 else ''}'>PAGE{i}</p>" for i in range(1, count + 1)
    )
    return f"<!doctype html><title>{title}</title><body style='margin:0'>{body}</body>"


# --- paper ---------------------------------------------------------------------------------------


async def test_default_paper_is_letter_portrait(client: httpx.AsyncClient) -> None:
    reader = await pdf(client, html="<p>x</p>")
    assert close(size(reader.pages[0]), (8.5 * PT_PER_IN, 11 * PT_PER_IN))


@pytest.mark.parametrize(
    ("paper", "points"),
    [("A4", (595.3, 841.9)), ("Letter", (612, 792)), ("Legal", (612, 1008)), ("A5", (419.5, 595.3))],
)
async def test_format_sets_the_paper_size(
    client: httpx.AsyncClient, paper: str, points: tuple[float, float]
) -> None:
    reader = await pdf(client, html="<p>x</p>", format=paper)
    assert close(size(reader.pages[0]), points), size(reader.pages[0])


@pytest.mark.parametrize(
    ("width", "height", "points"),
    [("4in", "3in", (288, 216)), ("100mm", "5cm", (283.5, 141.7)), ("400px", "200", (300, 150))],
)
async def test_width_and_height_set_the_paper_size(
    client: httpx.AsyncClient, width: str, height: str, points: tuple[float, float]
) -> None:
    reader = await pdf(client, html="<p>x</p>", width=width, height=height)
    assert close(size(reader.pages[0]), points), size(reader.pages[0])


async def test_width_and_height_override_format(client: httpx.AsyncClient) -> None:
    reader = await pdf(client, html="<p>x</p>", format="A4", width="4in", height="3in")
    assert close(size(reader.pages[0]), (288, 216))


async def test_landscape_swaps_width_and_height(client: httpx.AsyncClient) -> None:
    portrait = size((await pdf(client, html="<p>x</p>", format="A4")).pages[0])
    landscape = size((await pdf(client, html="<p>x</p>", format="A4", landscape=True)).pages[0])
    assert landscape[0] > landscape[1]
    assert close(landscape, portrait[::-1])


# --- layout --------------------------------------------------------------------------------------

_MARKER = "<body style='margin:0'><p style='margin:0;font:20px sans-serif'>MARKER</p></body>"


@pytest.mark.parametrize("length", ["1in", "25.4mm", "2.54cm", "96px"])
async def test_margin_moves_the_content(client: httpx.AsyncClient, length: str) -> None:
    flush = text_at((await pdf(client, html=_MARKER)).pages[0], "MARKER")
    reader = await pdf(client, html=_MARKER, margin={"top": length, "left": length})
    moved = text_at(reader.pages[0], "MARKER")
    assert close((moved[0] - flush[0], moved[1] - flush[1]), (PT_PER_IN, PT_PER_IN)), (flush, moved)


async def test_right_margin_moves_right_aligned_content(client: httpx.AsyncClient) -> None:
    html = "<body style='margin:0'><p style='margin:0;text-align:right'>RIGHTMOST</p></body>"
    flush = text_at((await pdf(client, html=html)).pages[0], "RIGHTMOST")
    moved = text_at((await pdf(client, html=html, margin={"right": "1in"})).pages[0], "RIGHTMOST")
    assert close((flush[0] - moved[0], moved[1] - flush[1]), (PT_PER_IN, 0)), (flush, moved)


async def test_bottom_margin_pushes_content_to_the_next_page(client: httpx.AsyncClient) -> None:
    # Letter is 1056 CSS px tall: the line after a 960px block fits on page 1 only without
    # a 1in (96px) bottom margin.
    html = "<body style='margin:0'><div style='height:960px'></div><p style='margin:0'>AFTER</p></body>"
    flush = await pdf(client, html=html)
    assert len(flush.pages) == 1
    assert "AFTER" in texts(flush)[0]
    squeezed = await pdf(client, html=html, margin={"bottom": "1in"})
    assert len(squeezed.pages) == 2
    assert "AFTER" in texts(squeezed)[1]


@pytest.mark.parametrize("scale", [0.5, 2])
async def test_scale_zooms_the_content(client: httpx.AsyncClient, scale: float) -> None:
    html = "<body style='margin:0'><div style='height:200px'></div><p style='margin:0'>MARKER</p></body>"
    normal = text_at((await pdf(client, html=html)).pages[0], "MARKER")
    scaled = text_at((await pdf(client, html=html, scale=scale)).pages[0], "MARKER")
    # Everything above the marker (the 200px block, the line's ascent) scales with it.
    assert scaled[1] == pytest.approx(normal[1] * scale, rel=0.05)


async def test_print_background(client: httpx.AsyncClient) -> None:
    html = "<body style='background:rgb(255,0,0)'><p>x</p></body>"
    red = (1.0, 0.0, 0.0)
    assert red not in fill_colours(await pdf(client, html=html))
    assert red in fill_colours(await pdf(client, html=html, printBackground=True))


# --- pages ---------------------------------------------------------------------------------------


async def test_long_document_spans_several_pages(client: httpx.AsyncClient) -> None:
    paragraphs = "".join(f"<p>Paragraph {i} {'lorem ipsum ' * 30}</p>" for i in range(60))
    reader = await pdf(client, html=paragraphs)
    assert len(reader.pages) > 1
    assert "Paragraph 0" in texts(reader)[0]
    assert "Paragraph 59" in texts(reader)[-1]


async def test_page_ranges_keep_only_those_pages(client: httpx.AsyncClient) -> None:
    reader = await pdf(client, html=pages_html(5))
    assert [t.strip() for t in texts(reader)] == ["PAGE1", "PAGE2", "PAGE3", "PAGE4", "PAGE5"]
    reader = await pdf(client, html=pages_html(5), pageRanges="2, 4-5")
    assert [t.strip() for t in texts(reader)] == ["PAGE2", "PAGE4", "PAGE5"]


async def test_page_range_past_the_last_page_is_a_client_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/pdf", json={"html": pages_html(2), "pageRanges": "5-9"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "content_error"
    assert "page count" in r.json()["error"]["message"]


@pytest.mark.parametrize("ranges", ["0", "3-1", "1-2, 0"])
async def test_impossible_page_ranges_are_rejected_up_front(client: httpx.AsyncClient, ranges: str) -> None:
    r = await client.post("/v1/pdf", json={"html": "x", "pageRanges": ranges})
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == ["pageRanges"]


async def test_margins_larger_than_the_paper_are_a_client_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/pdf", json={"html": "x", "margin": {"top": "20in"}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "content_error"


# --- header and footer ---------------------------------------------------------------------------

_HEADER = '<div style="font-size:10px">HDR <span class="title"></span></div>'
_FOOTER = (
    '<div style="font-size:10px">Page <span class="pageNumber"></span>'
    ' of <span class="totalPages"></span></div>'
)


async def test_header_and_footer_templates_are_filled_in(client: httpx.AsyncClient) -> None:
    reader = await pdf(
        client, html=pages_html(3, title="Doc Title"), displayHeaderFooter=True,
        headerTemplate=_HEADER, footerTemplate=_FOOTER, margin={"top": "1in", "bottom": "1in"},
    )  # fmt: skip
    pages = texts(reader)
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"PAGE{number}" in text
        assert "HDR Doc Title" in text
        assert f"Page {number} of 3" in text


async def test_templates_are_ignored_without_display_header_footer(client: httpx.AsyncClient) -> None:
    reader = await pdf(
        client, html=pages_html(1, title="Doc Title"), headerTemplate=_HEADER, footerTemplate=_FOOTER,
        margin={"top": "1in", "bottom": "1in"},
    )  # fmt: skip
    assert texts(reader)[0].strip() == "PAGE1"


async def test_missing_template_prints_nothing_not_chromiums_default(client: httpx.AsyncClient) -> None:
    # Chromium's own header would print the date and the title; its footer the URL and "1/1".
    reader = await pdf(
        client, html=pages_html(1, title="Doc Title"), displayHeaderFooter=True, footerTemplate=_FOOTER,
        margin={"top": "1in", "bottom": "1in"},
    )  # fmt: skip
    text = texts(reader)[0]
    assert "Page 1 of 1" in text
    assert "Doc Title" not in text


# --- document features ---------------------------------------------------------------------------


async def test_prefer_css_page_size_honours_at_page_size(client: httpx.AsyncClient) -> None:
    html = "<style>@page { size: 100mm 50mm }</style><p>x</p>"
    honoured = await pdf(client, html=html, preferCSSPageSize=True)
    assert close(size(honoured.pages[0]), (283.5, 141.7)), size(honoured.pages[0])
    ignored = await pdf(client, html=html, format="Letter")
    # Without it the paper is Letter (Chromium still takes the orientation from @page).
    assert close(tuple(sorted(size(ignored.pages[0]))), (612, 792)), size(ignored.pages[0])


async def test_outline_lists_the_headings(client: httpx.AsyncClient) -> None:
    html = "<h1>Alpha</h1><p>x</p><h2>Beta</h2><h1 style='break-before:page'>Gamma</h1>"
    reader = await pdf(client, html=html, outline=True)
    assert "/Outlines" in reader.root_object
    alpha, children, gamma = reader.outline  # a list after an entry holds that entry's children
    assert isinstance(alpha, Destination)
    assert isinstance(gamma, Destination)
    assert isinstance(children, list)
    assert [child.title for child in children if isinstance(child, Destination)] == ["Beta"]
    assert (alpha.title, len(children), gamma.title) == ("Alpha", 1, "Gamma")
    assert reader.get_destination_page_number(alpha) == 0
    assert reader.get_destination_page_number(gamma) == 1  # Gamma starts page 2

    plain = await pdf(client, html=html)
    assert "/Outlines" not in plain.root_object


async def test_tagged_pdf_has_a_structure_tree(client: httpx.AsyncClient) -> None:
    tagged = (await pdf(client, html="<h1>Title</h1><p>x</p>", tagged=True)).root_object
    assert "/StructTreeRoot" in tagged
    mark_info = tagged["/MarkInfo"]
    assert isinstance(mark_info, DictionaryObject)
    assert bool(mark_info["/Marked"])
    untagged = (await pdf(client, html="<h1>Title</h1><p>x</p>")).root_object
    assert "/StructTreeRoot" not in untagged


_MEDIA = (
    "<style>.print{display:none} @media print {.screen{display:none} .print{display:block}}</style>"
    "<p class=screen>SCREENONLY</p><p class=print>PRINTONLY</p>"
)


async def test_print_media_is_the_default(client: httpx.AsyncClient) -> None:
    assert texts(await pdf(client, html=_MEDIA))[0].strip() == "PRINTONLY"
    assert texts(await pdf(client, html=_MEDIA, emulateMedia="print"))[0].strip() == "PRINTONLY"


async def test_emulate_media_screen(client: httpx.AsyncClient) -> None:
    assert texts(await pdf(client, html=_MEDIA, emulateMedia="screen"))[0].strip() == "SCREENONLY"


async def test_screen_media_does_not_stick_to_a_reused_page(client: httpx.AsyncClient) -> None:
    # Pages are warm and reused: enough alternations that every slot serves both kinds.
    for _ in range(3):
        assert texts(await pdf(client, html=_MEDIA, emulateMedia="screen"))[0].strip() == "SCREENONLY"
        assert texts(await pdf(client, html=_MEDIA))[0].strip() == "PRINTONLY"


async def test_pdf_of_a_url(client: httpx.AsyncClient, site: Site) -> None:
    url = site.add("/pdf-source", "<title>Remote</title><p>FROM THE SITE</p>")
    reader = await pdf(client, url=url, format="A5")
    assert "FROM THE SITE" in texts(reader)[0]
    assert close(size(reader.pages[0]), (419.5, 595.3))
