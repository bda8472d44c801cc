"""The portal's ASGI layer: response cache, security headers, read-only methods, access log."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

from portal.site.constants import DATABASE
from portal.site.data import today
from portal.site.datasette_internals import pin_databases, unpin_databases
from portal.site.hotswap import follow_publication
from portal.site.http_cache import compressed, http_caching
from sti_portal.core.settings import load_settings

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Sent with every response: pages may load scripts, styles, images and data from the portal only.
# 'unsafe-eval' is for Vega's expression compiler; 'unsafe-inline' for Datasette's own inline scripts.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        b"base-uri 'self'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


# --------------------------------------------------------------------------- response cache


# The published sti.db is immutable, so a GET answers the same until the next publication: complete
# responses are kept in memory, keyed by publication, scheme, host, path, query string and day (the
# citation line names the page's URL and the retrieval date), and sent again without Datasette or the
# plugin rendering anything. Never kept: errors and anything but 200, responses that set a cookie or
# forbid storing, bodies over RESPONSE_CACHE_ENTRY_BYTES, the files under /downloads/, /-/ (Datasette's
# introspection, static files), /assets/, arbitrary SQL (?sql=, it may call random() or date('now')),
# requests with a login cookie or credentials. A page whose facets timed out is kept PARTIAL_TTL_S only.
# A new publication (or a new day) empties the cache; concurrent requests for the same uncached URL
# wait for the first one instead of rendering it again each.
# STI_RESPONSE_CACHE_MB (sti_portal.core.settings): the cache's size (0 turns it off, e.g. to measure rendering).
RESPONSE_CACHE_BYTES = load_settings().response_cache_mb * 1024 * 1024
RESPONSE_CACHE_ENTRIES = 5000
RESPONSE_CACHE_ENTRY_BYTES = 2 * 1024 * 1024
RESPONSE_CACHE_WAIT_S = 30.0
COUNTS_WAIT_S = 10.0
PARTIAL_TTL_S = 60.0
UNCACHED_PREFIXES = (b"/downloads/", b"/-/", b"/assets/")
PARTIAL_MARKERS = (b"These facets timed out", b'"facets_timed_out": ["')


@dataclass
class CachedResponse:
    status: int
    headers: list
    body: bytes
    expires: float | None  # time.monotonic() deadline, None = until the publication changes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 200


class ResponseCache:
    """A bounded LRU of CachedResponse for one publication (and day) at a time."""

    def __init__(
        self,
        max_bytes: int = RESPONSE_CACHE_BYTES,
        max_entries: int = RESPONSE_CACHE_ENTRIES,
        max_entry_bytes: int = RESPONSE_CACHE_ENTRY_BYTES,
    ):
        self.max_bytes, self.max_entries, self.max_entry_bytes = max_bytes, max_entries, max_entry_bytes
        self.entries: OrderedDict[tuple, CachedResponse] = OrderedDict()
        self.bytes = 0
        self.generation = None
        self.in_flight: dict[tuple, asyncio.Future] = {}

    def use_generation(self, generation) -> None:
        if generation != self.generation:
            self.entries.clear()
            self.bytes = 0
            self.generation = generation

    def get(self, key) -> CachedResponse | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires is not None and entry.expires < time.monotonic():
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key, entry: CachedResponse) -> None:
        if entry.size > self.max_entry_bytes:
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = entry
        self.bytes += entry.size
        while self.entries and (self.bytes > self.max_bytes or len(self.entries) > self.max_entries):
            self._drop(next(iter(self.entries)))

    def _drop(self, key) -> None:
        self.bytes -= self.entries.pop(key).size


_responses = ResponseCache()


def _response_key(datasette, scope) -> tuple | None:
    """The cache key of a request, or None when its response must not be cached."""
    if scope["method"] != "GET" or not _responses.max_bytes:
        return None
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    if path.startswith(UNCACHED_PREFIXES):
        return None
    host = b""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value
        elif name == b"authorization" or (name == b"cookie" and (b"ds_actor" in value or b"ds_messages" in value)):
            return None  # pages for a signed-in actor, or with a message for this visitor
    query = scope.get("query_string", b"")
    if query and any(
        name in ("sql", "_trace", "_context")
        for name, _ in urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    ):
        return None
    identity = getattr(datasette.databases.get(DATABASE), "identity", None)
    if identity is None:
        return None
    _responses.use_generation((identity, today()))
    # Compression happens inside this cache (portal/site/http_cache.py): gzip and plain bodies kept apart.
    gzip = any(name == b"accept-encoding" and b"gzip" in value for name, value in scope.get("headers", []))
    return (scope.get("scheme", "http"), host, path, query, gzip)


def _storable_headers(headers: list) -> bool:
    for name, value in headers:
        lower = name.lower()
        if lower == b"set-cookie":
            return False
        if lower == b"cache-control" and (b"no-store" in value or b"private" in value):
            return False
    return True


async def _send_cached(entry: CachedResponse, send) -> None:
    headers = list(entry.headers)
    if not any(name.lower() == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(entry.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": entry.status, "headers": [*headers, (b"x-sti-cache", b"hit")]})
    await send({"type": "http.response.body", "body": entry.body})


def response_cache(app, datasette):
    """ASGI middleware: serve and keep complete responses (see RESPONSE_CACHE_BYTES above)."""

    async def cached(scope, receive, send):
        key = _response_key(datasette, scope) if scope["type"] == "http" else None
        if key is None:
            return await app(scope, receive, send)
        counted = getattr(datasette.databases.get(DATABASE), "counted", None)
        if counted is not None and not counted.done():
            # Just switched to a new publication: its row counts come within a second or two (11 M rows).
            # Wait for them rather than render (and keep) table pages without, or count per request.
            try:
                await asyncio.wait_for(asyncio.shield(counted), COUNTS_WAIT_S)
            except Exception:
                return await app(scope, receive, send)
            key = _response_key(datasette, scope)
            if key is None:
                return await app(scope, receive, send)
        generation = _responses.generation
        flight = (generation, key)
        entry = _responses.get(key)
        if entry is None and flight in _responses.in_flight:
            try:  # the same URL is being rendered: wait for it rather than render it again
                entry = await asyncio.wait_for(asyncio.shield(_responses.in_flight[flight]), RESPONSE_CACHE_WAIT_S)
            except Exception:
                entry = None
        if entry is not None:
            return await _send_cached(entry, send)
        leader = flight not in _responses.in_flight
        if leader:
            _responses.in_flight[flight] = asyncio.get_running_loop().create_future()
        state = {"status": None, "headers": None, "chunks": [], "size": 0, "keep": True, "complete": False}

        async def recording_send(event):
            if event["type"] == "http.response.start":
                state["status"], state["headers"] = event["status"], list(event.get("headers", []))
                state["keep"] = event["status"] == 200 and _storable_headers(state["headers"])
                event = {**event, "headers": [*event.get("headers", []), (b"x-sti-cache", b"miss")]}
            elif event["type"] == "http.response.body" and state["keep"]:
                body = event.get("body", b"")
                state["size"] += len(body)
                if state["size"] > _responses.max_entry_bytes:
                    state["keep"], state["chunks"] = False, []
                else:
                    state["chunks"].append(body)
                    state["complete"] = not event.get("more_body", False)
            await send(event)

        stored = None
        try:
            await app(scope, receive, recording_send)
            if state["keep"] and state["complete"] and _responses.generation == generation:
                body = b"".join(state["chunks"])
                partial = any(marker in body for marker in PARTIAL_MARKERS)
                stored = CachedResponse(
                    state["status"], state["headers"], body, time.monotonic() + PARTIAL_TTL_S if partial else None
                )
                _responses.put(key, stored)
        finally:
            if leader:
                future = _responses.in_flight.pop(flight, None)
                if future is not None and not future.done():
                    future.set_result(stored)

    return cached


# --------------------------------------------------------------------------- headers, access log

# uvicorn's access log writes one line per request to stdout, synchronously on the event loop: it costs
# about a third of the throughput of cached pages, and a stdout pipe nobody reads (a supervisor, a test
# harness) fills after a few hundred requests and then stalls the whole server. So it is off unless
# STI_ACCESS_LOG=1. Errors are still logged (uvicorn.error, on stderr). Set on the first request, after
# uvicorn has configured its loggers (which `datasette serve` gives no option for).
_access_log = {"set": False}


def _set_access_log() -> None:
    if not load_settings().access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    _access_log["set"] = True


def _read_only_and_secured(app, datasette):
    """ASGI: follow a new publication and pin it for the request, 405 for any method but GET/HEAD/OPTIONS,
    security headers on all."""

    async def with_headers(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if not _access_log["set"]:
            _set_access_log()
        follow_publication(datasette)
        # This request reads the publication current now to its end, whatever a later request switches to.
        pinned = pin_databases(datasette)
        try:
            return await _read_only_response(app, scope, receive, send)
        finally:
            unpin_databases(pinned)

    return with_headers


async def _read_only_response(app, scope, receive, send):
    if scope["method"] not in READ_METHODS:
        # The public portal only reads: no POST to a stored query, no login, no write API.
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [
                    (b"allow", b"GET, HEAD, OPTIONS"),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"405 Method Not Allowed: this portal is read-only\n"})
        return

    async def send_with_headers(event):
        if event["type"] == "http.response.start":
            present = {name.lower() for name, _ in event.get("headers", [])}
            extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
            event = {**event, "headers": [*event.get("headers", []), *extra]}
        await send(event)

    return await app(scope, receive, send_with_headers)


def wrap_portal_app(app, datasette):
    """The whole ASGI stack the plugin's asgi_wrapper hook installs around Datasette, outermost first:
    publication switch, read-only methods and security headers; HTTP validators, freshness and 304s; the
    in-process response cache; compression (the last two: portal/site/http_cache.py)."""
    app = response_cache(compressed(app), datasette)
    return _read_only_and_secured(http_caching(app, datasette), datasette)
