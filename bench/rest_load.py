"""Load on the REST API of the demo: requests/s, p50/p95 latency and errors for search and similar.

    python bench/rest_load.py                      # serves the demo site on a free 127.0.0.1 port
    python bench/rest_load.py --url http://127.0.0.1:8000 --concurrency 8 --duration 30   # `make demo`

Without ``--url`` the demo site (example/demo_site: its settings, URLs, Chinook data, FAISS and
all-MiniLM-L6-v2) runs from a data folder of its own (``--data``, default ``var/rest-load/``), built the
first time (a few minutes) and reused after, so the bench never touches ``example/var/``. The server is
Django's threaded development server, as `make demo` runs it.
Each phase is bounded twice: ``--duration`` seconds and ``--requests`` requests, whichever comes first.
Prints a table; asserts nothing about speed (the exit status is 1 only when a request failed).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import EXAMPLE_DIR, QUERIES, REPO_ROOT

API = "/api/search/"
RESULT_LIMIT = 10


@dataclass
class Phase:
    """Latencies (seconds) and failures of one endpoint under load."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def row(self) -> list[str]:
        done = len(self.latencies) + len(self.errors)
        ms = sorted(x * 1000 for x in self.latencies)
        p50 = statistics.median(ms) if ms else float("nan")
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))] if ms else float("nan")
        return [self.name, str(done), f"{done / self.elapsed:.1f}", f"{p50:.1f}", f"{p95:.1f}", str(len(self.errors))]


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path, headers={"Accept": "application/json"})
    response = connection.getresponse()
    return response.status, response.read()


def search_path(query: str) -> str:
    return f"{API}?{urllib.parse.urlencode({'q': query, 'limit': RESULT_LIMIT})}"


def run_phase(name: str, host: str, port: int, paths: Callable[[], str], concurrency: int, duration: float,
              max_requests: int) -> Phase:
    """``concurrency`` clients with keep-alive connections send ``paths()`` until time or budget runs out."""
    phase = Phase(name)
    budget = itertools.count()
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        while time.perf_counter() < deadline and next(budget) < max_requests:
            path = paths()
            started = time.perf_counter()
            try:
                status, body = get(connection, path)
                ok = status == 200 and "results" in json.loads(body)
                failure = None if ok else f"{status} {path}: {body[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failure = f"{type(exc).__name__} {path}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
            took = time.perf_counter() - started
            with lock:
                (phase.errors.append(failure) if failure else phase.latencies.append(took))
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.elapsed = time.perf_counter() - started
    return phase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_demo(port: int, data: Path) -> None:
    """The server process: the demo's settings with ``data`` for its database, vectors and cache."""
    import copy

    sys.path.insert(0, str(EXAMPLE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    import django
    from django.conf import settings

    data.mkdir(parents=True, exist_ok=True)
    graph_search = copy.deepcopy(settings.GRAPH_SEARCH)
    graph_search["VECTOR_STORE"]["OPTIONS"]["PATH"] = str(data / "faiss")
    graph_search["CACHE"]["OPTIONS"]["PATH"] = str(data / "cache")
    graph_search["AUTO_INDEX"] = False  # the bench only reads; the catalogue is indexed in one go below
    settings.GRAPH_SEARCH = graph_search
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": data / "db.sqlite3"}}
    settings.DEBUG = False
    django.setup()

    from django.core.management import call_command
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", verbosity=0)
    call_command("load_chinook")
    call_command("build_search_index")  # unchanged rows are skipped: quick after the first run
    print(f"Serving the demo on http://127.0.0.1:{port}/", flush=True)
    run("127.0.0.1", port, get_wsgi_application(), threading=True)


def start_demo(port: int, data: Path, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--data", str(data)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_up(host: str, port: int, server: subprocess.Popen | None, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"The demo server exited with status {server.returncode}; see its log.")
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            if get(connection, f"{API}schema/")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"Nothing answered {API}schema/ on {host}:{port} within {timeout:.0f} s.")


def similar_targets(host: str, port: int) -> list[str]:
    """Similar-paths of objects the searches found (so each one is indexed); warms the model up too."""
    connection = http.client.HTTPConnection(host, port, timeout=120)
    targets = []
    for query in QUERIES:
        status, body = get(connection, search_path(query))
        if status != 200:
            raise SystemExit(f"Warm-up search {query!r} answered {status}: {body[:300]!r}")
        hits = json.loads(body)["results"]
        targets += [f"{API}similar/{hit['model']}/{hit['pk']}/?limit={RESULT_LIMIT}" for hit in hits]
    if not targets:
        raise SystemExit("The searches found nothing: build the demo's index first (`make demo`).")
    return list(dict.fromkeys(targets))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running site with dgs_core.urls at /api/search/ (default: start the demo)")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel clients (default 4)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per phase at most (default 20)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase at most (default 2000)")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "var" / "rest-load",
                        help="data folder of the served demo (default var/rest-load/)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        serve_demo(args.serve, args.data)
        return 0

    server = None
    if args.url:
        parsed = urllib.parse.urlsplit(args.url)
        host, port = parsed.hostname, parsed.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        log_path = args.data.parent / f"{args.data.name}-server.log"
        args.data.parent.mkdir(parents=True, exist_ok=True)
        print(f"Starting the demo on http://{host}:{port}/ from {args.data} (log: {log_path}); "
              "the first run builds its index.", flush=True)
        server = start_demo(port, args.data, log_path)
    try:
        wait_until_up(host, port, server)
        targets = similar_targets(host, port)
        queries = itertools.cycle(QUERIES)
        similar = itertools.cycle(targets)
        lock = threading.Lock()

        def next_search() -> str:
            with lock:
                return search_path(next(queries))

        def next_similar() -> str:
            with lock:
                return next(similar)

        phases = [
            run_phase("search", host, port, next_search, args.concurrency, args.duration, args.requests),
            run_phase("similar", host, port, next_similar, args.concurrency, args.duration, args.requests),
        ]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    headers = ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "errors"]
    rows = [headers] + [phase.row() for phase in phases]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    print(f"\n{args.concurrency} clients, at most {args.duration:g} s or {args.requests} requests per endpoint, "
          f"limit={RESULT_LIMIT}, {len(QUERIES)} queries, {len(targets)} similar targets")
    for row in rows:
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                        enumerate(zip(row, widths, strict=True))))
    failures = [error for phase in phases for error in phase.errors]
    for failure in failures[:10]:
        print("error:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
