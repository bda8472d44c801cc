"""HTTP caching of the immutable publication: validators, freshness, 304s, compression, asset URLs.

Every publication is one immutable sti.db, so a response only changes when the publication (or the day
in the citation line, or the portal's own code) changes. The standard HTTP machinery says so to
browsers and to the reverse proxy in front (deploy/nginx/sti-portal.conf), which do the caching:

- ``X-Sti-Publication``: the published generation that answered (the directory name under
  STI_HOME/generations/); the same on every replica serving that publication.
- ``ETag`` (weak: the gzip and plain bodies are the same representation) = publication, day and site
  version; ``Last-Modified`` = the later of the published file's mtime and the day's start (UTC).
- ``If-None-Match`` / ``If-Modified-Since`` matching the current validators: ``304`` without rendering
  (what the proxy's revalidation and a browser's repeat visit cost: a stat, no SQL).
- ``Cache-Control``: pages and data ``public, max-age=60, s-maxage=<seconds to the next UTC midnight>,
  stale-while-revalidate=60``: a browser checks again after a minute (a new publication shows within a
  minute); a shared cache (nginx, a CDN) may keep the response until the day in its citation line ends,
  because the proxy's cache key names the publication and the site version (deploy/nginx), so a new
  publication or deployment is a new key, not a stale entry. Static assets under
  a versioned URL (``/assets/v/<site version>/...``, and the vendored libraries whose directory names
  carry their version) ``public, max-age=31536000, immutable``; other assets an hour; ad-hoc SQL
  (``?sql=``, may call date('now') or random()) ``no-cache``. A request whose ``X-Sti-Expect-Publication``
  (sent by the proxy, see sti_portal/cli/replicas.py) names another publication gets ``no-store``, so
  the proxy never keeps one publication's response under another's key.
- Compression: Starlette's ``GZipMiddleware`` (well kept, already installed with Dagster's webserver)
  for HTML, JSON, CSV and JavaScript, not for the pre-built files under ``/downloads/`` (large, streamed,
  ranged).

The validator comparison is hand-written (a few lines): Datasette has no conditional-request support and
the ASGI middlewares that do (e.g. for static files) hash the body, which means rendering it first.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware

from portal.site.constants import DATABASE

PORTAL_ROOT = Path(__file__).resolve().parent.parent
PUBLICATION_HEADER = b"x-sti-publication"
EXPECT_HEADER = b"x-sti-expect-publication"
BROWSER_MAX_AGE_S = 60
DAY_S = 86_400
IMMUTABLE_CACHE_CONTROL = b"public, max-age=31536000, immutable"
ASSET_CACHE_CONTROL = b"public, max-age=3600"
VERSIONED_ASSETS = "/assets/v/"
IMMUTABLE_PREFIXES = (b"/assets/vendor/",)
# Never given validators or public freshness: Datasette's introspection (/-/: versions, plugins, the
# actor), the pre-built files (their own handler) and the asset URLs handled above.
UNVALIDATED_PREFIXES = (b"/-/", b"/downloads/", b"/assets/")
REPLACED = {b"cache-control", b"etag", b"last-modified", b"vary"}
GZIP_MINIMUM_BYTES = 1000
GZIP_LEVEL = 6  # zlib's default: about the size of level 9 at a third of the CPU


def site_version() -> str:
    """A short hash of the portal's own files (templates, static, code): a deployment changes it.

    Of the files' contents, not their timestamps, so every replica of one deployment (checked out at
    different times, on different machines) gives the same ETags and the proxy the same cache key."""
    if _site["version"] is None:
        digest = hashlib.sha256()
        for folder in ("templates", "static", "site", "plugins"):
            for path in sorted((PORTAL_ROOT / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(f"{path.relative_to(PORTAL_ROOT).as_posix()}\n".encode())
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
        _site["version"] = digest.hexdigest()[:12]
    return _site["version"]


_site: dict = {"version": None}


def asset_url(path: str) -> str:
    """The long-lived URL of a file under portal/static ("/assets/sti.css" -> "/assets/v/<version>/sti.css")."""
    return f"{VERSIONED_ASSETS}{site_version()}/{path.removeprefix('/assets/')}"


def versioned_asset(url: str) -> str:
    """`asset_url` for the site's own files; URLs already immutable (vendored, versioned) unchanged."""
    if url.startswith("/assets/") and not url.startswith((VERSIONED_ASSETS, "/assets/vendor/")):
        return asset_url(url)
    return url


def publication_of(identity: tuple | None) -> str:
    """The publication's id: its generation directory's name (or the file's mtime and size if it has none)."""
    if not identity or len(identity) < 4:
        return "unpublished"
    real = identity[0]
    parent = os.path.basename(os.path.dirname(real))
    if os.path.basename(os.path.dirname(os.path.dirname(real))) == "generations" and parent:
        return parent
    return f"{identity[2]:x}-{identity[3]:x}"


