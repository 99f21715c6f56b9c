"""Issue 18 point 5: a built index whose collection vanished or whose files are damaged answers 503, shows up in
`manage.py check` (dgs.W008) and on the admin's index status page, and is never served as an empty index; a fresh
install (never built) still answers empty, and `check` creates nothing. On FAISS, Chroma (embedded) and Qdrant Edge,
through the demo site's REST API and admin; pgvector's run is in plugins/dgs_pgvector/tests/test_store_health.py."""

import copy
import os
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from chinook.models import Genre
from dgs_core import engine, index
from dgs_core.checks import check_graph_search
from dgs_core.engine import generations
from dgs_core.exceptions import CollectionMissing

pytestmark = pytest.mark.django_db

GENRES = {"MODELS": [{"model": "chinook.Genre", "fields": ["name"]}], "AUTO_INDEX": False,
          "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 64}}}}


def faiss_store(path: Path) -> dict:
    return {"BACKEND": "faiss", "OPTIONS": {"PATH": str(path)}}


def chroma_store(path: Path) -> dict:
    return {"BACKEND": "chroma", "OPTIONS": {"PATH": str(path)}}


def qdrant_store(path: Path) -> dict:
    return {"BACKEND": "qdrant", "OPTIONS": {"PATH": str(path)}}


def delete_directory(path: Path) -> None:
    shutil.rmtree(path)


def truncate_vectors(path: Path) -> None:
    (vectors,) = path.glob("vectors-*.f32")
    os.truncate(vectors, vectors.stat().st_size // 2)


def corrupt_database(path: Path) -> None:
    engine.reset()  # a worker starting after the damage (an open connection may still hold the pages it read)
    for name in ("documents.sqlite3-wal", "documents.sqlite3-shm"):
        (path / name).unlink(missing_ok=True)
    (path / "documents.sqlite3").write_bytes(b"not a database " * 100)


def delete_chroma_collection(path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False)).delete_collection("dgs")


def delete_qdrant_shard(path: Path) -> None:
    shutil.rmtree(path / "dgs")


DAMAGES = {
    "faiss directory deleted": (faiss_store, delete_directory),
    "faiss vectors truncated": (faiss_store, truncate_vectors),
    "faiss database corrupt": (faiss_store, corrupt_database),
    "chroma collection deleted": (chroma_store, delete_chroma_collection),
    "qdrant edge shard deleted": (qdrant_store, delete_qdrant_shard),
}


@pytest.fixture(autouse=True)
def fresh_components(monkeypatch):
    # Rebuilds wait this long for other processes to see a switch; the test runs in one process.
    monkeypatch.setattr(generations, "STATE_TTL_SECONDS", 0.0)
    engine.reset()
    yield
    engine.reset()


def site_with(store: dict):
    return override_settings(GRAPH_SEARCH={**copy.deepcopy(GENRES), "VECTOR_STORE": store})


def search(client):
    return client.get("/api/search/", {"q": "Rock", "models": "chinook.Genre", "mode": "vector"})


def problems() -> list[str]:
    return [message.id for message in check_graph_search()]


def status_page(admin_client):
    return admin_client.get(reverse("admin:graph-search-index-status"))


def texts(response) -> list[str]:
    return [hit["text"] for hit in response.json()["results"]]


def build(*args: str) -> None:
    call_command("build_search_index", "--no-progress", *args, stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_vanished_or_damaged_index_answers_503_and_is_reported_until_rebuilt(client, admin_client, tmp_path, damage):
    make_store, harm = DAMAGES[damage]
    path = tmp_path / "store"
    with site_with(make_store(path)):
        # A fresh install: nothing built yet answers empty, and neither check nor the status page is an alarm.
        assert "dgs.W008" not in problems()
        assert search(client).status_code == 200 and search(client).json()["results"] == []
        assert status_page(admin_client).status_code == 200

        build()
        found = search(client)
        assert found.status_code == 200 and "Rock" in texts(found)

        harm(path)
        # Every request, not only the first: the store never re-creates the index empty and serves that.
        assert [search(client).status_code for _ in range(3)] == [503, 503, 503]
        rock = Genre.objects.get(name="Rock").pk
        assert client.get(f"/api/search/similar/chinook.genre/{rock}/").status_code == 503
        assert "dgs.W008" in problems()
        page = status_page(admin_client)
        assert page.status_code == 503 and "build_search_index --rebuild" in page.content.decode()

        build("--rebuild")
        assert "Rock" in texts(search(client))
        assert "dgs.W008" not in problems()
        assert status_page(admin_client).status_code == 200


@pytest.mark.parametrize("make_store", [faiss_store, chroma_store, qdrant_store])
def test_check_on_a_fresh_install_creates_no_index(tmp_path, make_store):
    path = tmp_path / "store"
    with site_with(make_store(path)):
        assert "dgs.W008" not in problems()
        assert not engine.get_vector_store().live.exists()


def test_a_change_saved_after_the_index_vanished_is_refused_not_written_into_a_new_empty_index(client, tmp_path):
    path = tmp_path / "store"
    with site_with(faiss_store(path)):
        build()
        delete_directory(path)
        with pytest.raises(CollectionMissing):
            index(Genre.objects.get(name="Rock"))
        assert not path.exists()
        assert search(client).status_code == 503
