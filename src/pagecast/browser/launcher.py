"""Launching Debian's Chromium through Playwright's driver.

``playwright install`` downloads a browser at run time, which fails on closed networks and
in locked-down production, so pagecast always runs the system Chromium binary.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from playwright.async_api import Browser, Playwright

from pagecast.browser.origin import SECURE_ORIGIN_FLAG
from pagecast.errors import BrowserUnavailable

# Chromium keeps only the last --disable-features, so this list repeats Playwright's own
# (HttpsUpgrades would rewrite http:// URLs, PaintHolding delays first paint...) and adds:
# BackForwardCache (a cached page would survive our scrub navigation), LocalNetworkAccessChecks
# (network policy belongs to pagecast's egress layer, in one place), and the omnibox WebUI:
# new headless is full Chrome with hidden windows, and each window (= each of our contexts)
# prewarms a WebUI omnibox popup in its own renderer, ~45 MB per slot for nothing.
# fmt: off
DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch", "Translate",
    "BackForwardCache", "RenderDocument", "LocalNetworkAccessChecks",
    "WebUIOmniboxPopup", "WebUIOmniboxFullPopup", "WebUIOmniboxAimPopup",
)
# fmt: on

BASE_ARGS = (
    # Without these Chromium phones home (updates, safe browsing, metrics) and floods a
    # closed network with refused connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-dev-shm-usage",  # /dev/shm is 64 MB in containers; large pages crash there
    "--disable-features=" + ",".join(DISABLED_FEATURES),
    # Timers of a page we are rendering must not be throttled as if it were a background tab.
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--font-render-hinting=none",  # identical glyph metrics across machines
    "--hide-scrollbars",
    "--mute-audio",
)


@dataclass
class BrowserProcess:
    """A launched browser plus what we need to watch its processes."""

    browser: Browser
    tag: str
    renders: int = 0
    pid: int | None = field(default=None)

    def process(self) -> psutil.Process | None:
        if self.pid is None:
            self.pid = find_browser_pid(self.tag)
        try:
            return psutil.Process(self.pid) if self.pid else None
        except psutil.NoSuchProcess:
            return None


def find_browser_pid(tag: str) -> int | None:
    """Find our browser by the marker flag we put on its command line."""
    marker = f"--pagecast-browser={tag}"
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if marker in cmdline and not any(a.startswith("--type=") for a in cmdline):
            return int(proc.pid)
    return None


def chromium_args(extra: list[str], *, heap_mb: int) -> list[str]:
    # Chromium ignores unknown switches, so a unique marker flag lets us find our own
    # process tree among other browsers on the machine.
    return [
        *BASE_ARGS,
        f"--js-flags=--max-old-space-size={heap_mb}",
        SECURE_ORIGIN_FLAG,  # a JS memory bomb dies here, not in the kernel OOM
        *extra,
    ]


async def launch(playwright: Playwright, executable: Path, extra_args: list[str],
                 *, heap_mb: int) -> BrowserProcess:  # fmt: skip
    if not executable.exists():  # noqa: ASYNC240 - one stat at launch
        raise BrowserUnavailable(
            f"Chromium not found at {executable}; install Debian's chromium or set PAGECAST_CHROMIUM_PATH"
        )
    tag = uuid.uuid4().hex[:12]
    try:
        browser = await playwright.chromium.launch(
            executable_path=str(executable),
            args=[*chromium_args(extra_args, heap_mb=heap_mb), f"--pagecast-browser={tag}"],
            # Running as root in a container has no user namespace for Chromium's sandbox;
            # isolation between renders comes from separate contexts, not the OS sandbox.
            chromium_sandbox=False,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )
    except Exception as exc:
        raise BrowserUnavailable(f"Chromium failed to start: {exc}") from exc
    handle = BrowserProcess(browser=browser, tag=tag)
    handle.pid = find_browser_pid(tag)
    return handle
