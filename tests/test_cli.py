"""The command line, run as a real process: ``pagecast screenshot | pdf | serve``."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image
from pypdf import PdfReader

from tests.site import Site

PAGECAST = [sys.executable, "-m", "pagecast"]


def _env(**extra: str) -> dict[str, str]:
    # A PAGECAST_* setting from the developer's shell must not change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGECAST_")}
    return {**env, **extra}


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAGECAST, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=_env(), check=False
    )


def test_screenshot_of_a_file(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<body style='margin:0;background:#0000ff'><h1>cli</h1></body>", encoding="utf-8")
    out = tmp_path / "out.png"
    result = run("screenshot", page, "-o", out, "--viewport", '{"width":400,"height":300}')
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (400, 300))
        assert image.convert("RGB").getpixel((399, 299)) == (0, 0, 255)


def test_screenshot_format_flag_changes_the_default_suffix(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    result = subprocess.run(
        [*PAGECAST, "screenshot", str(page), "--format", "jpeg", "--quality", "50", "--full-page"],
        capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "out.jpeg") as image:
        assert image.format == "JPEG"


def test_pdf_of_a_url(tmp_path: Path, site: Site) -> None:
    url = site.add("/cli-pdf", "<title>t</title><p>PRINTED BY THE CLI</p>")
    out = tmp_path / "out.pdf"
    result = run("pdf", url, "-o", out, "--format", "A4", "--landscape", "--margin", '{"top":"1cm"}')
    assert result.returncode == 0, result.stderr
    reader = PdfReader(out)
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(841.9, abs=1.5)
    assert float(box.height) == pytest.approx(595.3, abs=1.5)
    assert "PRINTED BY THE CLI" in reader.pages[0].extract_text()
    assert site.hits("/cli-pdf")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["screenshot", "--viewport", '{"width":-4,"height":300}'], "pagecast: --viewport.width: "),
        (["screenshot", "--quality", "50"], "quality applies to jpeg"),  # png has no quality
        (["pdf", "--scale", "5"], "pagecast: --scale: "),
        (["pdf", "--margin", '{"top":"one inch"}'], "pagecast: --margin.top: "),
        (["pdf", "--page-ranges", "3-1"], "pagecast: --page-ranges: "),
    ],
)
def test_invalid_option_exits_2_naming_the_flag(tmp_path: Path, args: list[str], expected: str) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    out = tmp_path / "never"
    result = run(args[0], page, "-o", out, *args[1:], timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr, result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["pdf", "--format", "A9"], "argument --format: invalid choice: 'A9'"),
        (["screenshot", "--viewport", "{bad json"], "argument --viewport: invalid loads value"),
        (["pdf", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_unparseable_flags_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    result = run(args[0], page, *args[1:], timeout=30)
    assert result.returncode == 2
    assert expected in result.stderr, result.stderr


def test_missing_source_file_fails(tmp_path: Path) -> None:
    result = run("screenshot", tmp_path / "absent.html", timeout=30)
    assert result.returncode != 0
    assert "neither an http(s) URL nor a file" in result.stderr


def test_unreachable_url_exits_1(tmp_path: Path) -> None:
    result = run("screenshot", "http://127.0.0.1:1/", "-o", tmp_path / "x.png")
    assert result.returncode == 1
    assert "navigation_failed" in result.stderr
    assert not (tmp_path / "x.png").exists()


# --- serve ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(server: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:  # the poll interval, which also notices a server that died
            server.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"server exited with {server.returncode}: {log.read_text()}")
    pytest.fail(f"server not ready within {timeout}s: {log.read_text()}")


def test_serve_renders_over_http_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    # Its own data dir: the embedded redis of a serve elsewhere on this machine is not ours.
    env = _env(PAGECAST_PORT=str(port), PAGECAST_MAX_CONCURRENCY="1", PAGECAST_LOG_LEVEL="info",
               PAGECAST_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    with log.open("wb") as sink:
        server = subprocess.Popen([*PAGECAST, "serve"], stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(server, base, log)
        health = httpx.get(f"{base}/health", timeout=10).json()
        assert health["status"] == "healthy"
        assert health["capacity"]["max"] == 1  # PAGECAST_MAX_CONCURRENCY reached the server
        browser_pid = health["checks"]["browser"]["pid"]

        r = httpx.post(
            f"{base}/v1/render", json={"html": "<h1>served</h1>", "viewport": {"width": 320, "height": 240}},
            headers={"X-Request-Id": "over-http"}, timeout=60,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"] == "over-http"
        assert Image.open(io.BytesIO(r.content)).size == (320, 240)

        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
        assert "Application shutdown complete" in log.read_text()  # the lifespan's finally ran
        # A graceful stop closes the browser too: nothing is left behind.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
            psutil.Process(browser_pid).wait(timeout=10)  # not our child: psutil polls for it
        assert not psutil.pid_exists(browser_pid) or psutil.Process(browser_pid).status() == "zombie"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
