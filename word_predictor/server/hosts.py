"""The Host check: the server answers only requests addressed to a name it serves.

The server has no authentication and listens on 127.0.0.1, which a web page cannot reach
by itself, except through DNS rebinding: the page's own name (evil.example) is made to
resolve to 127.0.0.1, and the browser then sends the page's requests here with
`Host: evil.example`, reading the answers as the page's own. A server that answers only
the names it serves (localhost, the loopback and bound addresses, and those given with
--allow-host) refuses those requests:

    Host: localhost:8000        answered
    Host: 127.0.0.1:8000        answered (so is the address the connection arrived at)
    Host: evil.example:8000     421 {"error": "this server answers only for ..."}

Starlette's TrustedHostMiddleware does the same check, but answers in plain text and cuts
an IPv6 Host ("[::1]:8000") at its first colon; this one answers as every other error
does (one line of JSON) and reads IPv6 addresses.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(value: str) -> str:
    """The name part of a Host header or an address, lower-case, without port, brackets or a
    final dot: "[::1]:8000" -> "::1", "LocalHost.:80" -> "localhost"."""
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 address with a port: [address]:port
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        value = value.split(":", 1)[0]
    return value.removesuffix(".")


def allowed_name(text: str) -> str:
    """An --allow-host value as the check compares it (a port given with it is dropped: the
    check reads names only); ValueError for one that is no host name or address."""
    name = host_name(text) if "/" not in text else ""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name.split(".")
    if not all(label.isascii() and label.replace("-", "").replace("_", "").isalnum() for label in labels):
        raise ValueError(f"must be a host name or an address, such as example.org or 192.0.2.7, got {text!r}")
    return name


def served_names(bound_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The loopback names, the address the server was bound to, and `extra`. A wildcard
    address (0.0.0.0) is kept too: the start-up line shows it as the URL, and an address,
    unlike a name, cannot be pointed elsewhere by DNS."""
    return frozenset({*LOOPBACK_NAMES, host_name(bound_host), *(host_name(name) for name in extra)})


class HostCheck:
    """ASGI middleware: an HTTP request whose Host is not one of `names` (nor the address the
    connection arrived at) is answered 421 with one line of JSON, before the app sees it."""

    def __init__(self, app, names: Iterable[str] = LOOPBACK_NAMES):
        self.app = app
        self.names = frozenset(host_name(name) for name in names)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
        arrived_at = host_name(str((scope.get("server") or ("",))[0]))
        if given and host_name(given) in self.names | {arrived_at}:
            return await self.app(scope, receive, send)
        shown = ", ".join(f"[{name}]" if ":" in name else name for name in sorted(self.names))
        message = (f"this server answers only for the hosts {shown}, not {given!r} "
                   "(start it with --allow-host NAME to add one)") if given else "the request has no Host header"  # fmt: skip
        body = json.dumps({"error": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 421 if given else 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
