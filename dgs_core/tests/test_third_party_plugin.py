"""A third-party plugin, installed like any distribution and selected by name in ``GRAPH_SEARCH``.

The test writes two small distributions (pyproject with hatchling and a ``dgs`` entry point), installs
them with pip into a temporary folder and runs Django in subprocesses with that folder on ``PYTHONPATH``,
so entry point discovery, the environment variables and ``manage.py`` behave as in a real project.

* ``dgs-example-store 0.3.0`` (plugin ``example_store``): vector store ``example`` (core's memory store
  counting its searches) and embedder ``example-hashing`` (core's hashing embedder, 96 dimensions).
* ``dgs-rival-store 1.2.0`` (plugin ``rival_store``): also claims the vector store name ``example``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

CORE_ROOT = Path(__file__).resolve().parents[1]  # holds the ``tests`` package with the test settings

EXAMPLE_STORE = {
    "dgs_example_store/__init__.py": '"""A dgs plugin: an in-memory vector store and a 96-d hashing embedder."""\n',
    "dgs_example_store/plugin.py": '''
        """Hook implementations only; the backends are imported when a name is first looked up."""

        import dgs_core


        @dgs_core.hookimpl
        def dgs_register_vector_stores(register):
            from dgs_example_store.backends import ExampleStore

            register("example", ExampleStore)


        @dgs_core.hookimpl
        def dgs_register_embedders(register):
            from dgs_example_store.backends import ExampleEmbedder

            register("example-hashing", ExampleEmbedder)
        ''',
    "dgs_example_store/backends.py": '''
        from dgs_core.backends import HashingEmbedder, MemoryVectorStore


        class ExampleStore(MemoryVectorStore):
            """Core's exact in-memory search, counting the searches it answers."""

            def __init__(self, **options):
                super().__init__(**options)
                self.searches = 0

            def search(self, vector, k, **restrictions):
                self.searches += 1
                return super().search(vector, k, **restrictions)


        class ExampleEmbedder(HashingEmbedder):
            def __init__(self, model_name=None, **options):
                super().__init__(model_name, dimension=96, **options)
        ''',
}

RIVAL_STORE = {
    "dgs_rival_store/__init__.py": "",
    "dgs_rival_store/plugin.py": '''
        import dgs_core


        @dgs_core.hookimpl
        def dgs_register_vector_stores(register):
            from dgs_core.backends import MemoryVectorStore

            register("example", MemoryVectorStore)
        ''',
}

PYPROJECT = """
    [build-system]
    requires = ["hatchling"]
    build-backend = "hatchling.build"

    [project]
    name = "{name}"
    version = "{version}"
    requires-python = ">=3.10"
    dependencies = ["dgs-core"]

    [project.entry-points.dgs]
    {plugin} = "{package}.plugin"

    [tool.hatch.build.targets.wheel]
    packages = ["{package}"]
    """

SETTINGS = """
    import os

    from tests.settings import *  # noqa: F403

    GRAPH_SEARCH = {
        "MODELS": [{"model": "shop.Product", "fields": ["name", "description"]}],
        "VECTOR_STORE": {"BACKEND": os.environ["EXAMPLE_STORE_BACKEND"]},
        "EMBEDDINGS": {"default": {"BACKEND": os.environ["EXAMPLE_EMBEDDER_BACKEND"]}},
        "AUTO_INDEX": False,
    }
    """

MANAGE = """
    import sys

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    """

INDEX_AND_SEARCH = """
    import json

    import django

    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from dgs_core import reindex_queryset, search

    from dgs_core import engine
    from tests.shop.models import Product

    products = {
        name: Product.objects.create(name=name, description=description).pk
        for name, description in [
            ("Red smartphone", "A red phone with a bright screen"),
            ("Garden hose", "Twenty metres of green hose"),
            ("Wool blanket", "A warm blanket for winter"),
        ]
    }
    stats = reindex_queryset(Product.objects.all())
    hits = search("red smartphone", models=["shop.Product"], limit=3)
    # The shared store routes to its live collection: an instance of the configured backend class.
    store, embedder = engine.get_vector_store().live, engine.get_embedder()
    stored = store.get_vectors([f"shop.product:{pk}" for pk in products.values()])
    print(json.dumps({
        "products": products,
        "indexed": stats.indexed,
        "hits": [{"pk": hit.pk, "score": hit.score} for hit in hits],
        "store_class": f"{type(store).__module__}.{type(store).__qualname__}",
        "store_name": type(store).registered_name,
        "store_searches": store.searches,
        "embedder_id": embedder.id,
        "stored_dimensions": sorted({len(vector) for vector in stored.values()}),
    }))
    """


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def write_distribution(root: Path, name: str, version: str, plugin: str, package: str, files: dict) -> Path:
    folder = root / name
    pyproject = PYPROJECT.format(name=name, version=version, plugin=plugin, package=package)
    write_tree(folder, {"pyproject.toml": pyproject, **files})
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A Django project folder whose ``site`` subfolder has both plugin distributions pip-installed."""
    root = tmp_path_factory.mktemp("third_party")
    sources = [
        write_distribution(root, "dgs-example-store", "0.3.0", "example_store", "dgs_example_store", EXAMPLE_STORE),
        write_distribution(root, "dgs-rival-store", "1.2.0", "rival_store", "dgs_rival_store", RIVAL_STORE),
    ]
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
           "--disable-pip-version-check", "--target", str(root / "site"), *map(str, sources)]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=180)
    assert installed.returncode == 0, f"pip could not install the example plugins:\n{installed.stderr}"
    scripts = {"third_party_settings.py": SETTINGS, "manage.py": MANAGE, "index_and_search.py": INDEX_AND_SEARCH}
    write_tree(root, scripts)
    return root


def run_django(project: Path, *args: str, backend: str = "example", embedder: str = "example-hashing",
               block: tuple[str, ...] = ("rival_store",), **environ: str) -> subprocess.CompletedProcess:
    """Run ``python <args>`` in the project with the installed plugins, blocking ``block`` by name.

    ``backend`` and ``embedder`` are the names the settings select for the vector store and embedder.

    Plugins of the surrounding environment other than core are blocked too, so only the two
    distributions under test compete with core whatever else is installed.
    """
    installed_elsewhere = [ep.name for ep in entry_points(group="dgs") if ep.name != "core"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("DGS_")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(project / "site"), str(project), str(CORE_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "third_party_settings",
        "EXAMPLE_STORE_BACKEND": backend,
        "EXAMPLE_EMBEDDER_BACKEND": embedder,
        "DGS_DISABLED_PLUGINS": ",".join([*installed_elsewhere, *block]),
        "OMP_NUM_THREADS": "1",
        **environ,
    })
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_the_plugin_passes_manage_py_check(project):
    result = run_django(project, "manage.py", "check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_plugin_backends_index_and_search(project):
    result = run_django(project, "index_and_search.py")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["store_class"] == "dgs_example_store.backends.ExampleStore"
    assert report["store_name"] == "example"
    assert report["store_searches"] == 1
    assert report["embedder_id"].startswith("example-hashing:")
    assert report["stored_dimensions"] == [96]
    assert report["indexed"] == len(report["products"])
    pks = [hit["pk"] for hit in report["hits"]]
    assert pks[0] == report["products"]["Red smartphone"]
    assert sorted(pks) == sorted(report["products"].values())
    scores = [hit["score"] for hit in report["hits"]]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= score <= 1.0 for score in scores)


def test_dgs_plugins_lists_the_plugin_its_distribution_and_names(project):
    result = run_django(project, "manage.py", "dgs_plugins")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:] if line.strip()}
    assert {"core", "example_store"} <= set(rows)
    assert "dgs-example-store 0.3.0" in rows["example_store"]
    assert "vector store 'example'" in rows["example_store"]
    assert "embedder 'example-hashing'" in rows["example_store"]
    # rival_store is blocked by DGS_DISABLED_PLUGINS: it registers nothing, so "example" is not contested.
    assert "'example'" not in rows.get("rival_store", "")


def test_a_name_claimed_by_two_distributions_is_an_error_naming_both(project):
    result = run_django(project, "manage.py", "check", block=())
    assert result.returncode != 0
    assert "dgs.E008" in result.stderr
    assert "dgs-example-store 0.3.0" in result.stderr and "dgs-rival-store 1.2.0" in result.stderr

    listing = run_django(project, "manage.py", "dgs_plugins", block=())
    assert listing.returncode != 0
    assert "dgs-example-store 0.3.0" in listing.stderr and "dgs-rival-store 1.2.0" in listing.stderr


def test_disabling_autoload_loads_only_core(project):
    # Nothing is blocked by name here: autoload being off is what keeps every distribution out.
    listing = run_django(project, "manage.py", "dgs_plugins", backend="memory", embedder="hashing",
                         DGS_DISABLE_PLUGIN_AUTOLOAD="1", DGS_DISABLED_PLUGINS="")
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines()[2:] if line[:1].strip()]  # not a wrapped cell's next line
    plugins = [row.split()[0] for row in rows]
    assert plugins == ["core"]

    check = run_django(project, "manage.py", "check", DGS_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "dgs.E007" in check.stderr and "'example'" in check.stderr


def test_an_unknown_backend_name_lists_the_installed_names(project):
    result = run_django(project, "manage.py", "check", backend="exampel")
    assert result.returncode != 0
    assert "dgs.E007" in result.stderr and "'exampel'" in result.stderr
    assert "Installed vector store names: example, memory" in result.stderr


def test_a_known_plugin_that_is_not_installed_gives_its_pip_command(project):
    # Every dgs plugin of the environment is blocked by run_django, so "chroma" is missing here.
    result = run_django(project, "manage.py", "check", backend="chroma")
    assert result.returncode != 0
    assert "dgs.E006" in result.stderr
    assert 'pip install --find-links dist "dgs-core[chroma]"' in result.stderr
    assert "example, memory" in result.stderr
