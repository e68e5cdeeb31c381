"""The docs page works offline: Swagger UI comes from the server itself, no CDN."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.web.conftest import Served, client

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


async def test_docs__page_and_assets__served_here_with_no_external_host(served: Served) -> None:
    async with client(served) as api:
        page = await api.get("/api/v1/docs")
        assert page.status_code == 200, page.text
        assets = ASSET.findall(page.text)
        assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
        assert "openapi.json" in page.text
        assert not re.search(r"https?://", page.text), page.text  # nothing fetched from elsewhere
        for asset in assets:
            assert not urlsplit(asset).netloc, asset
            answer = await api.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 0
        licence = await api.get("/api/v1/static/swagger/LICENSE")
        assert licence.status_code == 200
        assert "Apache License" in licence.text
