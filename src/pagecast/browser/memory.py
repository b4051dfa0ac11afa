"""Memory of a Chromium process tree, and the renderer watchdog.

Every Chromium process maps the same 200+ MB binary, so summed RSS counts it once per process
and says a fresh browser uses 1.5 GB. PSS (proportional set size, from smaps_rollup) splits
shared pages between the processes that share them, so the sum is the real footprint.
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


def _pss(proc: psutil.Process) -> int:
    return int(proc.memory_full_info().pss)


def tree_memory_mb(process: psutil.Process | None) -> float:
    total = 0
    for proc in _tree(process):
        try:
            total += _pss(proc)
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
            mb = _pss(proc) / MB
            if mb > limit_mb and "--type=renderer" in proc.cmdline():
                proc.kill()
                killed.append((proc.pid, mb))
        except psutil.Error:
            continue
    return killed
