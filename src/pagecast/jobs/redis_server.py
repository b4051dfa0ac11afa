"""A private ``redis-server`` child for when no ``PAGECAST_REDIS_URL`` is given.

It listens on a unix socket only (no TCP port: nothing else on the machine can reach it),
with AOF persistence in the data directory, so queued jobs survive a restart of pagecast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0


class EmbeddedRedis:
    def __init__(self, data_dir: Path, binary: str = "redis-server") -> None:
        self.data_dir = data_dir
        self.binary = binary
        self.socket = data_dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self) -> None:
        executable = shutil.which(self.binary)
        if executable is None:
            raise RuntimeError("redis-server not found: install it (make run does) or set PAGECAST_REDIS_URL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if await self._answering():
            # Unlinking a live server's socket would split the queue between two servers on one
            # AOF: another pagecast on this data dir, or the orphan of one that was SIGKILLed.
            raise RuntimeError(
                f"a redis-server already answers on {self.socket}: another pagecast uses "
                f"{self.data_dir.parent}? Set PAGECAST_REDIS_URL=unix://{self.socket} to share it, "
                "another PAGECAST_DATA_DIR, or stop it (redis-cli -s SOCKET shutdown)"
            )
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; we poll for readiness below
            [
                executable,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C reaches the whole foreground process group,
            # and redis-server would quit at once, while pagecast still drains running jobs
            # whose results then could not be saved. pagecast stops it itself, last.
            start_new_session=True,
        )
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    if self.process.poll() is not None:
                        raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
                    with contextlib.suppress(RedisError, OSError):
                        if await client.ping():
                            break
                    await asyncio.sleep(0.02)  # polling a child process's socket; it has no event
        finally:
            await client.aclose()
        log.info("embedded redis-server pid=%s at %s", self.process.pid, self.socket)

    async def _answering(self) -> bool:
        if not self.socket.exists():
            return False
        client = Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False  # a stale socket file: nobody listens
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: redis flushes the AOF and exits
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout=10)
        except TimeoutError:
            self.process.kill()
