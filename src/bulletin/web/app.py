"""The ASGI application: the API, /metrics, /healthz and /readyz, errors as problems."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from bulletin import __version__, config
from bulletin.app import api_views
from bulletin.app.api_views import Pool
from bulletin.web import (
    api,
    api_audience,
    api_bots,
    api_media,
    auth,
    docs,
    limits,
    metrics,
    problems,
    schemas,
)
from bulletin.web.dashboard import install as install_dashboard


def build(
    pool: Pool, *, loopback: bool, max_body_bytes: int, settings: config.Settings | None = None
) -> FastAPI:
    """The app of one serve process, on this pool."""
    app = FastAPI(
        title="bulletin",
        version=__version__,
        summary="Broadcast to the people who opted in to your Telegram bots.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # docs.install: Swagger UI from this package, not a CDN
        redoc_url=None,
    )
    app.state.access = auth.Access(pool, loopback)
    # What use cases that talk to Telegram read (timeouts, proxies, allowed Bot API servers).
    app.state.settings = settings or config.Settings()
    problems.install(app)
    docs.install(app, "/api/v1/openapi.json")
    app.include_router(api.router)
    app.include_router(api_bots.router)
    app.include_router(api_media.router)
    app.include_router(api_audience.router)
    install_dashboard(app)  # the pages at /, their assets at /static
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=schemas.Health)
    app.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=schemas.Readiness,
        responses={503: {"model": schemas.Readiness, "description": "not ready"}},
    )
    app.add_api_route(
        "/metrics",
        scrape,
        methods=["GET"],
        dependencies=[Depends(auth.check)],
        response_class=Response,
        responses={200: {"content": {metrics.CONTENT_TYPE: {}}}},
    )
    app.add_middleware(limits.BodyLimit, max_bytes=max_body_bytes)
    # So the OpenAPI document names Problem, which routes refer to.
    app.openapi_schema = None
    original = app.openapi

    def with_problem() -> dict[str, object]:
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", problems.Problem.model_json_schema())
        return schema

    app.openapi = with_problem  # type: ignore[method-assign]
    return app


async def healthz() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """Ready: the database answers and its schema is this version's."""
    access: auth.Access = request.app.state.access
    reason = await api_views.ready(access.pool)
    if reason is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "detail": reason}, 503)


async def scrape(request: Request) -> Response:
    """Prometheus' text format."""
    access: auth.Access = request.app.state.access
    return await metrics.scrape(access.pool)
