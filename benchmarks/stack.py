"""The production stack on loopback, for the crawl benchmark and tests/test_proxy_replicas.py.

nginx (Debian's nginx-light) runs the SHIPPED deploy/nginx/sti-portal.conf with only its addresses and
paths substituted (listen port, upstream ports, cache directory, publication map), under a private
prefix in a temporary directory; each replica is a real `sti serve --workers N` on its own STI_HOME.
Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "sti-portal.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMP_PATHS = ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args[:4]} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@dataclass
class Replica:
    home: Path
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_replica(home: Path, workers: int, log_dir: Path, port: int | None = None, env: dict | None = None) -> Replica:
    port = port or free_port()
    log = log_dir / f"replica-{port}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "sti_portal", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=REPO_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), "STI_HOME": str(home)},
            start_new_session=True,
        )
    replica = Replica(home, port, process, log)
    wait_for(f"{replica.url}/-/settings.json", process, log)
    return replica


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def site_config(listen_port: int, upstream_ports: list[int], cache_dir: Path, map_file: Path) -> str:
    """deploy/nginx/sti-portal.conf with loopback addresses and private paths (each replacement must apply)."""
    text = SHIPPED_NGINX_CONF.read_text(encoding="utf-8")
    upstreams = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;\n" for port in upstream_ports)
    for old, new in [
        (
            "    server 127.0.0.1:8001 max_fails=3 fail_timeout=5s;\n    server 127.0.0.1:8002 max_fails=3 fail_timeout=5s;\n",
            upstreams,
        ),
        ("include /etc/nginx/sti-publication.map;", f"include {map_file};"),
        ("/var/cache/nginx/sti-portal", str(cache_dir)),
        ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{listen_port};\n"),
    ]:
        if old not in text:
            raise RuntimeError(
                f"deploy/nginx/sti-portal.conf no longer contains {old.strip()!r}: update benchmarks/stack.py"
            )
        text = text.replace(old, new)
    return text


@dataclass
class Proxy:
    prefix: Path
    port: int
    map_file: Path
    process: subprocess.Popen
    log: Path
    command: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def reload_command(self) -> str:
        return " ".join([*self.command, "-s", "reload"])


def start_proxy(prefix: Path, upstream_ports: list[int], map_file: Path, port: int | None = None) -> Proxy:
    """nginx in the foreground with the shipped site config; map_file must already name a publication."""
    port = port or free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    cache_dir = prefix / "cache"
    for folder in (cache_dir, *(prefix / name for name in TEMP_PATHS)):
        folder.mkdir(exist_ok=True)
    (prefix / "sti-portal.conf").write_text(site_config(port, upstream_ports, cache_dir, map_file), encoding="utf-8")
    temp = "".join(f"    {name} {prefix / name};\n" for name in TEMP_PATHS)
    (prefix / "nginx.conf").write_text(
        # As root, nginx's workers would run as nobody, who cannot enter pytest's private (0700) directories.
        f"{'user root;' if os.geteuid() == 0 else ''}\n"
        f"worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp}"
        f"    include {prefix / 'sti-portal.conf'};\n}}\n",
        encoding="utf-8",
    )
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    log = prefix / "stdout.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    proxy = Proxy(prefix, port, map_file, process, prefix / "error.log", command)
    wait_for(f"{proxy.url}/-/settings.json", process, proxy.log)
    return proxy
