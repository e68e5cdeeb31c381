"""Request bodies over the configured size are refused with 413, before they are read whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bulletin.web import problems


class BodyLimit:
    """ASGI middleware: a Content-Length over the limit is answered at once; a body streamed
    without one is counted as it arrives, and refused once past the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    @property
    def refusal(self) -> str:
        return f"a request body is at most {self.max_bytes:,} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await problems.answer(413, self.refusal)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised inside the route: the app's handler answers it as a problem.
                raise HTTPException(413, self.refusal)
            return message

        await self.app(scope, counted, send)
