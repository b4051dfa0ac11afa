"""Memory of a Chromium process tree, and the renderer watchdog.

RSS summed over the tree over-counts shared pages, which errs on the side of recycling early.
"""

from __future__ import annotations

import psutil

MB = 1024 * 1024


def _tree(process: psutil.Process | None) -> list[psutil.Process]:
    if process is None:
        return []
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss_mb(process: psutil.Process | None) -> float:
    total = 0
    for proc in _tree(process):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / MB


def kill_oversized_renderers(process: psutil.Process | None, limit_mb: int) -> list[tuple[int, float]]:
    """SIGKILL renderer processes above ``limit_mb``.

    V8's heap cap stops JS-object memory bombs, but ArrayBuffers, images and canvases live
    outside it; without this a single page could take the whole machine. The page sees a
    crash and its request fails alone.
    """
    killed = []
    for proc in _tree(process)[1:]:
        try:
            rss_mb = proc.memory_info().rss / MB
            if rss_mb > limit_mb and "--type=renderer" in proc.cmdline():
                proc.kill()
                killed.append((proc.pid, rss_mb))
        except psutil.Error:
            continue
    return killed
