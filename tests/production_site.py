"""The production recipe of the README, run for real: gunicorn with deploy/gunicorn.conf.py, Redis, schedulers.

`ProductionSite` starts `gunicorn -c deploy/gunicorn.conf.py 'aptic:create_app()'` on a free port with
the environment an operator writes in deploy/aptic.env; `scheduler_process` starts `aptic scheduler`.
Both run this checkout's code (PYTHONPATH) in their own processes and are stopped on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("APTIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_unavailable(url: str = REDIS_URL) -> str | None:
    """Why the Redis at `url` cannot be used, or None when it answers."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis indisponible à {url} ({error})"
    return None


@contextmanager
def redis_server() -> Iterator[str]:
    """The local Redis (APTIC_TEST_REDIS_URL), or, when it does not answer, a throwaway `redis-server`."""
    if redis_unavailable() is None or shutil.which("redis-server") is None:
        yield REDIS_URL
        return
    port = _free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while redis_unavailable(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(database_url: str, folder: Path, redis_url: str = REDIS_URL, **settings: str) -> dict[str, str]:
    """The variables of deploy/aptic.env for a throwaway site (unique rate-limit key prefix per site)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("APTIC_")}
    environment.update({
        "PYTHONPATH": str(ROOT),
        "APTIC_DATABASE_URL": database_url,
        "APTIC_SECRET_KEY": "production-profile-test",
        "APTIC_RATELIMIT_STORAGE_URI": redis_url,
        "APTIC_RATELIMIT_KEY_PREFIX": f"aptic-test-{uuid.uuid4().hex[:12]}",
        "APTIC_UPLOAD_DIR": str(folder / "uploads"),
        "APTIC_LOG_LEVEL": "INFO",
    })
    environment.update(settings)
    return environment


class ProductionSite:
    """A running gunicorn master and its workers; `url(path)` addresses it."""

    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        self.port = _free_port()
        self.environment = {**environment, "APTIC_WEB_BIND": f"127.0.0.1:{self.port}"}
        self.log = folder / f"gunicorn-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 60) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                 "--no-control-socket", "aptic:create_app()"],
                cwd=ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        workers = int(self.environment.get("APTIC_WEB_WORKERS", "1"))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url("/healthz"), timeout=2).ok and len(self.worker_pids()) == workers:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def worker_with_client_port(self, port: int) -> int:
        """The worker holding the TCP connection whose local port is `port` (a database connection)."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                columns = line.split()
                if int(columns[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{columns[9]}]")
        for pid in self.worker_pids():
            for descriptor in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(descriptor) in inodes:
                        return pid
                except OSError:
                    continue
        raise LookupError(f"no worker holds a connection from port {port}")

    def wait_for_workers(self, count: int, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count:
                try:
                    if requests.get(self.url("/healthz"), timeout=2).ok:
                        return pids
                except requests.ConnectionError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn has not {count} workers after {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def production_site(environment: dict[str, str], folder: Path) -> Iterator[ProductionSite]:
    site = ProductionSite(environment, folder)
    try:
        site.start()
        yield site
    finally:
        site.stop()


@contextmanager
def scheduler_process(environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`aptic scheduler` in its own process, with its output in `log`; stopped on exit."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "from aptic.cli import main; main()", "scheduler"],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
