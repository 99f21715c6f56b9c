"""Several processes on one PATH, and processes that die mid-write."""

import multiprocessing
import os
import subprocess
import sys
import textwrap

from dgs_core.base import document_id
from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
from dgs_faiss.store import FaissVectorStore
from tests.test_faiss_keywords import assert_keyword_index_matches_the_texts

DIMENSION = 16

# Runs in a child process that replaces one storage step by "do it, then die at once" (os._exit: no
# commit, no cleanup, like a kill -9 or a power cut right after that step).
CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
    from dgs_faiss.storage import Transaction
    from dgs_faiss.store import FaissVectorStore

    path, step, action = sys.argv[1:4]
    completed_step = getattr(Transaction, step)

    def step_then_die(self, *args):
        completed_step(self, *args)
        os._exit(3)

    setattr(Transaction, step, step_then_die)
    store = FaissVectorStore(path=path)
    if action == "upsert":
        vectors = random_vectors(3, 16, seed=99)
        store.upsert([make_doc(PRODUCT, f"lost{i}", vectors[i]) for i in range(3)])
    else:
        store.compact()
    """
)


def crash_during(path, step, action):
    child = subprocess.run([sys.executable, "-c", CRASHING_WRITER, path, step, action], capture_output=True, text=True)
    assert child.returncode == 3, child.stderr


def vectors_files(path):
    return sorted(name for name in os.listdir(path) if name.endswith(".f32"))


def write_from_process(path, first, count):
    """One worker process: upserts its own documents in small batches and keeps replacing a shared one."""
    store = FaissVectorStore(path=path)
    vectors = random_vectors(first + count, DIMENSION, seed=first)
    for start in range(first, first + count, 4):
        store.upsert([make_doc(PRODUCT, pk, vectors[pk]) for pk in range(start, start + 4)])
        store.upsert([make_doc(PRODUCT, "shared", vectors[start], text=f"written by {first}")])
    store.close()


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "vectors")
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=write_from_process, args=(path, first, 60)) for first in (0, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0, 0]

    store = FaissVectorStore(path=path)
    expected = {document_id(PRODUCT, pk) for pk in [*range(60), *range(1000, 1060)]} | {document_id(PRODUCT, "shared")}
    assert set(store.iter_ids()) == expected
    assert store.count() == len(expected)
    for first in (0, 1000):
        vectors = random_vectors(first + 60, DIMENSION, seed=first)
        assert store.search(vectors[first + 59], 1)[0].id == document_id(PRODUCT, first + 59)
    store.close()


def test_crash_after_appending_vectors_before_the_commit_leaves_a_consistent_store(tmp_path):
    path = str(tmp_path / "vectors")
    store = FaissVectorStore(path=path)
    vectors = random_vectors(6, DIMENSION, seed=1)
    store.upsert([make_doc(PRODUCT, pk, vectors[pk]) for pk in range(5)])
    store.close()

    crash_during(path, "_append", "upsert")

    [name] = vectors_files(path)
    assert os.path.getsize(os.path.join(path, name)) == 8 * DIMENSION * 4  # the lost rows reached the file
    store = FaissVectorStore(path=path)
    assert store.count() == 5
    assert store.content_hashes([document_id(PRODUCT, "lost0")]) == {}
    assert all(h.pk != "lost0" for h in store.search(random_vectors(3, 16, seed=99)[0], 10))

    store.upsert([make_doc(PRODUCT, 5, vectors[5])])  # the next write overwrites the uncommitted rows
    assert os.path.getsize(os.path.join(path, name)) == 6 * DIMENSION * 4
    for pk in range(6):
        assert store.search(vectors[pk], 1)[0].id == document_id(PRODUCT, pk)
    store.close()


def test_crash_after_the_keyword_rows_are_written_before_the_commit_leaves_them_unwritten(tmp_path):
    path = str(tmp_path / "vectors")
    store = FaissVectorStore(path=path)
    vectors = random_vectors(3, DIMENSION, seed=3)
    store.upsert([make_doc(PRODUCT, pk, vectors[pk], text=f"kept {pk}") for pk in range(3)])
    store.close()

    crash_during(path, "upsert", "upsert")  # documents, dead slots and keyword rows written, never committed

    store = FaissVectorStore(path=path)
    assert store.keyword_search("lost0 lost1 lost2", 10) == []
    assert sorted(h.pk for h in store.keyword_search("kept", 10)) == ["0", "1", "2"]
    store.upsert([make_doc(PRODUCT, "lost0", vectors[0], text="found again")])
    assert [h.pk for h in store.keyword_search("found", 10)] == ["lost0"]
    store.close()
    assert_keyword_index_matches_the_texts(path)


def test_crash_during_compaction_keeps_the_previous_file_in_use(tmp_path):
    path = str(tmp_path / "vectors")
    store = FaissVectorStore(path=path)
    vectors = random_vectors(100, DIMENSION, seed=2)
    store.upsert([make_doc(PRODUCT, pk, vectors[pk]) for pk in range(100)])
    store.delete([document_id(PRODUCT, pk) for pk in range(60)])
    store.close()

    crash_during(path, "compact", "compact")

    assert vectors_files(path) == ["vectors-0.f32", "vectors-1.f32"]  # the new file was written, never committed
    store = FaissVectorStore(path=path)
    assert store.count() == 40
    assert store.search(vectors[70], 1)[0].id == document_id(PRODUCT, 70)
    assert_keyword_index_matches_the_texts(path)  # the renumbered keyword rows were never committed either
    store.compact()
    assert vectors_files(path) == ["vectors-1.f32"]
    assert os.path.getsize(os.path.join(path, "vectors-1.f32")) == 40 * DIMENSION * 4
    assert sorted(int(h.pk) for h in store.search(vectors[70], 100)) == list(range(60, 100))
    assert [h.pk for h in store.keyword_search("70", 10)] == ["70"]
    store.close()
    assert_keyword_index_matches_the_texts(path)


def test_writes_keyword_search_and_the_plugin_module_never_import_faiss(tmp_path):
    """Django start-up, write-only workers (celery, build_search_index) and keyword-only searches do not pay for
    loading FAISS."""
    script = textwrap.dedent(
        """
        import sys
        import dgs_faiss.plugin
        from dgs_core.testing.vector_store import PRODUCT, make_doc, random_vectors
        from dgs_faiss.store import FaissVectorStore

        store = FaissVectorStore(path=sys.argv[1])
        store.upsert([make_doc(PRODUCT, 1, random_vectors(1, 16, seed=0)[0])])
        assert store.count() == 1
        assert [h.pk for h in store.keyword_search("product", 10)] == ["1"]
        assert "faiss" not in sys.modules, "faiss was imported"
        """
    )
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