def _validators(identity: tuple | None) -> tuple[bytes, bytes, float, bytes]:
    """(ETag, Last-Modified, its timestamp, publication id) for the current publication and day."""
    publication = publication_of(identity)
    now = datetime.now(UTC)
    day = now.strftime("%Y%m%d")
    day_start = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()
    modified = max(day_start, (identity[2] / 1e9) if identity and len(identity) >= 4 else day_start)
    modified = float(int(modified))
    etag = f'W/"{publication}.{day}.{site_version()}"'.encode("latin-1")
    return (
        etag,
        email.utils.formatdate(modified, usegmt=True).encode("latin-1"),
        modified,
        publication.encode("latin-1"),
    )


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


def _not_modified(scope, etag: bytes, modified: float) -> bool:
    if_none_match = _header(scope, b"if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")]
        return b"*" in tags or etag.removeprefix(b"W/") in tags
    if_modified_since = _header(scope, b"if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since.decode("latin-1")).timestamp()
    except (TypeError, ValueError):
        return False
    return modified <= since


def _is_sql(scope) -> bool:
    query = scope.get("query_string", b"")
    return query.startswith(b"sql=") or b"&sql=" in query


def _rewrite_versioned_asset(scope) -> dict | None:
    """/assets/v/<any version>/<file> -> /assets/<file> (the version only makes the URL unique)."""
    path = scope["path"]
    if not path.startswith(VERSIONED_ASSETS):
        return None
    rest = path[len(VERSIONED_ASSETS) :].partition("/")[2]
    if not rest:
        return None
    new_path = "/assets/" + rest
    return {**scope, "path": new_path, "raw_path": new_path.encode("utf-8")}


def _policy(scope, identity) -> tuple[bytes, list[tuple[bytes, bytes]], bool]:
    """(cache-control, validator headers, may answer 304) for a GET/HEAD request."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    etag, last_modified, _, publication = _validators(identity)
    if raw_path.startswith(IMMUTABLE_PREFIXES):
        return IMMUTABLE_CACHE_CONTROL, [], False
    if raw_path.startswith(b"/assets/"):  # revalidated by the site version (If-None-Match only)
        return ASSET_CACHE_CONTROL, [(b"etag", f'W/"{site_version()}"'.encode("latin-1"))], True
    if raw_path.startswith(UNVALIDATED_PREFIXES):
        return b"", [], False
    if _is_sql(scope):
        return b"no-cache", [], False
    expected = _header(scope, EXPECT_HEADER)
    if expected is not None and expected != publication:
        return b"no-store", [], False
    return page_cache_control(), [(b"etag", etag), (b"last-modified", last_modified)], True


def page_cache_control(now: float | None = None) -> bytes:
    """Cache-Control of pages and data: a minute for browsers, the rest of the UTC day for shared caches."""
    now = time.time() if now is None else now
    to_midnight_s = max(1, DAY_S - int(now) % DAY_S)
    return (
        f"public, max-age={min(BROWSER_MAX_AGE_S, to_midnight_s)}, s-maxage={to_midnight_s}, "
        f"stale-while-revalidate={BROWSER_MAX_AGE_S}"
    ).encode("latin-1")


def http_caching(app, datasette):
    """ASGI: publication header, validators and freshness on responses, 304 for a matching condition."""

    async def with_caching(scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await app(scope, receive, send)
        immutable = False
        rewritten = _rewrite_versioned_asset(scope)
        if rewritten is not None:
            scope, immutable = rewritten, True
        identity = getattr(datasette.databases.get(DATABASE), "identity", None)
        publication = publication_of(identity).encode("latin-1")
        cache_control, validators, conditional = _policy(scope, identity)
        if immutable:
            cache_control, validators, conditional = IMMUTABLE_CACHE_CONTROL, [], False
        is_asset = scope["path"].startswith("/assets/")
        modified = float("inf") if is_asset else _validators(identity)[2]  # assets have no Last-Modified
        if conditional and _not_modified(scope, validators[0][1], modified):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [
                        (b"cache-control", cache_control),
                        *validators,
                        (PUBLICATION_HEADER, publication),
                        (b"vary", b"Accept-Encoding"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_caching(event):
            if event["type"] == "http.response.start":
                # One publication per response: the request reads the database it started with to its end
                # (cache.py pins it), so `publication` names what the body was rendered from.
                headers = [(PUBLICATION_HEADER, publication)]
                if event["status"] == 200 and cache_control:
                    headers += [(n, v) for n, v in event.get("headers", []) if n.lower() not in REPLACED]
                    headers += [(b"cache-control", cache_control), *validators, (b"vary", b"Accept-Encoding")]
                else:
                    headers += list(event.get("headers", []))
                event = {**event, "headers": headers}
            await send(event)

        return await app(scope, receive, send_with_caching)

    return with_caching


def compressed(app):
    """Starlette's GZipMiddleware for everything but the pre-built downloads (streamed, ranged, large)."""
    gzip_app = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)

    async def maybe_compressed(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/downloads/"):
            return await app(scope, receive, send)
        return await gzip_app(scope, receive, send)

    return maybe_compressed
