"""`bulletin` commands for the tests, forked from a process that imported the heavy libraries
once: aiogram alone costs about 3 s of CPU per process (its types are built at import), and the
suite starts hundreds of commands.

Each forked command is still its own process, with its own pipes, environment, working
directory, arguments and exit status; it imports bulletin itself, as `python -c` would, so
bulletin's import-time behaviour is not shared. Only the third-party modules of PRELOADED are
already imported. A command whose environment differs from the server's in anything read at
interpreter start (PYTHON* variables, locale) is started the ordinary way, and so is every
command with BULLETIN_TEST_PREFORK=0.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import contextlib
import io
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND = "from bulletin.cli.main import main; main()"
PRELOADED = (
    "aiogram", "aiohttp", "aiohttp_socks", "asyncpg", "pydantic", "typer", "click",
    "rich.console", "rich.table", "jinja2", "jinja2.sandbox", "yaml", "fastapi", "starlette",
    "uvicorn", "cronsim",
)  # fmt: skip
# Not prometheus_client: it picks its value store from PROMETHEUS_MULTIPROC_DIR when first
# imported, which `serve --workers N` sets before it imports it.
# Read by bulletin, Rich and Typer when a command runs, not when they are imported (and
# pytest's own, which change from test to test).
RUNTIME_VARIABLES = ("BULLETIN_", "NO_COLOR", "COLUMNS", "PYTHONUNBUFFERED", "PYTEST_")
MESSAGE_BYTES = 1 << 20


def comparable(env: Mapping[str, str]) -> dict[str, str]:
    """The environment but what is read only at run time."""
    return {k: v for k, v in env.items() if not k.startswith(RUNTIME_VARIABLES)}


def server_environment() -> dict[str, str]:
    return {**comparable(os.environ), "PYTHONUNBUFFERED": "1"}


def forkable(env: Mapping[str, str]) -> bool:
    """Whether a command with env behaves the same forked as started afresh."""
    wanted = os.environ.get("BULLETIN_TEST_PREFORK", "1") != "0"
    unbuffered = env.get("PYTHONUNBUFFERED") == "1"
    return wanted and unbuffered and comparable(env) == comparable(server_environment())


# The server: one per test process, started on first use.


def serve(path: str) -> None:
    """Import PRELOADED, then fork a command for each request on the socket at path, and
    tell the requester its pid and, later, its exit status. Ends when its stdin closes."""
    # What Python made of SIGINT at start (ignored if this was started ignoring it): the
    # commands get the same. The server itself leaves ^C to pytest, which then closes stdin.
    on_interrupt = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in PRELOADED:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "children")
    selector.register(sys.stdin, selectors.EVENT_READ, "lifeline")
    waiting: dict[int, socket.socket] = {}
    os.rename(path + ".new", path)  # ready
    while True:
        for key, _ in selector.select():
            if key.data == "lifeline":
                return
            if key.data == "children":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
            else:
                connection, _ = listener.accept()
                request, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, 3)
                pid = os.fork()
                if pid == 0:
                    try:
                        selector.close()
                        for other in (listener, connection, *waiting.values()):
                            other.close()
                        os.close(wake_read)
                        os.close(wake_write)
                        _run_command(json.loads(request), fds, on_interrupt)
                    finally:
                        os._exit(127)
                for fd in fds:
                    os.close(fd)
                connection.send(json.dumps({"pid": pid}).encode())
                waiting[pid] = connection  # before any wait: no exit goes unreported
            _report_exits(waiting)


def _report_exits(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = waiting.pop(pid)
        code, cpu_s = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        with contextlib.suppress(OSError):  # the requester gave up waiting
            connection.send(json.dumps({"code": code, "cpu_s": cpu_s}).encode())
        connection.close()


def _run_command(request: dict[str, Any], fds: list[int], on_interrupt: Any) -> None:
    """In the forked child: become `python -c COMMAND *args` with the request's environment,
    working directory and standard streams."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, on_interrupt)
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["-c", *request["args"]]
    random.seed()  # each process its own sequence, as if started afresh
    code = 0
    try:
        exec(
            compile(COMMAND, "<string>", "exec"), {"__name__": "__main__", "__builtins__": builtins}
        )
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if code < 0:  # as Python does after an unhandled KeyboardInterrupt: die of the signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


# The client.

