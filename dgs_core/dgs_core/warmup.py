"""Search warm at server start: a serving process loads the embedder, the vector store and the search pipeline in
a background thread as Django starts, so the first search costs what the second does.

A model loads in seconds (all-MiniLM-L6-v2: ~7 s on 2 CPU cores), and a plugin's pipeline builds its graph; a
server that waited for them on its first request made that user wait. Only serving processes warm up (runserver,
gunicorn, uvicorn, daphne, hypercorn, granian): management commands and tests that never search never load a
model. The server accepts requests at once; a search that arrives while the warm-up runs waits for the same
shared components (:func:`dgs_core.engine.shared`) instead of loading them twice. The warm-up makes no paid call
beyond one query embedding (no language-model call) and a failure only logs a warning: the first search then reports it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

log = logging.getLogger("dgs_core.warmup")

#: Programs (``sys.argv[0]``, or the package run by ``python -m``) that serve requests.
SERVERS = frozenset({"gunicorn", "uvicorn", "daphne", "hypercorn", "granian"})
#: The text embedded to load the model; any short text does.
WARM_UP_QUERY = "warm-up"


def is_serving_process(argv: Optional[Sequence[str]] = None, environ: Optional[dict[str, str]] = None) -> bool:
    """Whether this process serves requests. ``manage.py runserver`` with its auto-reloader serves from a child
    process (``RUN_MAIN=true``); the watching parent never searches."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if not argv:
        return False
    program = Path(argv[0])
    name = program.parent.name if program.name == "__main__.py" else program.stem
    if name in SERVERS:
        return True
    if len(argv) > 1 and argv[1] == "runserver":
        return "--noreload" in argv or environ.get("RUN_MAIN") == "true"
    return False


def warm_up() -> float:
    """Load the search embedder, the vector store's index (a probe of each search leg) and the search pipeline;
    return the seconds it took."""
    from dgs_core import engine
    from dgs_core.conf import get_config
    from dgs_core.plugins import get_registry

    started = time.perf_counter()
    config = get_config()
    store = engine.get_vector_store()
    vector = engine.get_search_embedder(store).embed_query(WARM_UP_QUERY)
    store.search(vector, 1)
    if "keyword" in store.capabilities:
        store.keyword_search(WARM_UP_QUERY, 1)
    get_registry().hook.dgs_search_pipeline(config=config)
    return time.perf_counter() - started


def _run() -> None:
    from django.db import connections

    try:
        log.info("Search warmed up in %.1f s.", warm_up())
    except Exception as exc:  # e.g. an index not built yet: the first search reports it properly
        log.warning("Warming up search failed (%s: %s); the first search will load what it needs.",
                    type(exc).__name__, exc)
    finally:
        connections.close_all()  # this thread's own connections (a database-backed store, the generations)


def start_if_serving() -> Optional[threading.Thread]:
    """Start :func:`warm_up` in a daemon thread when this process serves requests; the thread, or ``None``."""
    if not is_serving_process():
        return None
    thread = threading.Thread(target=_run, name="dgs-warm-up", daemon=True)
    thread.start()
    return thread
