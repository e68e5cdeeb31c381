"""The HTTP server as one async context manager: bound and answering inside, drained after."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from bulletin import config, errors
from bulletin.app import tokens
from bulletin.app.api_views import Pool
from bulletin.web import app as web_app

log = logging.getLogger(__name__)
SHUTDOWN_S = 5.0


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT ([::1]:8080 for IPv6) into its parts; ConfigError for anything else."""
    host, separator, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise errors.ConfigError(
            f"--http wants HOST:PORT (like 127.0.0.1:8080; port 0: any free one), not {value!r}"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere: treated as reachable from elsewhere


class _Server(uvicorn.Server):
    # bulletin's own SIGINT/SIGTERM handlers stop serve; uvicorn must not take them over.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(
    pool: Pool, settings: config.Settings, host: str, port: int
) -> AsyncIterator[str]:
    """Serve the API until the block ends; yields the line that says where and how."""
    loopback = is_loopback(host)
    open_access = await tokens.count(pool) == 0
    if open_access and not loopback:
        raise errors.ConfigError(
            f"refusing to serve HTTP on {host}:{port} without an API token: "
            "create one with `bulletin token create --role admin`, or listen on 127.0.0.1"
        )
    listening = _bind(host, port)
    app = web_app.build(
        pool, loopback=loopback, max_body_bytes=settings.web.max_body_bytes, settings=settings
    )
    server = _Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)
    )
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise errors.ConfigError(f"the HTTP server on {host}:{port} did not start")
            await asyncio.sleep(0.01)
        bound_host, bound_port = listening.getsockname()[:2]
        where = f"http://{_url_host(bound_host)}:{bound_port}"
        access = "open: loopback and no API token yet" if open_access else "Bearer token"
        yield f"HTTP API on {where}/api/v1 (docs at {where}/api/v1/docs; {access}); dashboard at {where}/"
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(SHUTDOWN_S):
                await task
        except TimeoutError:
            server.force_exit = True
            await task
        listening.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is one line, not uvicorn's exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets that say they are TCP, and
    # with Nagle on, every answer on a kept-alive connection waited 40 ms for a delayed ACK.
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listening.bind((host, port))
        listening.listen(128)
        listening.setblocking(False)
    except OSError as exc:
        listening.close()
        raise errors.ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listening
