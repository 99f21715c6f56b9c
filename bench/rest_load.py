"""Load on the REST API of the demo: requests/s, p50/p95 latency and errors for search and similar, then a
mixed load: light searches alone, and again while heavy clients send similar/?limit=1000 and long streams.

    python bench/rest_load.py                      # serves the demo site on a free 127.0.0.1 port
    python bench/rest_load.py --url http://127.0.0.1:8000 --concurrency 8 --duration 30   # `make demo`
    python bench/rest_load.py --heavy 2 --similar-max-limit 1000   # the mixed run with the pre-0.x ceiling

The mixed run (``--heavy N`` heavy clients, 0 skips it) reports the light searches' throughput and p50 alone,
beside unthrottled heavy clients and beside throttled ones, as ratios to the light-only phase of the same run,
and what the heavy clients got. Half the heavy clients ask ``similar/?limit=1000`` (clamped by the server's
``MAX_SIMILAR_LIMIT``, default 100; ``--similar-max-limit`` sets it on the served demo), the other half stream a
hybrid search of ``limit=1000``. Every client connects from 127.0.0.1, so the served demo trusts one proxy
(DRF's ``NUM_PROXIES``) and each request names its client in ``X-Forwarded-For``: light clients a new address
per request (never throttled, like many different users), heavy clients a new address per request in the
unthrottled phase and one address each in the throttled phase, where the default throttle (``THROTTLE_RATES``,
60/minute per address) refuses them with 429; there each heavy client first spends its minute's budget on cheap
invalid requests, as a client sending all along would have. Against ``--url``, the site's own settings apply.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import EXAMPLE_DIR, QUERIES, REPO_ROOT

API = "/api/search/"
RESULT_LIMIT = 10
#: What a heavy client asks for: the contract's largest limit.
HEAVY_LIMIT = 1000


@dataclass
class Phase:
    """Latencies (seconds) and failures of one endpoint under load."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: int = 0  # 429s, when the phase's clients may be throttled
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies) + len(self.errors) + self.refused

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")

    def row(self) -> list[str]:
        ms = sorted(x * 1000 for x in self.latencies)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))] if ms else float("nan")
        return [self.name, str(self.done), f"{self.rate:.1f}", f"{self.p50:.1f}", f"{p95:.1f}",
                str(len(self.errors)), str(self.refused)]


def get(connection: http.client.HTTPConnection, path: str, address: str = "") -> tuple[int, bytes]:
    """GET ``path``; ``address`` is the client's X-Forwarded-For (the served demo trusts one proxy)."""
    headers = {"Accept": "application/json", **({"X-Forwarded-For": address} if address else {})}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


_addresses = itertools.count(1)


def new_address() -> str:
    """A client address not used before in this run (TEST-NET-style 10.x.y.z)."""
    n = next(_addresses)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def answered_results(body: bytes) -> bool:
    """A JSON answer with results, or a stream whose results event arrived (and that ended)."""
    if body.startswith(b"{") and b"\n" not in body.strip():
        return "results" in json.loads(body)
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    return any(e.get("type") == "results" for e in events) and events[-1].get("type") == "end"


@dataclass
class Clients:
    """``count`` clients sending ``paths()`` and recording into ``phase``; ``until_others`` keeps them going until
    the other groups of the run are done (heavy background load), instead of counting against the budget.

    Each request comes from a new address (so no throttle counts it), or with ``one_address`` each client keeps
    one address (so a throttle per address applies to it, and its 429s are counted as refused)."""

    phase: Phase
    paths: Callable[[], str]
    count: int
    until_others: bool = False
    one_address: bool = False


def search_path(query: str) -> str:
    return f"{API}?{urllib.parse.urlencode({'q': query, 'limit': RESULT_LIMIT})}"


