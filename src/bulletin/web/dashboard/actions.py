"""The dashboard's POSTs: sign in and out, and a campaign's start / pause / resume / cancel.

Each carries the session's CSRF token (sign-in has no session yet: the Origin check and
SameSite=Strict cover it); an action is an admin's, and is done only once confirmed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from bulletin.app import dashboard, sessions
from bulletin.web import schemas
from bulletin.web.dashboard import guard, render
from bulletin.web.dashboard.pages import SessionOf, pool_of

router = APIRouter(route_class=guard.GuardedRoute, include_in_schema=False)
CONFIRMATIONS = {
    "start": "Start a run now? Every chat of its segment that may get it will.",
    "pause": "Pause it? Sending stops within moments; Resume goes on where it stopped.",
    "resume": "Resume it? Sending starts again at the bot's pace.",
    "cancel": "Cancel it for good? Its pending deliveries are skipped; this cannot be undone.",
}


@router.post("/login")
async def login(request: Request) -> Response:
    guard.same_origin(request)
    form = await guard.form_of(request)
    target = guard.local_path(form.get("next"))
    signed = await sessions.sign_in(pool_of(request), form.get("token", ""))
    if signed is None:
        problem = "that token is not valid (revoked, or mistyped)"
        return render.page(request, "login.html", 401, next=target, problem=problem)
    cookie, _ = signed
    response = RedirectResponse(target, 303)
    guard.set_session_cookie(request, response, cookie)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionOf) -> Response:
    await guard.checked_form(request, session)
    cookie = request.cookies.get(guard.COOKIE)
    if cookie:
        await sessions.sign_out(pool_of(request), cookie)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(guard.COOKIE, path="/", httponly=True, samesite="strict")
    request.state.new_cookie = None
    return response


@router.post("/campaigns/{name}/{action}")
async def act(request: Request, name: schemas.Name, action: str, session: SessionOf) -> Response:
    """Without `confirm=yes`, the confirmation page (the no-JavaScript path); with it, done."""
    form = await guard.checked_form(request, session)
    guard.admin_only(session)
    if action not in CONFIRMATIONS:
        return render.error(request, 404, f"no action {action!r} (start, pause, resume, cancel)")
    run = form.get("run", "")
    back = f"/campaigns/{render.segment(name)}"
    if run.isdigit():
        back += f"/runs/{int(run)}"
    if form.get("confirm") != "yes":
        return render.page(
            request,
            "confirm.html",
            name=name,
            action=action,
            question=CONFIRMATIONS[action],
            run=run if run.isdigit() else "",
            back=back,
        )
    said = await dashboard.act(pool_of(request), name, action)
    return RedirectResponse(f"{back}?{urlencode({'done': said})}", 303)
