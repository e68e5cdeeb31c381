"""The API's docs page, Swagger UI served from this package: it works with no network."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

# swagger-ui-dist from the npm registry (its LICENSE and NOTICE beside it).
SWAGGER_FOLDER = Path(__file__).parent / "static" / "swagger"
STATIC_URL = "/api/v1/static/swagger"
DOCS_URL = "/api/v1/docs"


def install(app: FastAPI, openapi_url: str) -> None:
    """The docs page at /api/v1/docs and its assets under /api/v1/static/swagger."""
    app.mount(STATIC_URL, StaticFiles(directory=SWAGGER_FOLDER), name="swagger")

    async def docs_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
            # No badge fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_api_route(DOCS_URL, docs_page, methods=["GET"], include_in_schema=False)