def run_clients(groups: list[Clients], host: str, port: int, duration: float, max_requests: int) -> None:
    """Every group's clients at once, with keep-alive connections, until ``duration`` seconds or ``max_requests``
    requests per measured group; background groups (``until_others``) stop when the measured ones do."""
    lock = threading.Lock()
    deadline = time.perf_counter() + duration
    measured_done = threading.Event()

    def client(group: Clients, budget: Iterator[int]) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=120)
        own_address = new_address()
        if group.one_address:  # a sustained client: its minute's budget is spent (cheap 400s count too)
            for _ in range(10_000):
                if get(connection, f"{API}?q=", own_address)[0] == 429:
                    break

        def more() -> bool:
            if group.until_others:
                return not measured_done.is_set() and time.perf_counter() < deadline
            return time.perf_counter() < deadline and next(budget) < max_requests

        while more():
            path = group.paths()
            started = time.perf_counter()
            refused = False
            try:
                status, body = get(connection, path, own_address if group.one_address else new_address())
                refused = status == 429 and group.one_address
                ok = refused or (status == 200 and answered_results(body))
                failure = None if ok else f"{status} {path}: {body[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failure = f"{type(exc).__name__} {path}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=120)
            took = time.perf_counter() - started
            with lock:
                if failure:
                    group.phase.errors.append(failure)
                elif refused:
                    group.phase.refused += 1
                else:
                    group.phase.latencies.append(took)
        connection.close()

    started = time.perf_counter()
    threads = {group.phase.name: [] for group in groups}
    for group in groups:
        budget = itertools.count()
        threads[group.phase.name] = [threading.Thread(target=client, args=(group, budget))
                                     for _ in range(group.count)]
    for thread in (t for group_threads in threads.values() for t in group_threads):
        thread.start()
    for group in groups:
        if not group.until_others:
            for thread in threads[group.phase.name]:
                thread.join()
            group.phase.elapsed = time.perf_counter() - started
    measured_done.set()
    for group in groups:
        if group.until_others:
            for thread in threads[group.phase.name]:
                thread.join()
            group.phase.elapsed = time.perf_counter() - started


def run_phase(name: str, host: str, port: int, paths: Callable[[], str], concurrency: int, duration: float,
              max_requests: int) -> Phase:
    """``concurrency`` clients with keep-alive connections send ``paths()`` until time or budget runs out."""
    phase = Phase(name)
    run_clients([Clients(phase, paths, concurrency)], host, port, duration, max_requests)
    return phase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_demo(port: int, data: Path, similar_max_limit: int | None) -> None:
    """The server process: the demo's settings with ``data`` for its database, vectors and cache, streaming on,
    one trusted proxy (clients' X-Forwarded-For) and ``similar_max_limit`` as MAX_SIMILAR_LIMIT if given."""
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
    graph_search["STREAMING"] = {"ENABLED": True}
    if similar_max_limit is not None:
        graph_search["MAX_SIMILAR_LIMIT"] = similar_max_limit
    settings.GRAPH_SEARCH = graph_search
    # Clients are told apart by X-Forwarded-For (they all connect from 127.0.0.1); the default throttle stays on.
    settings.REST_FRAMEWORK = {**getattr(settings, "REST_FRAMEWORK", {}), "NUM_PROXIES": 1}
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


