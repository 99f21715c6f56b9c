"""One side of the benchmark in its own process: ``python -m bench.worker {prepare,dgs,legacy} ...``.

dgs and django-graph-search both read ``settings.GRAPH_SEARCH`` (in different dialects), so each runs
with its own settings module; ``index_and_query.py`` starts the three steps and merges their JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Workload, setup_paths, timed

SETTINGS = {"prepare": "bench.settings", "dgs": "bench.settings", "legacy": "bench.settings_legacy"}


def prepare() -> dict[str, Any]:
    """Create the Chinook tables and load the fixture into the SQLite file both sides read."""
    from django.core.management import call_command

    from chinook.fixture import chinook_fixture_path
    from chinook.models import Album, Artist, Track

    seconds, _ = timed(lambda: (
        call_command("migrate", run_syncdb=True, verbosity=0),
        call_command("loaddata", str(chinook_fixture_path()), verbosity=0),
    ))
    return {"seconds": seconds, "tracks": Track.objects.count(), "albums": Album.objects.count(),
            "artists": Artist.objects.count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("side", choices=sorted(SETTINGS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    setup_paths()
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS[args.side]
    os.environ["DGS_BENCH_DIR"] = str(args.work_dir)
    import django

    django.setup()
    workload = Workload.for_mode(args.quick)
    if args.side == "prepare":
        result = prepare()
    elif args.side == "dgs":
        from bench.side_dgs import run

        result = run(workload, args.work_dir)
    else:
        from bench.side_legacy import run

        result = run(workload, args.work_dir)
    if args.side != "prepare":
        import torch

        result["torch_threads"] = torch.get_num_threads()
    args.out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
