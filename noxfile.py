"""Development sessions of the dgs monorepo; `make test` and `make demo` bootstrap .venv and call these.

The everyday sessions (tests, lint, docs, bench, demo) run in the interpreter that runs nox, i.e. the
repository's .venv with every distribution installed editable: no venv is built per run. Only
``isolated`` builds a fresh venv, to prove dgs-core works installed on its own from its wheel.

    nox                      # lint, docs, tests, isolated (what `make test` runs)
    nox -s tests -- -x       # arguments after -- go to every pytest run
    nox -s demo              # the demo site on http://127.0.0.1:8000/ (nox -s demo -- 0.0.0.0 8123: elsewhere)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent
CORE = ROOT / "dgs_core"
EXAMPLE = ROOT / "example"
CROSS_PACKAGE_TESTS = ROOT / "tests"

nox.options.sessions = ["lint", "docs", "tests", "isolated"]
nox.options.download_python = "never"

#: Models load offline from installed packages, and a single BLAS thread keeps a 2-core machine responsive.
ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
#: Where ``nox -s demo`` serves unless told otherwise (host, port).
DEMO_ADDRESS = ("127.0.0.1", "8000")
#: pytest's exit code when it collected no test: a package without tests yet is not a failure.
NO_TESTS_COLLECTED = 5


def plugin_dirs(with_tests: bool = False) -> list[Path]:
    """Every plugin distribution (``plugins/dgs_*``), so a new plugin joins the sessions without edits."""
    found = sorted(p for p in (ROOT / "plugins").glob("dgs_*") if (p / "pyproject.toml").is_file())
    return [p for p in found if (p / "tests").is_dir()] if with_tests else found


def pytest_in(session: nox.Session, folder: Path, *args: str) -> None:
    """Run pytest from ``folder``, so it uses that package's own pytest configuration and settings."""
    session.chdir(folder)
    session.run(sys.executable, "-m", "pytest", *args, *session.posargs, env=ENV, external=True,
                success_codes=[0, NO_TESTS_COLLECTED])


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Each package's own tests (core, then every plugin), then the cross-package tests in /tests.

    Every package runs even when an earlier one fails; the session fails at the end, naming them.
    """
    failed = []
    for folder in [CORE, *plugin_dirs(with_tests=True), CROSS_PACKAGE_TESTS]:
        name = str(folder.relative_to(ROOT))
        session.log(f"--- tests of {name}")
        try:
            pytest_in(session, folder)
        except CommandFailed:
            failed.append(name)
    if failed:
        session.error(f"tests failed in: {', '.join(failed)}")


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff over the whole repository, then the import contracts (core's layers, no import circle, plugins
    independent); both configured in the root pyproject.toml."""
    session.chdir(ROOT)
    session.run(sys.executable, "-m", "ruff", "check", ".", *session.posargs, external=True)
    session.run(str(Path(sys.executable).with_name("lint-imports")), external=True)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """docs/plugin_hooks.md documents exactly the hookspecs (dgs_core's test_hook_docs)."""
    pytest_in(session, CORE, "tests/test_hook_docs.py")


@nox.session(venv_backend="venv")
def isolated(session: nox.Session) -> None:
    """Build every distribution's wheel, install dgs-core ALONE in a fresh venv and run its tests there.

    The tests run from a copy outside the source tree, so ``import dgs_core`` can only find the wheel.
    """
    work = Path(session.create_tmp())
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    # Every distribution builds with hatchling: install it once instead of once per isolated build.
    session.install("build", "hatchling")
    for folder in [CORE, *plugin_dirs()]:
        session.run("python", "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels), str(folder))
    (core_wheel,) = wheels.glob("dgs_core-*.whl")
    session.install(f"{core_wheel}[test]", "pytest", "pytest-django", "Django")  # core's own test extra too

    copy = work / "dgs_core_tests"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(CORE / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(CORE / "pyproject.toml", copy / "pyproject.toml")  # its [tool.pytest.ini_options]
    session.chdir(copy)
    installed = session.run("python", "-c", "import dgs_core; print(dgs_core.__file__)", silent=True).strip()
    if not installed.startswith(os.fspath(session.virtualenv.location)):
        session.error(f"dgs_core was imported from {installed}, not from the wheel installed in the fresh venv.")
    session.run("python", "-m", "pytest", *session.posargs, env=ENV, success_codes=[0, NO_TESTS_COLLECTED])


@nox.session(python=False, default=False)
def bench(session: nox.Session) -> None:
    """Index and query benchmarks; prints a table (never asserted on)."""
    session.chdir(ROOT)
    session.run(sys.executable, "bench/index_and_query.py", *session.posargs, env=ENV, external=True)


@nox.session(python=False, default=False)
def demo(session: nox.Session) -> None:
    """Set up the Chinook demo (database, data, search index, admin user) and serve it.

    ``nox -s demo -- HOST PORT [runserver options]`` (default 127.0.0.1 8000; ``make demo PORT=8123`` passes
    them). A port that cannot be served is reported before the long steps.
    """
    host, port, *runserver_options = [*session.posargs, *DEMO_ADDRESS[len(session.posargs):]]
    host = host.strip("[]")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # an IPv6 address in brackets
    session.chdir(EXAMPLE)
    session.run(sys.executable, "check_port.py", host, port, external=True)
    manage = [sys.executable, "manage.py"]
    session.run(*manage, "migrate", "--verbosity", "0", env=ENV, external=True)
    session.run(*manage, "load_chinook", env={**ENV, "DGS_AUTO_INDEX": "0"}, external=True)
    # Smaller batches than the default 1,000 keep the progress bar moving on a slow CPU.
    session.run(*manage, "build_search_index", "--batch-size", "250", env=ENV, external=True)
    session.run(*manage, "ensure_demo_admin", env=ENV, external=True)
    url = f"http://{address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]')}/"
    session.log(f"Serving the demo on {url} (admin: {url}admin/); Ctrl-C stops it.")
    # --insecure: runserver serves the admin's static files with DEBUG off too (the demo's default).
    session.run(*manage, "runserver", "--noreload", "--insecure", address, *runserver_options, env=ENV,
                external=True)
