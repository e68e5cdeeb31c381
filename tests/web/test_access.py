"""Who may use the API: tokens from the CLI, viewers read, admins write, loopback-only when open."""

from __future__ import annotations

import httpx

from tests.support import run_cli
from tests.web.conftest import Served, client, create_token, start_serve, stop_serve

DOCUMENT = {"bot": "news", "variants": [{"name": "a", "text": "Hi"}]}


async def test_api__loopback_no_token__open_until_a_token_exists(
    served: Served, cli_env: dict[str, str]
) -> None:
    assert "open: loopback and no API token yet" in "".join(served.lines)
    async with client(served) as api:
        assert (await api.get("/api/v1/stats/daily")).status_code == 200
        await create_token(cli_env, "viewer", "dashboard")
        refused = await api.get("/api/v1/stats/daily")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_api__viewer_and_admin__viewer_reads_admin_writes(
    served: Served, cli_env: dict[str, str]
) -> None:
    viewer = await create_token(cli_env, "viewer", "dashboard")
    admin = await create_token(cli_env, "admin", "backend")
    async with client(served, viewer) as api:
        assert (await api.get("/api/v1/stats/daily")).status_code == 200
        written = await api.put("/api/v1/campaigns/x", json=DOCUMENT)
        started = await api.post("/api/v1/campaigns/x/start")
    assert (written.status_code, started.status_code) == (403, 403)
    assert "viewer" in written.json()["detail"]
    async with client(served, admin) as api:
        assert (await api.put("/api/v1/campaigns/x", json=DOCUMENT)).status_code == 200
    async with client(served, admin + "x") as api:
        assert (await api.get("/api/v1/stats/daily")).status_code == 401
    async with httpx.AsyncClient(base_url=served.url) as api:
        basic = await api.get("/api/v1/stats/daily", headers={"Authorization": "Basic YTpi"})
        assert basic.status_code == 401
        assert (await api.get("/metrics")).status_code == 401
        assert (await api.get("/healthz")).status_code == 200


async def test_token__revoked__refused_and_never_listed_with_its_secret(
    served: Served, cli_env: dict[str, str]
) -> None:
    secret = await create_token(cli_env, "admin", "old")
    code, out, err = await run_cli("token", "list", "--json", env=cli_env)
    assert code == 0, err
    assert '"old"' in out
    assert secret not in out
    assert secret[4:] not in out
    code, _, err = await run_cli("token", "revoke", "old", env=cli_env)
    assert code == 0, err
    async with client(served, secret) as api:
        assert (await api.get("/api/v1/stats/daily")).status_code == 401
    code, _, err = await run_cli("token", "revoke", "old", env=cli_env)
    assert code == 1
    assert err.startswith("error: no token named 'old'")


async def test_token_create__same_name_twice__one_line_error(cli_env: dict[str, str]) -> None:
    await create_token(cli_env, "viewer", "twice")
    code, out, err = await run_cli(
        "token", "create", "--role", "viewer", "--name", "twice", env=cli_env
    )
    assert (code, out) == (1, "")
    assert err.strip() == "error: a token named 'twice' already exists"


async def test_serve__off_loopback_without_token__refused_at_start(
    cli_env: dict[str, str],
) -> None:
    code, _, err = await run_cli("serve", "--http", "0.0.0.0:0", env=cli_env)
    assert code == 1
    assert err.startswith("error: refusing to serve HTTP on 0.0.0.0:0 without an API token")
    assert len(err.strip().splitlines()) == 1


async def test_serve__off_loopback_with_token__serves_with_bearer(
    cli_env: dict[str, str],
) -> None:
    token = await create_token(cli_env, "viewer", "ops")
    served = await start_serve(cli_env, "--http", "0.0.0.0:0", "--workers", "1")
    try:
        assert "Bearer token" in "".join(served.lines)
        served.url = served.url.replace("0.0.0.0", "127.0.0.1")
        async with client(served, token) as api:
            assert (await api.get("/readyz")).json() == {"status": "ready"}
            assert (await api.get("/api/v1/stats/daily")).status_code == 200
    finally:
        await stop_serve(served)


async def test_serve__http_not_host_port__one_line_error(cli_env: dict[str, str]) -> None:
    code, _, err = await run_cli("serve", "--http", "8080", env=cli_env)
    assert code == 1
    assert err.strip() == (
        "error: --http wants HOST:PORT (like 127.0.0.1:8080; port 0: any free one), not '8080'"
    )
