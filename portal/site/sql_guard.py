"""The public SQL box, kept from starving or probing the portal.

Datasette runs every query of a worker on a few SQL threads (`num_sql_threads`); its own pages and an
arbitrary `?sql=` share them. Here:

- **isolation**: requests carrying arbitrary SQL (`sql=`, or `_where=` on a table page) run at most
  STI_SQL_BOX_CONCURRENCY at a time per worker (the other SQL threads stay free for the pages), each with a
  lower time limit (STI_SQL_BOX_TIME_LIMIT_MS, passed to Datasette as `_timelimit`, which can only lower
  `sql_time_limit_ms`); when the box is busy the answer is 503 at once, not a queue that holds connections;
- **a per-client rate limit** on those requests (STI_SQL_BOX_PER_MINUTE per client address; behind the
  loopback proxy of deploy/ the client is the X-Real-IP / X-Forwarded-For the proxy sets): 429 with
  Retry-After;
- **an SQLite authorizer** on every connection (prepare_connection): functions that reach memory, files
  or build details (`fts3_tokenizer`, which leaks a pointer and can install code, `load_extension`,
  `readfile`/`writefile`/`edit`, `sqlite_compileoption_*`, `sqlite_version`, `sqlite_source_id`) and the
  pragmas that show server paths (`database_list`) are denied; strings and blobs are capped at 16 MB
  (`printf('%.*c', 1e9, 'x')` no longer allocates a gigabyte);
- **nothing to probe**: /-/versions, /-/threads, /-/patterns, /-/messages and Datasette's debug pages
  answer 404; /-/databases.json has no file paths; a 500 page says only that something failed (no SQL,
  no exception text), and a query stopped at the time limit does not echo the SQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import deque
from urllib.parse import parse_qsl, urlencode

from sti_portal.core.settings import load_settings

HIDDEN = re.compile(
    r"^/-/(versions|threads|patterns|messages|actor|allow-debug|permissions|create-token|"
    r"auth-token|logout)(\.json)?/?$"
)
DATABASES = re.compile(r"^/-/databases(\.json)?$")
SQL_PARAMS = ("sql", "_where")
LOOPBACK = ("127.0.0.1", "::1")
MAX_CLIENTS = 10_000  # rate-limit buckets kept; the oldest go first
MAX_TEXT_BYTES = 16 * 1024 * 1024

DENIED_FUNCTIONS = {
    "fts3_tokenizer",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts5_source_id",
    "sqlite_compileoption_get",
    "sqlite_compileoption_used",
    "sqlite_version",
    "sqlite_source_id",
}
DENIED_PRAGMAS = {
    "database_list",
    "compile_options",
    "data_store_directory",
    "temp_store_directory",
    "module_list",
    "function_list",
    "pragma_list",
}


# ------------------------------------------------------------------------------------------ SQLite


def _authorize(action, arg1, arg2, _database, _trigger):
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    # `select ... from pragma_database_list` reads the pragma's virtual table (a PRAGMA statement itself
    # is not a SELECT, so only Datasette's own introspection issues one, and it needs database_list).
    if (
        action == sqlite3.SQLITE_READ
        and (arg1 or "").lower().removeprefix("pragma_") in DENIED_PRAGMAS
        and (arg1 or "").lower().startswith("pragma_")
    ):
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def guard_connection(conn: sqlite3.Connection) -> None:
    """Install the authorizer and the length cap on one of Datasette's connections."""
    conn.set_authorizer(_authorize)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_TEXT_BYTES)


# ------------------------------------------------------------------------------------------ ASGI


async def _plain(send, status: int, text: str, headers: list | None = None) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def client_of(scope) -> str:
    client = (scope.get("client") or ("?", 0))[0]
    if client in LOOPBACK:  # the reverse proxy on loopback says who the client is
        headers = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-real-ip") or headers.get(b"x-forwarded-for", b"").split(b",")[0]
        if forwarded.strip():
            return forwarded.strip().decode("latin-1")
    return client