def start_demo(port: int, data: Path, log_path: Path, similar_max_limit: int | None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = open(log_path, "w")
    ceiling = [] if similar_max_limit is None else ["--similar-max-limit", str(similar_max_limit)]
    return subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--data", str(data), *ceiling],
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


def mixed_load(host: str, port: int, next_search: Callable[[], str], targets: list[str],
               args: argparse.Namespace) -> list[Phase]:
    """Light searches alone, then the same light searches while ``args.heavy`` heavy clients run: half ask
    similar/ for HEAVY_LIMIT neighbours, half stream a hybrid search of HEAVY_LIMIT hits."""
    lock = threading.Lock()
    heavy_similar = itertools.cycle(target.replace(f"limit={RESULT_LIMIT}", f"limit={HEAVY_LIMIT}")
                                    for target in targets)
    heavy_streams = itertools.cycle(f"{API}stream/?{urllib.parse.urlencode({'q': q, 'limit': HEAVY_LIMIT})}"
                                    for q in QUERIES)

    def next_heavy_similar() -> str:
        with lock:
            return next(heavy_similar)

    def next_heavy_stream() -> str:
        with lock:
            return next(heavy_streams)

    phases = [run_phase("light search alone", host, port, next_search, args.concurrency, args.duration,
                        args.requests)]
    streams = args.heavy // 2
    for throttled in (False, True):
        how = "throttled" if throttled else "unthrottled"
        loaded = Phase(f"light search + {how} heavy")
        similar = Phase(f"  heavy similar limit={HEAVY_LIMIT}, {how}")
        stream = Phase(f"  heavy stream limit={HEAVY_LIMIT}, {how}")
        groups = [Clients(loaded, next_search, args.concurrency),
                  Clients(similar, next_heavy_similar, args.heavy - streams, until_others=True, one_address=throttled),
                  Clients(stream, next_heavy_stream, streams, until_others=True, one_address=throttled)]
        run_clients([group for group in groups if group.count], host, port, args.duration, args.requests)
        phases += [loaded, similar] + ([stream] if streams else [])
    return phases


def print_mixed(phases: list[Phase], args: argparse.Namespace) -> None:
    """The mixed run's table: each phase, and the light searches' rate and p50 as ratios to the light-only phase."""
    alone = phases[0]
    headers = ["mixed load", "requests", "req/s", "p50 ms", "p95 ms", "errors", "429", "req/s vs alone",
               "p50 vs alone"]
    rows = [headers]
    for phase in phases:
        ratios = ([f"{phase.rate / alone.rate:.2f}", f"{phase.p50 / alone.p50:.2f}"] if phase.name.startswith("light")
                  else ["", ""])
        rows.append(phase.row() + ratios)
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    ceiling = args.similar_max_limit if args.similar_max_limit is not None else "the site's (default 100)"
    print(f"\n{args.concurrency} light clients (search limit={RESULT_LIMIT}, a new address per request), then the "
          f"same with {args.heavy} heavy clients: unthrottled (a new address per request), then throttled (one "
          f"address each; the served demo's default throttle, 60/minute per address); MAX_SIMILAR_LIMIT: {ceiling}")
    for row in rows:
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                        enumerate(zip(row, widths, strict=True))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running site with dgs_core.urls at /api/search/ (default: start the demo)")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel clients (default 4)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per phase at most (default 20)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase at most (default 2000)")
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "var" / "rest-load",
                        help="data folder of the served demo (default var/rest-load/)")
    parser.add_argument("--heavy", type=int, default=2,
                        help="heavy clients of the mixed run (default 2: one similar, one stream; 0: no mixed run)")
    parser.add_argument("--similar-max-limit", type=int,
                        help="MAX_SIMILAR_LIMIT of the served demo (default: the setting's default, 100)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        serve_demo(args.serve, args.data, args.similar_max_limit)
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
        server = start_demo(port, args.data, log_path, args.similar_max_limit)
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
        mixed = mixed_load(host, port, next_search, targets, args) if args.heavy else []
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    headers = ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "errors", "429"]
    rows = [headers] + [phase.row() for phase in phases]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    print(f"\n{args.concurrency} clients, at most {args.duration:g} s or {args.requests} requests per endpoint, "
          f"limit={RESULT_LIMIT}, {len(QUERIES)} queries, {len(targets)} similar targets")
    for row in rows:
        print("  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                        enumerate(zip(row, widths, strict=True))))
    if mixed:
        print_mixed(mixed, args)
    failures = [error for phase in phases + mixed for error in phase.errors]
    for failure in failures[:10]:
        print("error:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
