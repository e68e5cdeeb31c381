"""No secret in any text: tokens and proxy credentials are masked before text leaves telegram/.

aiohttp's errors carry the request URL, and the URL carries the token (`…/bot<TOKEN>/send…`);
an API server's description may echo it too. Every error, description and log line the
client lets out goes through here first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
DIRECT = "direct"
PROXY_SCHEMES = ("http", "https", "socks4", "socks5")

# Any bot token, also with its colon URL-encoded: the bot id stays, the secret goes.
_TOKEN = re.compile(r"(\d{3,})(?::|%3[aA])[A-Za-z0-9_-]{30,}")
# Credentials in any URL: scheme://user:password@ or scheme://user@.
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^\s/@:]*)(:[^\s/@]*)?@")


def text(value: str, secrets: Iterable[str] = ()) -> str:
    """value with every known secret, every token and every URL's credentials masked."""
    value = _CREDENTIALS.sub(_masked_credentials, _TOKEN.sub(rf"\1:{MASK}", value))
    for secret in secrets:
        if len(secret) >= 4:  # a short one would mask ordinary words
            value = value.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return value


def _masked_credentials(match: re.Match[str]) -> str:
    scheme, user, password = match.group(1), match.group(2), match.group(3)
    # A username alone is the secret (some proxies take a token as the username).
    return f"{scheme}{user}:{MASK}@" if password is not None else f"{scheme}{MASK}@"


def secrets_of(token: str, proxies: Sequence[str] = ()) -> tuple[str, ...]:
    """The strings no text may show: the token, each proxy's password (or lone username)."""
    found = [token]
    for proxy in proxies:
        parts = urlsplit(proxy)
        secret = parts.password if parts.password is not None else parts.username
        if secret:
            found.append(unquote(secret))
    return tuple(found)


def error(raised: Exception, secrets: Sequence[str]) -> Exception:
    """raised, its message and arguments masked in place, cut from the errors behind it."""
    message = getattr(raised, "message", None)
    if isinstance(message, str):  # aiogram's errors print their message attribute
        raised.message = text(message, secrets)  # type: ignore[attr-defined]
    raised.args = tuple(text(a, secrets) if isinstance(a, str) else a for a in raised.args)
    # The cause (aiohttp's error) prints its URL from attributes, not arguments: a
    # traceback would show the token, so the chain ends here.
    raised.__cause__ = None
    raised.__context__ = None
    raised.__suppress_context__ = True
    if text(str(raised), secrets) != str(raised):
        return ConnectionError(f"{type(raised).__name__}: {text(str(raised), secrets)}")
    return raised


def mask_proxy(url: str) -> str:
    """A proxy URL without its credentials, for logs and tables."""
    if "://" not in url and "@" in url:  # no scheme: all before the @ is credentials
        return f"{MASK}@{url.rsplit('@', 1)[1]}"
    return text(url)


def check_proxy(url: str) -> str:
    """url if it is `direct` or scheme://[user[:password]@]host:port; ValueError otherwise."""
    if url == DIRECT:
        return url
    shown = mask_proxy(url)
    parts = urlsplit(url)
    if "://" not in url or parts.scheme.lower() not in PROXY_SCHEMES:
        raise ValueError(
            f"proxy {shown} needs a scheme: {', '.join(PROXY_SCHEMES)} (or the word {DIRECT})"
        )
    if not parts.hostname:
        raise ValueError(f"proxy {shown} has no host")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is None or not 1 <= port <= 65535:
        raise ValueError(f"proxy {shown} needs a port from 1 to 65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"proxy {shown} has a path or query; expected scheme://host:port")
    return url