ROOT = str(Path(__file__).resolve().parents[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    folder: str

    @property
    def path(self) -> str:
        return str(Path(self.folder, "socket"))

    def listening(self) -> bool:
        return Path(self.path).exists()  # renamed into place once it listens


_server: Server | None = None


def _start() -> Server:
    folder = tempfile.mkdtemp(prefix="bulletin-prefork-")
    path = str(Path(folder, "socket"))
    code = (
        f"import sys; sys.path.insert(0, {ROOT!r}); import tests.prefork as prefork; "
        f"sys.path.remove({ROOT!r}); prefork.serve({path!r})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=server_environment(),
        stdin=subprocess.PIPE,  # its lifeline: closed when this process ends
        stdout=subprocess.DEVNULL,
        cwd=os.getcwd(),
    )
    atexit.register(_stop, process, folder)
    return Server(process, folder)


def _stop(process: subprocess.Popen[bytes], folder: str) -> None:
    if process.stdin is not None:
        process.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    process.kill()
    with contextlib.suppress(OSError):
        Path(folder, "socket").unlink()
    with contextlib.suppress(OSError):
        os.rmdir(folder)


async def server(timeout_s: float = 60) -> Server:
    """This process's server, started if it is not running, once it listens."""
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _start()
    running = _server
    async with asyncio.timeout(timeout_s):
        while not running.listening():
            assert running.process.poll() is None, "the prefork server ended at start"
            await asyncio.sleep(0.02)
    return running


PIPE = asyncio.subprocess.PIPE


class Process:
    """A forked command: the part of asyncio.subprocess.Process the tests use."""

    def __init__(
        self,
        pid: int,
        connection: socket.socket,
        stdin: int | None,
        stdout: asyncio.StreamReader | None,
        stderr: asyncio.StreamReader | None,
    ) -> None:
        self.pid, self.stdout, self.stderr = pid, stdout, stderr
        self.returncode: int | None = None
        self._connection, self._stdin = connection, stdin
        self._exited: asyncio.Future[int] | None = None

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        """The exit status, as the server saw it (-N: ended by signal N)."""
        if self._exited is None:
            self._exited = asyncio.ensure_future(self._status())
        return await asyncio.shield(self._exited)

    async def _status(self) -> int:
        try:
            reply = await asyncio.get_running_loop().sock_recv(self._connection, MESSAGE_BYTES)
        finally:
            self._connection.close()
        answer = json.loads(reply)
        if os.environ.get("PREFORK_DEBUG"):
            print(f"prefork: pid {self.pid} used {answer['cpu_s']:.2f} s of CPU", file=sys.stderr)
        self.returncode = int(answer["code"])
        return self.returncode

    async def communicate(self, data: bytes | None = None) -> tuple[bytes, bytes]:
        """Feed stdin (then close it), read stdout and stderr to their ends, and wait."""
        if self._stdin is not None:
            stdin, self._stdin = self._stdin, None
            await _write(stdin, data or b"")
        out, err = await asyncio.gather(_drain(self.stdout), _drain(self.stderr))
        await self.wait()
        return out, err


async def _drain(reader: asyncio.StreamReader | None) -> bytes:
    return b"" if reader is None else await reader.read()


async def start(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: int | None = PIPE,
    stdout: int | None = PIPE,
    stderr: int | None = PIPE,
) -> Process:
    """Start the bulletin command forked from the server. Each stream: PIPE, DEVNULL, a file
    descriptor the command writes to (or reads from), or None for this process's own."""
    running = await server()
    ours: list[int] = []  # per stream, the end this process keeps (-1: none)
    passed: list[int] = []  # per stream, the descriptor the command gets
    theirs: list[int] = []  # the pipes' command ends, closed here once sent
    for number, wanted in enumerate((stdin, stdout, stderr)):
        if wanted == PIPE:
            read, write = os.pipe()
            ours.append(write if number == 0 else read)
            theirs.append(read if number == 0 else write)
            passed.append(theirs[-1])
        elif wanted == asyncio.subprocess.DEVNULL:
            theirs.append(os.open(os.devnull, os.O_RDONLY if number == 0 else os.O_WRONLY))
            ours.append(-1)
            passed.append(theirs[-1])
        else:
            ours.append(-1)
            passed.append(number if wanted is None else wanted)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(running.path)
        request = {"args": list(args), "env": dict(env), "cwd": os.getcwd()}
        socket.send_fds(connection, [json.dumps(request).encode()], passed)
        connection.setblocking(False)
        pid = json.loads(await asyncio.get_running_loop().sock_recv(connection, MESSAGE_BYTES))
    except BaseException:
        connection.close()
        for fd in ours:
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    stdout_reader = await _reader(ours[1]) if ours[1] >= 0 else None
    stderr_reader = await _reader(ours[2]) if ours[2] >= 0 else None
    stdin_end = ours[0] if ours[0] >= 0 else None
    return Process(pid["pid"], connection, stdin_end, stdout_reader, stderr_reader)


async def run(
    args: Sequence[str], env: Mapping[str, str], stdin: bytes | None, timeout_s: float
) -> tuple[int, bytes, bytes]:
    """Run the bulletin command forked from the server: (exit code, stdout, stderr)."""
    process = await start(args, env)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate(stdin)
    except BaseException:
        process.kill()
        raise
    assert process.returncode is not None
    return process.returncode, out, err


async def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), _file(fd)
    )  # the transport closes the pipe once the command has closed its end
    return reader


def _file(fd: int) -> io.FileIO:
    """A pipe's end as a file, for the event loop's transport (which closes it)."""
    return io.FileIO(fd, "rb")


async def _write(fd: int, data: bytes) -> None:
    def write_all() -> None:
        with contextlib.suppress(BrokenPipeError), open(fd, "wb") as pipe:
            pipe.write(data)

    if data:
        await asyncio.to_thread(write_all)
    else:
        os.close(fd)
