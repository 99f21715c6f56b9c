"""Browser fixtures: the demo site served from a thread of this process, and headless Debian Chromium.

The site shares the test's database connection (the in-memory SQLite of the session, with the Chinook
catalogue and its FAISS index), so what a test creates is visible to the browser and rolled back after it.
Playwright drives ``/usr/bin/chromium`` (Debian's package ``chromium``); it never downloads a browser.
Screenshots go to ``test-artifacts/browser/`` at the repository root.
"""

from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


class JoiningWSGIServer(ThreadedWSGIServer):
    """Closing the server waits for its request threads, which use the shared connection until they end."""

    daemon_threads = False
    block_on_close = True


class SiteThread(LiveServerThread):
    server_class = JoiningWSGIServer


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright against the demo site")


@pytest.fixture
def site_url(db, search_index):
    """The demo site on 127.0.0.1 (a free port), answering from the test's database and the session index."""
    connection = connections["default"]
    connection.inc_thread_sharing()
    server = SiteThread("127.0.0.1", StaticFilesHandler, {"default": connection}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()
    connection.dec_thread_sharing()


# Module scope: Playwright's event loop must be gone before other modules' tests call async views
# through Django's test client (async_to_sync refuses to run in a thread with a running loop).
@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the browser tests use Debian's Chromium).")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the Python package)")
    # Playwright's sync API keeps an event loop in this thread, which makes Django refuse database calls
    # from the test; none of them runs inside that loop (Playwright's documented setting for Django).
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, site_url, request):
    """A fresh browser page; its last state is saved as ``<test name>-final.png`` even when the test fails.

    It closes (and with it the browser's keep-alive connections) before the site stops."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()


@pytest.fixture
def screenshot(page, request):
    """``screenshot("step")`` saves ``test-artifacts/browser/<test>-<step>.png``."""

    def take(step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