class SqlBox:
    """ASGI middleware: the SQL box's concurrency, time limit and rate limit; hidden introspection pages."""

    def __init__(self, app):
        settings = load_settings()
        self.app = app
        self.time_limit_ms = settings.sql_box_time_limit_ms
        self.per_minute = settings.sql_box_per_minute
        self.concurrency = settings.sql_box_concurrency
        self.running = 0
        self.clients: dict[str, deque] = {}

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if HIDDEN.match(path):
            return await _plain(send, 404, "404 未找到 Not found\n")
        if DATABASES.match(path):
            return await self._without_paths(scope, receive, send)
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not any(key in SQL_PARAMS and value.strip() for key, value in pairs):
            return await self.app(scope, receive, send)
        wait = self._rate_limited(client_of(scope))
        if wait:
            return await _plain(
                send,
                429,
                f"429 查询过于频繁 Too many SQL queries from your address: at most "
                f"{self.per_minute} a minute. Retry in {wait} s, or use the downloads.\n",
                [(b"retry-after", str(wait).encode())],
            )
        if self.running >= self.concurrency:
            return await _plain(
                send,
                503,
                "503 SQL 查询繁忙 The SQL box is busy with other queries; retry in a "
                "second. Pages and downloads are not affected.\n",
                [(b"retry-after", b"1")],
            )
        self.running += 1
        try:
            await self.app(self._time_limited(scope, pairs), receive, send)
        finally:
            self.running -= 1

    def _rate_limited(self, client: str) -> int:
        """0 when the client may run a query now, else the seconds until it may."""
        now = time.monotonic()
        stamps = self.clients.pop(client, None) or deque()
        self.clients[client] = stamps  # most recent clients last: the oldest are dropped first
        while stamps and now - stamps[0] > 60:
            stamps.popleft()
        if len(self.clients) > MAX_CLIENTS:
            self.clients.pop(next(iter(self.clients)))
        if len(stamps) >= self.per_minute:
            return max(1, int(60 - (now - stamps[0])) + 1)
        stamps.append(now)
        return 0

    def _time_limited(self, scope, pairs: list[tuple[str, str]]) -> dict:
        asked = [value for key, value in pairs if key == "_timelimit" and value.isdigit()]
        limit = min([self.time_limit_ms, *(int(v) for v in asked if int(v) > 0)])
        kept = [(key, value) for key, value in pairs if key != "_timelimit"] + [("_timelimit", str(limit))]
        return {**scope, "query_string": urlencode(kept).encode("latin-1")}

    async def _without_paths(self, scope, receive, send):
        """/-/databases(.json) with each database's file path taken out (it would show the server's layout)."""
        start, chunks = {}, []

        async def collect(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        body = b"".join(chunks)
        try:
            databases = json.loads(body)
            for database in databases if isinstance(databases, list) else []:
                database.pop("path", None)
            body = json.dumps(databases).encode("utf-8")
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
        except ValueError:  # the HTML page: not offered either
            return await _plain(send, 404, "404 未找到 Not found\n")
        await send(
            {
                "type": "http.response.start",
                "status": start.get("status", 200),
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------------------------------ error pages

GENERIC_500 = (
    "<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>出错了 Something went wrong"
    "</title></head><body><h1>出错了 Something went wrong</h1><p>页面暂时无法显示，请稍后再试。"
    "This page could not be shown; please try again later.</p><p><a href='/'>首页 Home</a></p>"
    "</body></html>"
)
INTERRUPTED = (
    "查询超时 Query interrupted: it took too long and was stopped (the SQL box allows {limit} ms). Narrow it "
    "(a WHERE on indicator_id and year), or use the pre-built files at /downloads."
)


def public_error(exception, status: int, title: str | None, limit_ms: int):
    """(status, html) to show instead of Datasette's page, or None to keep Datasette's (4xx with a plain message)."""
    if status >= 500:
        return 500, GENERIC_500
    if title == "SQL Interrupted":  # Datasette's page would echo the SQL in a textarea
        return 400, f"<!doctype html><meta charset='utf-8'><p>{INTERRUPTED.format(limit=limit_ms)}</p>"
    return None


def setting_limit_ms() -> int:
    return load_settings().sql_box_time_limit_ms
