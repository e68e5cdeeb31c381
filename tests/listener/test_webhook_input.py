"""Malformed webhook requests over HTTP: a 4xx, or a 200 that drops them; never a 500."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from bulletin.telegram import webhook
from bulletin.telegram.webhook import SECRET_HEADER
from tests.listener.conftest import Setup, make_listener

PERSON = 100_000_777


async def post(url: str, headers: dict[str, bytes], body: bytes) -> int:
    """The status of one raw HTTP POST: raw, so headers may hold any bytes."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [f"POST {parts.path} HTTP/1.1".encode(), f"Host: {parts.netloc}".encode()]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines += [b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    writer.write(b"\r\n".join([*lines, b"Connection: close", b"", body]))
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


def start_update(
    update_id: int, chat_id: int = PERSON, first_name: str = "Ann"
) -> dict[str, object]:
    person = {"id": chat_id, "is_bot": False, "first_name": first_name}
    message = {
        "message_id": 1, "date": 1_700_000_000, "text": "/start",
        "chat": {"id": chat_id, "type": "private", "first_name": first_name}, "from": person,
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }  # fmt: skip
    return {"update_id": update_id, "message": message}


BAD_SECRETS = {
    "utf-8": "gëheim-sécret".encode(),
    "latin-1 byte": b"\xff\xfe\xfd",
    "empty": b"",
}

BAD_BODIES = {
    "nested 100k deep": b"[" * 100_000 + b"]" * 100_000,
    "nested 500 deep": b'{"update_id": 1, "x": ' + b"[" * 500 + b"]" * 500 + b"}",
    "update_id beyond bigint": json.dumps({"update_id": 2**70}).encode(),
    "chat id beyond bigint": json.dumps(start_update(5, chat_id=2**64)).encode(),
    "5000 digits": b'{"update_id": ' + b"9" * 5000 + b"}",
    "array": b"[1, 2]",
    "string": b'"update"',
    "null": b"null",
    "infinity": b"1e999",
    "update_id text": b'{"update_id": "abc"}',
    "message a number": b'{"update_id": 7, "message": 7}',
    "not utf-8": b"\xff\xfe{}",
    "not json": b"{update_id: 1",
    "nul in a name": json.dumps(start_update(8, first_name="a\u0000b")).encode(),
}


async def test_webhook__bad_secret_headers__401(setup: Setup) -> None:
    listener = make_listener(setup)
    body = json.dumps(start_update(1)).encode()
    try:
        async with webhook.serving([listener], None, "127.0.0.1", 0) as server:
            url = server.url_for(listener)
            statuses = {
                name: await post(url, {SECRET_HEADER: secret}, body)
                for name, secret in BAD_SECRETS.items()
            }
    finally:
        await listener.client.close()

    assert statuses == dict.fromkeys(BAD_SECRETS, 401)
    assert await setup.subscriber(PERSON) is None


async def test_webhook__malformed_bodies__dropped_never_500_and_still_serving(
    setup: Setup,
) -> None:
    listener = make_listener(setup)
    headers = {SECRET_HEADER: listener.secret_token.encode()}
    try:
        async with webhook.serving([listener], None, "127.0.0.1", 0) as server:
            url = server.url_for(listener)
            statuses = {name: await post(url, headers, body) for name, body in BAD_BODIES.items()}
            valid = await post(url, headers, json.dumps(start_update(9)).encode())
    finally:
        await listener.client.close()

    assert {name: status for name, status in statuses.items() if not 200 <= status < 500} == {}
    assert valid == 200
    assert await setup.status(PERSON) == "subscribed"
