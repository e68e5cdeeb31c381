"""The dashboard's sign-in: an API token buys a session; the cookie carries only its secret.

A session knows its CSRF token (the synchroniser token every form posts back) and the role
of the token it was made with. On a loopback server with no token at all, the API is open,
and so is the dashboard: a session without a token, which stops working the moment a token
exists, exactly as the API's open access does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bulletin.app import tokens
from bulletin.db import sessions as session_rows
from bulletin.db import tokens as token_rows
from bulletin.db.pool import Pool

LIFETIME_S = 12 * 3600.0  # a working day: signing in again each morning is not a burden
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    """Who is signed in (token_name None: open access) and what their forms must carry."""

    token_name: str | None
    role: tokens.Role
    csrf_token: str

    @property
    def admin(self) -> bool:
        return self.role is tokens.Role.ADMIN

    def csrf_matches(self, posted: str | None) -> bool:
        """Constant time: the comparison leaks nothing of the token."""
        return posted is not None and hmac.compare_digest(posted.encode(), self.csrf_token.encode())


@dataclass(frozen=True, slots=True)
class Resolved:
    """The session of a request, and the cookie to set when one was made for it just now."""

    session: Session | None
    new_cookie: str | None = None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


async def _create(pool: Pool, token_id: int | None) -> tuple[str, str]:
    """A new session's (cookie secret, CSRF token); only a hash of the secret is kept."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    csrf_token = secrets.token_urlsafe(SECRET_BYTES)
    async with pool.acquire() as connection:
        await session_rows.insert(connection, _digest(secret), token_id, csrf_token, LIFETIME_S)
    return secret, csrf_token


async def sign_in(pool: Pool, token_secret: str) -> tuple[str, Session] | None:
    """A session for a valid API token: (cookie value, session); None for a token not ours."""
    token = await tokens.authenticate(pool, token_secret.strip())
    if token is None:
        return None
    async with pool.acquire() as connection:
        token_id = await session_rows.token_id(connection, tokens.digest(token_secret.strip()))
    if token_id is None:
        return None  # revoked between the two reads
    cookie, csrf_token = await _create(pool, token_id)
    return cookie, Session(token.name, token.role, csrf_token)


async def is_open(pool: Pool, loopback: bool) -> bool:
    """The API's rule: open while nobody else can reach the server and no token exists."""
    if not loopback:
        return False
    async with pool.acquire() as connection:
        return await token_rows.count(connection) == 0


async def resolve(pool: Pool, cookie: str | None, *, loopback: bool) -> Resolved:
    """The session of a request's cookie; under open access one is made if it has none."""
    found = None
    if cookie:
        async with pool.acquire() as connection:
            found = await session_rows.find(connection, _digest(cookie))
    if found is not None and found["token_id"] is not None:
        return Resolved(
            Session(found["token_name"], tokens.Role(found["role"]), found["csrf_token"])
        )
    if not await is_open(pool, loopback):
        return Resolved(None)  # an open session outlives open access by not a request
    if found is not None:
        return Resolved(Session(None, tokens.Role.ADMIN, found["csrf_token"]))
    new_cookie, csrf_token = await _create(pool, None)
    return Resolved(Session(None, tokens.Role.ADMIN, csrf_token), new_cookie)


async def sign_out(pool: Pool, cookie: str) -> None:
    async with pool.acquire() as connection:
        await session_rows.delete(connection, _digest(cookie))
