"""The dashboard: server-rendered pages over the application layer, with their own assets."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bulletin.web.dashboard import actions, pages


def install(app: FastAPI) -> None:
    """The pages, their POSTs, and /static from the package (no CDN: it works offline)."""
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount(
        "/static",
        StaticFiles(packages=[("bulletin.web.dashboard", "static")]),
        name="dashboard-static",
    )
