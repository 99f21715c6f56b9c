"""The ONNX Runtime and OpenVINO runtimes, and bf16/int8, on the real all-MiniLM-L6-v2: same vectors (or a
new id), exported once, offline; an index built by one runtime is kept by another only when their vectors agree."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from dgs_core import engine
from dgs_core.backends import MemoryVectorStore
from dgs_core.exceptions import EmbedderMismatchError
from dgs_core.testing import EmbedderContract
from dgs_sentence_transformers import runtimes
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder, _load_model

pytestmark = pytest.mark.slow

TEXTS = ["Highway to Hell by AC/DC", "Bach: cello suite no. 1 in G major", "bossa nova from Rio de Janeiro",
         "a long text " * 80, "jazz"]
CHANGED = [("torch", "bf16"), ("onnx", "fp32"), ("onnx", "int8"), ("openvino", "fp32"), ("openvino", "bf16")]


@pytest.fixture(scope="session")
def export_folder(tmp_path_factory):
    """One export per test session, as one per machine in use."""
    return str(tmp_path_factory.mktemp("exports"))


def embedder(model_path, export_folder, runtime, precision, **options):
    return SentenceTransformerEmbedder(model_name=model_path, runtime=runtime, precision=precision,
                                       export_folder=export_folder, **options)


class TestOpenVinoBf16(EmbedderContract):
    capabilities = {"semantic"}

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, model_path, export_folder):
        return embedder(model_path, export_folder, "openvino", "bf16")


class TestOnnxInt8(EmbedderContract):
    capabilities = {"semantic"}

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, model_path, export_folder):
        return embedder(model_path, export_folder, "onnx", "int8")


@pytest.mark.parametrize(("runtime", "precision"), CHANGED)
def test_each_runtime_makes_the_vectors_of_pytorch_within_its_precision(model_path, export_folder, runtime,
                                                                          precision):
    reference = SentenceTransformerEmbedder(model_name=model_path)
    other = embedder(model_path, export_folder, runtime, precision)
    documents = runtimes.agreement(other.embed_documents(TEXTS), reference.embed_documents(TEXTS))
    query = runtimes.agreement(other.embed_query(TEXTS[0])[None], reference.embed_query(TEXTS[0])[None])
    if precision == "int8":
        assert 0.95 < documents < runtimes.AGREEMENT
    else:
        assert min(documents, query) >= runtimes.AGREEMENT
    assert np.allclose(np.linalg.norm(other.embed_documents(TEXTS), axis=1), 1, atol=1e-5)


def test_the_id_names_the_runtime_unless_it_is_pytorch_at_fp32(model_path, export_folder):
    plain = SentenceTransformerEmbedder(model_name=model_path)
    assert plain.id == f"sentence-transformers:{model_path}"
    ids = {embedder(model_path, export_folder, *variant, document_prompt="passage: ").id for variant in CHANGED}
    assert len(ids) == len(CHANGED)
    assert f"sentence-transformers:{model_path}|document_prompt='passage: '|runtime=openvino-bf16" in ids


def test_the_model_is_exported_once_and_a_shipped_onnx_file_is_used(model_path, export_folder, tmp_path):
    embedder(model_path, export_folder, "onnx", "int8").embed_query("export now")
    exported = list(Path(export_folder).glob("*/model*.onnx"))
    assert sorted(path.name for path in exported) == ["model.onnx", "model_int8.onnx"]
    written = {path: path.stat().st_mtime_ns for path in exported}
    for runtime, precision in [("onnx", "fp32"), ("onnx", "int8"), ("openvino", "bf16")]:
        _load_model(model_path, "cpu", False, None, runtime, precision, export_folder)  # a new process's load
    assert {path: path.stat().st_mtime_ns for path in exported} == written

    # A model directory that ships onnx/model.onnx (as hub models often do) is not exported again.
    shipped = tmp_path / "model"
    shutil.copytree(model_path, shipped)
    (shipped / "onnx").mkdir()
    shutil.copy(next(path for path in exported if path.name == "model.onnx"), shipped / "onnx" / "model.onnx")
    fresh_folder = tmp_path / "exports"
    vectors = embedder(str(shipped), str(fresh_folder), "openvino", "fp32").embed_documents(TEXTS)
    assert not fresh_folder.exists()
    assert runtimes.agreement(vectors, SentenceTransformerEmbedder(model_name=model_path).embed_documents(TEXTS)) \
        >= runtimes.AGREEMENT


def test_an_index_of_another_runtime_is_kept_when_their_vectors_agree(model_path, export_folder):
    store = MemoryVectorStore(location="runtimes-agree")
    try:
        plain = SentenceTransformerEmbedder(model_name=model_path)
        store.record_embedder(plain.id, plain.dimension)
        faster = embedder(model_path, export_folder, "openvino", "bf16")
        engine.check_embedder(store, faster, writing=True)
        assert faster.id == plain.id  # the index's id: its content hashes stay valid, nothing is embedded again
    finally:
        MemoryVectorStore.forget_all()


def test_an_index_of_another_runtime_is_rebuilt_when_their_vectors_differ(model_path, export_folder):
    store = MemoryVectorStore(location="runtimes-differ")
    try:
        plain = SentenceTransformerEmbedder(model_name=model_path)
        store.record_embedder(plain.id, plain.dimension)
        quantised = embedder(model_path, export_folder, "onnx", "int8")
        with pytest.raises(EmbedderMismatchError, match=r"runtime=onnx-int8.*build_search_index --rebuild"):
            engine.check_embedder(store, quantised, writing=True)
        # Nor is another model's index taken, however its runtime compares.
        other_model = "sentence-transformers:/srv/models/another|runtime=onnx-fp32"
        assert not embedder(model_path, export_folder, "onnx", "fp32").adopt_recorded_id(other_model)
    finally:
        MemoryVectorStore.forget_all()
