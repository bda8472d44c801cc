"""`sti replicas`: bring one publication to every portal replica, then re-key the proxy's cache.

A replica is a portal (`sti serve --workers N`) serving its own STI_HOME. The builder (the machine
where `sti build`, `sti load` or the Dagster jobs publish) holds the generation; each replica gets its
own copy of the generation directory and switches its `current` symlink with the same atomic rename
the builder uses (sti_portal.publish.generations.commit, under the replica's write lock). The protocol,
in this order (docs/deploy.md says what a client sees meanwhile):

1. copy the generation directory into every replica's incoming/ (no manifest: a half-copied
   generation is never switched to; a new copy replaces it);
2. switch the replicas one after the other (each switch is one rename; each portal worker starts
   serving the new file between two requests, none fails);
   (optional, --warm) ask every URL of the publication's site map (sti_portal/publish/sitemap.py)
   through the proxy with "X-Sti-Warm: <id>", which nginx honours from loopback by caching the answer
   under the NEW publication's key: after the switch, visitors and crawlers find a warm cache;
3. only then write the proxy's publication map (nginx) and reload it gracefully: the cache key holds
   the publication, so from now on the proxy serves (and fills) the cache of the new publication.

Between 2 and 3 the proxy still keys on the old publication; a replica already on the new one answers
such requests with Cache-Control: no-store (the X-Sti-Expect-Publication header the proxy sends), so
nothing of the new publication is cached under the old key, nor the reverse.

Replicas on other machines: copy the generation directory with rsync (docs/deploy.md), then run
`sti replicas publish --generation DIR --to HOME` there, or mount their homes here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from portal.site.http_cache import site_version
from sti_portal.core import settings as config
from sti_portal.core.settings import Paths
from sti_portal.publish import generations
from sti_portal.publish.sitemap import site_urls

# The proxy's cache key holds both (deploy/nginx/sti-portal.conf): a new publication or a new deployment
# of the portal's code is a new key, so nginx may keep a response for the rest of its day (s-maxage).
MAP_TEMPLATE = (
    'map $host $sti_publication {{\n    default "{publication}";\n}}\n'
    'map $host $sti_site {{\n    default "{site}";\n}}\n'
)


class ReplicaError(RuntimeError):
    """A replica could not be brought to the publication (message says which and why)."""


def stage_generation(source: Path, replica: Paths, link: bool = False) -> Path:
    """Copy a generation directory (without its manifest) into the replica's incoming/; returns the copy.

    Staged outside generations/: the writer lock's recovery removes unfinished generations there.
    `link`: hard-link each file instead (replicas on the builder's file system): a published generation is
    never written again, so the replicas can share its blocks (a 10 M-row publication is ~23 GB with its
    downloads); a file on another file system is copied.
    """
    staged = replica.home / "incoming" / source.name
    if staged.exists():
        shutil.rmtree(staged)  # left by an interrupted copy
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        source,
        staged,
        symlinks=True,
        ignore=shutil.ignore_patterns(generations.MANIFEST),
        copy_function=generations.link_or_copy if link else shutil.copy2,
    )
    return staged


def switch_replica(source: Path, replica: Paths, lock_timeout: float, link: bool = False) -> str:
    """Publish `source` on one replica (staging a copy first if none is); returns what was done, for the log."""
    replica.home.mkdir(parents=True, exist_ok=True)
    with generations.writer_lock(replica, "replica switch", timeout=lock_timeout):
        base = generations.current_id(replica)
        if base == source.name:
            return f"{replica.home}: already on {source.name}"
        staged = replica.home / "incoming" / source.name
        if not staged.is_dir():
            staged = stage_generation(source, replica, link)
        target = replica.generations / source.name
        if target.exists():
            shutil.rmtree(target)
        replica.generations.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        manifest = {
            key: value
            for key, value in generations.read_manifest(source).items()
            if key not in ("generation", "base", "published_at")
        }
        manifest["copied_from"] = str(source)
        generations.commit(replica, target, manifest, expected_base=base)
        return f"{replica.home}: switched {base} -> {source.name}"


def write_publication_map(map_file: Path, publication: str) -> None:
    """The nginx map naming the publication (written whole, then renamed over the old one)."""
    map_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = map_file.with_name(f".{map_file.name}.{os.getpid()}.tmp")
    tmp.write_text(MAP_TEMPLATE.format(publication=publication, site=site_version()), encoding="utf-8")
    os.replace(tmp, map_file)


def rekey_proxy(map_file: Path | None, reload_command: str | None, publication: str) -> list[str]:
    if map_file is None:
        return []
    write_publication_map(map_file, publication)
    done = [f"proxy cache key now on {publication} ({map_file})"]
    if reload_command:
        result = subprocess.run(shlex.split(reload_command), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ReplicaError(
                f"`{reload_command}` failed with exit {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )
        done.append(f"ran `{reload_command}`")
    return done


WARM_CLIENTS = 4  # concurrent warm-up requests: the replicas keep serving visitors meanwhile
WARM_TIMEOUT_S = 60.0


def _warm_one(base_url: str, host: str | None, publication: str, path: str) -> int:
    headers = {"X-Sti-Warm": publication, "Accept-Encoding": "gzip", "User-Agent": "sti-replicas-warm"}
    if host:
        headers["Host"] = host
    request = urllib.request.Request(base_url.rstrip("/") + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WARM_TIMEOUT_S) as response:
            response.read()  # the whole body: nginx stores a response once it has all of it
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def warm_proxy(base_url: str, host: str | None, generation: Path) -> str:
    """Ask every site-map URL of `generation` through the proxy under its (new) cache key."""
    paths = site_urls(generation / "sti.db")
    with ThreadPoolExecutor(WARM_CLIENTS) as pool:
        statuses = list(pool.map(lambda path: _warm_one(base_url, host, generation.name, path), paths))
    failed = [(path, status) for path, status in zip(paths, statuses) if status != 200]
    if len(failed) > len(paths) // 10:
        raise ReplicaError(
            f"warming {base_url} failed for {len(failed)} of {len(paths)} URLs, e.g. {failed[:3]} "
            "(status 0: no answer); the proxy was not re-keyed"
        )
    return f"proxy cache warmed for {generation.name}: {len(paths) - len(failed)} of {len(paths)} URLs" + (
        f" ({len(failed)} not 200, e.g. {failed[0][0]} -> {failed[0][1]})" if failed else ""
    )


def publish(
    source: Path,
    replicas: list[Paths],
    map_file: Path | None,
    reload_command: str | None,
    lock_timeout: float = 60.0,
    warm_url: str | None = None,
    warm_host: str | None = None,
    link: bool = False,
) -> list[str]:
    """Steps 1-3 of the protocol above; returns the log lines. Raises ReplicaError on the first failure."""
    if not (source / generations.MANIFEST).exists():
        raise ReplicaError(f"{source} is not a complete generation (no {generations.MANIFEST})")
    log = []
    for replica in replicas:  # 1. every copy first: the switches that follow take milliseconds each
        if generations.current_id(replica) != source.name:
            stage_generation(source, replica, link)
            log.append(f"{replica.home}: {'linked' if link else 'copied'} {source.name}")
    for replica in replicas:  # 2. one replica after the other
        log.append(switch_replica(source, replica, lock_timeout, link))
    if warm_url:
        log.append(warm_proxy(warm_url, warm_host, source))
    log += rekey_proxy(map_file, reload_command, source.name)  # 3.
    if warm_url and map_file is not None:
        log.append(wait_for_proxy_key(warm_url, warm_host, source.name))
    return log


REKEY_WAIT_S = 10.0


def wait_for_proxy_key(base_url: str, host: str | None, publication: str) -> str:
    """Return once a new connection to the proxy is answered under `publication`'s cache key.

    A graceful reload starts new nginx workers and lets the old ones finish: for a moment a new connection
    may still reach an old worker (old key; the replicas then answer no-store and render). Waiting here
    means that when `sti replicas publish --warm` returns, visitors are served from the warmed cache."""
    headers = {"User-Agent": "sti-replicas-warm", "Accept-Encoding": "gzip", **({"Host": host} if host else {})}
    deadline = time.monotonic() + REKEY_WAIT_S
    seen = "no answer"
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(base_url.rstrip("/") + "/", headers=headers)
            with urllib.request.urlopen(request, timeout=WARM_TIMEOUT_S) as response:
                response.read()
                seen = response.headers.get("X-Sti-Cache-Key")
        except (urllib.error.URLError, OSError) as error:
            seen = f"no answer ({error})"
        if seen == publication:
            return f"proxy answers under {publication}"
        if seen is None:  # an nginx config older than deploy/nginx/sti-portal.conf: cannot tell, do not wait
            return "proxy does not say its cache key (no X-Sti-Cache-Key header): not waited for the reload"
        time.sleep(0.05)
    # The publication is live on every replica and in the map: a warning, not a failure.
    return f"warning: the proxy at {base_url} still answered under {seen!r} {REKEY_WAIT_S:.0f} s after the re-key"


# ------------------------------------------------------------------------------------------ CLI


@click.group()
def replicas() -> None:
    """Bring a publication to the portal replicas and re-key the proxy cache (docs/deploy.md)."""


_map_option = click.option(
    "--nginx-map",
    "map_file",
    type=click.Path(path_type=Path),
    default=None,
    help="nginx map file naming the publication (e.g. /etc/nginx/sti-publication.map).",
)
_reload_option = click.option(
    "--reload",
    "reload_command",
    default=None,
    help='Command that reloads the proxy after the map changed (e.g. "nginx -s reload").',
)


@replicas.command("publish")
@click.option(
    "--to",
    "homes",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="STI_HOME of a replica (repeat for each, in the order they switch).",
)
@click.option(
    "--generation",
    type=click.Path(path_type=Path),
    default=None,
    help="The generation directory to publish (default: the current one of this STI_HOME).",
)
@_map_option
@_reload_option
@click.option(
    "--warm",
    "warm_url",
    default=None,
    help="Before re-keying, ask every site URL through this proxy address (e.g. http://127.0.0.1).",
)
@click.option("--warm-host", default=None, help="Host header for --warm: the public name (e.g. sti.example.org).")
@click.option(
    "--link",
    is_flag=True,
    help="Hard-link the generation's files instead of copying them (replicas on the builder's file system).",
)
def publish_command(
    homes: tuple[Path, ...],
    generation: Path | None,
    map_file: Path | None,
    reload_command: str | None,
    warm_url: str | None,
    warm_host: str | None,
    link: bool,
) -> None:
    """Copy the published generation to every replica, switch them in order, then re-key the proxy."""
    source = generation.resolve() if generation else generations.current_generation(config.paths())
    if source is None:
        click.echo(
            f"nothing published in {config.paths().home}: run `sti build` first / 尚未发布，请先运行 sti build",
            err=True,
        )
        sys.exit(1)
    try:
        for line in publish(
            source,
            [Paths(home.resolve()) for home in homes],
            map_file,
            reload_command,
            warm_url=warm_url,
            warm_host=warm_host,
            link=link,
        ):
            click.echo(line)
    except (ReplicaError, generations.WriterBusy, generations.PublicationConflict, OSError) as error:
        click.echo(f"replica publication stopped / 副本发布中止: {error}", err=True)
        sys.exit(1)


@replicas.command("rekey")
@_map_option
@_reload_option
def rekey_command(map_file: Path | None, reload_command: str | None) -> None:
    """Point the proxy's cache key at this STI_HOME's current publication (one machine, no replicas)."""
    publication = generations.current_id(config.paths())
    if publication is None or map_file is None:
        click.echo("need a published generation and --nginx-map / 需要已发布的数据和 --nginx-map", err=True)
        sys.exit(1)
    try:
        for line in rekey_proxy(map_file, reload_command, publication):
            click.echo(line)
    except (ReplicaError, OSError) as error:
        click.echo(f"re-key failed / 代理缓存键更新失败: {error}", err=True)
        sys.exit(1)
