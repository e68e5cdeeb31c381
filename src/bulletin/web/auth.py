"""Who may ask: a Bearer token (admin writes, viewer reads); open on loopback with no token."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.exceptions import HTTPException

from bulletin.app import tokens
from bulletin.app.api_views import Pool

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bulletin"'}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Access:
    """How this server was started: what decides whether a request needs no token."""

    pool: Pool
    loopback: bool


async def check(request: Request) -> None:
    """The dependency of every API route: 401 without a valid token, 403 for a viewer's write."""
    access: Access = request.app.state.access
    header = request.headers.get("authorization")
    if header is None:
        # Open only while nobody can reach it from elsewhere and nobody made a token yet.
        if access.loopback and await tokens.count(access.pool) == 0:
            return
        raise HTTPException(401, "an API token is needed: Authorization: Bearer …", CHALLENGE)
    scheme, _, secret = header.partition(" ")
    token = None
    if scheme.lower() == "bearer":
        token = await tokens.authenticate(access.pool, secret.strip())
    if token is None:
        raise HTTPException(401, "the API token is not valid (revoked, or mistyped)", CHALLENGE)
    if request.method not in READ_METHODS and token.role is not tokens.Role.ADMIN:
        raise HTTPException(403, f"token {token.name!r} is a viewer's: it only reads")
