"""Who is looking: the session cookie, CSRF on every POST, and errors turned into pages.

Every dashboard route is a GuardedRoute: whatever goes wrong below it (a campaign not
found, a bad query parameter, a missing sign-in) becomes an HTML page or a redirect, never
the API's JSON and never a traceback; and every answer carries the security headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from bulletin import errors
from bulletin.app import sessions
from bulletin.web import auth, problems
from bulletin.web.dashboard import render

COOKIE = "bulletin_session"
CSRF_FIELD = "csrf"


class SignInNeeded(Exception):
    """No valid session: the browser is sent to /login."""


class Refused(Exception):
    """A 403: a forged or stale form, or a viewer's write."""


def access_of(request: Request) -> auth.Access:
    access: auth.Access = request.app.state.access
    return access


async def current(request: Request) -> sessions.Session:
    """The dependency of every page: the request's session, or off to sign in."""
    resolved = await sessions.resolve(
        access_of(request).pool, request.cookies.get(COOKIE), loopback=access_of(request).loopback
    )
    if resolved.session is None:
        raise SignInNeeded
    request.state.session = resolved.session
    request.state.new_cookie = resolved.new_cookie
    return resolved.session


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded form's fields, the first value of each (forms here are that simple)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise Refused("this form is posted as application/x-www-form-urlencoded")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the form is not UTF-8") from None
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def same_origin(request: Request) -> None:
    """A browser says where a POST comes from; one from another site is refused."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return  # no Origin (an old browser, a script): the CSRF token decides
    if urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused("this form was posted from another site")


async def checked_form(request: Request, session: sessions.Session) -> dict[str, str]:
    """The fields of a POST whose CSRF token is this session's; Refused otherwise."""
    same_origin(request)
    form = await form_of(request)
    if not session.csrf_matches(form.get(CSRF_FIELD)):
        raise Refused("this form's CSRF token is missing or stale: reload the page and try again")
    return form


def admin_only(session: sessions.Session) -> None:
    if not session.admin:
        raise Refused(f"token {session.token_name!r} is a viewer's: it only reads")


def set_session_cookie(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(sessions.LIFETIME_S),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def local_path(target: str | None) -> str:
    """Where to go after signing in: only a path of this site, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    where = "/login?" + urlencode({"next": target})
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, 303)


async def _answer(handler: Callable[[Request], Awaitable[Response]], request: Request) -> Response:
    try:
        return await handler(request)
    except SignInNeeded:
        return _to_sign_in(request)
    except Refused as exc:
        return render.error(request, 403, str(exc))
    except errors.BulletinError as exc:
        return render.error(request, problems.status_of(exc), str(exc))
    except RequestValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return render.error(request, 400, f"{where}: {first.get('msg', 'invalid')}")
    except HTTPException as exc:
        return render.error(request, exc.status_code, str(exc.detail))


class GuardedRoute(APIRoute):
    """A dashboard route: errors as pages, a fresh open-access cookie set, security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            response = await _answer(handler, request)
            new_cookie = getattr(request.state, "new_cookie", None)
            if new_cookie is not None:
                set_session_cookie(request, response, new_cookie)
            for name, value in render.SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return guarded
