"""The dashboard's open access mirrors the API's: loopback and no token; actions need CSRF."""

from __future__ import annotations

import re

from tests.support import run_cli
from tests.web.conftest import Served, client, create_token

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_dashboard__loopback_no_token__open_until_a_token_exists(
    served: Served, cli_env: dict[str, str]
) -> None:
    async with client(served) as browser:
        page = await browser.get("/")
        assert page.status_code == 200, page.text
        assert "open access" in page.text
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        forged = await browser.post(
            "/campaigns/nope/pause", data={"confirm": "yes"}, follow_redirects=False
        )
        assert forged.status_code == 403, forged.text
        assert "CSRF" in forged.text
        found = CSRF.search(page.text)
        assert found is not None
        # With the token: the action runs, and a campaign it cannot find is a page, not a 500.
        missing = await browser.post(
            "/campaigns/nope/pause", data={"csrf": found[1], "confirm": "yes"}
        )
        assert missing.status_code == 404
        assert "no campaign named &#39;nope&#39;" in missing.text

        await create_token(cli_env, "viewer", "later")
        after = await browser.get("/", follow_redirects=False)
        assert after.status_code == 303
        assert after.headers["location"].startswith("/login")
        unknown = await browser.get("/campaigns/nope/runs/0", follow_redirects=False)
        assert unknown.status_code == 303  # signing in comes before anything else


async def test_sign_in__token_then_revoked__session_ends_with_it(
    served: Served, cli_env: dict[str, str]
) -> None:
    secret = await create_token(cli_env, "admin", "ops")
    await create_token(cli_env, "viewer", "stays")  # so revoking ops does not open access
    async with client(served) as browser:
        assert (await browser.get("/", follow_redirects=False)).status_code == 303
        elsewhere = await browser.post(
            "/login", data={"token": secret}, headers={"Origin": "http://evil.example"}
        )
        assert elsewhere.status_code == 403
        wrong = await browser.post("/login", data={"token": "blt_nope"})
        assert wrong.status_code == 401
        assert "not valid" in wrong.text
        signed = await browser.post(
            "/login", data={"token": secret, "next": "//evil.example/"}, follow_redirects=False
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"
        assert secret not in signed.headers["set-cookie"]
        page = await browser.get("/")
        assert page.status_code == 200
        assert "ops (admin)" in page.text

        code, _, err = await run_cli("token", "revoke", "ops", env=cli_env)
        assert code == 0, err
        assert (await browser.get("/", follow_redirects=False)).status_code == 303
