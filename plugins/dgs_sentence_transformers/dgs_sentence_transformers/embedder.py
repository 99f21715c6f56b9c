"""The ``sentence-transformers`` embedder: any sentence-embedding model, from the Hugging Face hub or a directory.

Settings (``OPTIONS`` keys are case-insensitive; every one is optional)::

    "EMBEDDINGS": {"default": {
        "BACKEND": "sentence-transformers",
        "MODEL_NAME": "sentence-transformers/all-MiniLM-L6-v2",  # hub id, or a local model directory
        "OPTIONS": {
            "DEVICE": "cpu",              # "cuda", "cuda:1", "mps", or "auto" for the best available
            "BATCH_SIZE": 64,
            "NORMALIZE": True,            # unit-length vectors
            "QUERY_PROMPT": "query: ",    # prefixes, e.g. for e5 models ("passage: " for documents)
            "DOCUMENT_PROMPT": "passage: ",
            # or QUERY_PROMPT_NAME / DOCUMENT_PROMPT_NAME: names of prompts the model's config defines
            "TRUST_REMOTE_CODE": False,   # allow models that ship their own Python code
            "CACHE_FOLDER": None,         # where hub downloads go (default: the Hugging Face cache)
            "RUNTIME": "torch",           # or "onnx", "openvino" (extras of the same names)
            "PRECISION": "fp32",          # "bf16" on torch/openvino, "int8" on onnx
            "EXPORT_FOLDER": None,        # where the ONNX export is kept (default: <HF_HOME>/dgs-exports)
        },
    }}

The model is loaded on first use, once per process, and shared by every embedder instance with the
same model and loading options; sentence-transformers (and torch) are imported only then. Another
runtime than PyTorch runs the model's transformer (see :mod:`dgs_sentence_transformers.runtimes`); the
embedder's id names it unless it is PyTorch at fp32, and an index built by another runtime is kept when the
two runtimes' vectors agree (:meth:`SentenceTransformerEmbedder.adopt_recorded_id`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from dgs_core.base import Embedder
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, PluginError
from dgs_core.options import option
from dgs_sentence_transformers import runtimes

DEFAULT_MODEL_NAME = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"

DEVICE = re.compile(r"^(auto|cpu|mps|(cuda|xpu|npu|hpu)(:\d+)?)$")


@dataclass
class _LoadedModel:
    model: Any  # a sentence_transformers.SentenceTransformer
    # Serialises calls into the model: a Hugging Face fast tokenizer raises "Already borrowed" when
    # threads use it at once with different truncation settings (encoding vs. counting tokens).
    lock: threading.Lock


_models: dict[tuple[Any, ...], _LoadedModel] = {}
_models_lock = threading.Lock()


def _shared_model(key: tuple[Any, ...]) -> _LoadedModel:
    """The process-wide model for ``key`` = (model_name, device, trust_remote_code, cache_folder, runtime,
    precision, export_folder)."""
    loaded = _models.get(key)
    if loaded is None:
        with _models_lock:
            loaded = _models.get(key)
            if loaded is None:
                loaded = _models[key] = _LoadedModel(_load_model(*key), threading.Lock())
    return loaded


def _load_model(model_name: str, device: str, trust_remote_code: bool, cache_folder: Optional[str],
                runtime: str = "torch", precision: str = "fp32", export_folder: Optional[str] = None) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise PluginError(
            f"The 'sentence-transformers' embedder cannot import sentence-transformers ({exc}). "
            'Run: pip install "dgs-core[sentence-transformers]"'
        ) from exc
    try:
        model = SentenceTransformer(
            os.path.expanduser(model_name),
            # ONNX Runtime and OpenVINO run on the CPU ("auto" may be a GPU): so do the tensors handed to them.
            device="cpu" if runtime != "torch" else None if device == "auto" else device,
            trust_remote_code=trust_remote_code,
            cache_folder=cache_folder,
        )
    except Exception as exc:
        raise BackendUnavailable(
            f"MODEL_NAME {model_name!r} could not be loaded by sentence-transformers "
            f"({type(exc).__name__}: {exc}). A Hugging Face hub id is downloaded on first use: give this process "
            "network access to huggingface.co (and unset HF_HUB_OFFLINE), or set MODEL_NAME to a local directory "
            "holding the model (e.g. one written by SentenceTransformer(...).save(path))."
        ) from exc
    runtimes.run_on(model, runtime, precision, export_folder, model_name)
    return model


def _looks_like_path(model_name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a separator is meant as a directory.
    return os.path.isabs(model_name) or model_name.startswith((".", "~")) or "\\" in model_name or (
        model_name.count("/") > 1
    )


class SentenceTransformerEmbedder(Embedder):
    """Embeds with a ``sentence_transformers.SentenceTransformer`` model; see the module docstring for options."""

    registered_name = "sentence-transformers"
    #: all-MiniLM-L6-v2 on the Chinook demo (bench/match_floor.py): the values closest to made-up queries reach
    #: 0.34 (median) to 0.57, so at 0.5 one such hit in a hundred gets a reason while judged queries keep theirs.
    #: Other models spread similarities differently: measure, then set EXPLAIN_MIN_SIMILARITY.
    match_floor = 0.5

    @dataclass(frozen=True)
    class Options(Embedder.Options):
        model_name: Optional[str] = option(DEFAULT_MODEL_NAME, listed=False, help="a hub id or a model directory")
        device: str = option("cpu", help="'cpu', 'cuda', 'cuda:1', 'mps', or 'auto' for the best available")
        batch_size: int = option(64, positive=True, example=64, help="texts per forward pass")
        normalize: bool = option(True, help="unit-length vectors")
        query_prompt: Optional[str] = option(None, help="prefix of queries, e.g. 'query: '")
        document_prompt: Optional[str] = option(None, help="prefix of documents, e.g. 'passage: '")
        query_prompt_name: Optional[str] = option(None, help="name of a prompt of the model's configuration")
        document_prompt_name: Optional[str] = option(None, help="name of a prompt of the model's configuration")
        trust_remote_code: bool = option(False, help="allow models that ship their own Python code")
        cache_folder: Optional[Union[str, os.PathLike]] = option(None, help="where hub downloads go")
        runtime: str = option("torch", help="'torch', 'onnx' or 'openvino': what runs the model")
        precision: str = option("fp32", help="'fp32'; 'bf16' on torch and openvino; 'int8' on onnx")
        export_folder: Optional[Union[str, os.PathLike]] = option(
            None, help="where the model exported for onnx/openvino is kept (default: <HF_HOME>/dgs-exports)")

        def __post_init__(self) -> None:
            model_name = self.model_name
            if model_name and _looks_like_path(model_name) and not os.path.isdir(os.path.expanduser(model_name)):
                raise ValueError(
                    f"MODEL_NAME {model_name!r} looks like a local path, but no directory exists there "
                    f"(relative paths start from {os.getcwd()!r}). Fix the path to the model directory, or use a "
                    "Hugging Face hub id such as 'sentence-transformers/all-MiniLM-L6-v2'."
                )
            if not DEVICE.match(self.device):
                raise ValueError(f"{{device}} is {self.device!r}, which is not a device name; use 'cpu', 'cuda', "
                                 "'cuda:1', 'mps', or 'auto' for the best available.")
            problem = runtimes.check(self.runtime, self.precision)
            if problem:
                raise ValueError(problem)
            if self.runtime != "torch" and self.device not in ("cpu", "auto"):
                raise ValueError(f"{{runtime}} {self.runtime!r} runs on the CPU, but {{device}} is {self.device!r}; "
                                 "use RUNTIME 'torch' on an accelerator.")
            for kind in ("query", "document"):
                if getattr(self, f"{kind}_prompt") is not None and getattr(self, f"{kind}_prompt_name") is not None:
                    raise ValueError(
                        f"OPTIONS sets both {kind.upper()}_PROMPT and {kind.upper()}_PROMPT_NAME; keep one "
                        "(the prompt text, or the name of a prompt defined in the model's configuration)."
                    )

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        settings = self.options
        self.device: str = settings.device
        self.batch_size: int = settings.batch_size
        self.normalize: bool = settings.normalize
        self.query_prompt: Optional[str] = settings.query_prompt
        self.document_prompt: Optional[str] = settings.document_prompt
        self.query_prompt_name: Optional[str] = settings.query_prompt_name
        self.document_prompt_name: Optional[str] = settings.document_prompt_name
        self.runtime: str = settings.runtime
        self.precision: str = settings.precision
        folders = [None if folder is None else os.fspath(folder)
                   for folder in (settings.cache_folder, settings.export_folder)]
        self._model_key = (self.model_name, self.device, settings.trust_remote_code, folders[0],
                           self.runtime, self.precision, folders[1])
        #: The id of an index built by another runtime whose vectors agree with this one's (see adopt_recorded_id).
        self._adopted_id: Optional[str] = None
        self._agreement: dict[str, bool] = {}  # measured once per recorded id
        self._loaded: Optional[_LoadedModel] = None
        self._dimension: Optional[int] = None

    def _model(self) -> _LoadedModel:
        if self._loaded is None:
            loaded = _shared_model(self._model_key)
            for key in ("query_prompt_name", "document_prompt_name"):
                name = getattr(self, key)
                if name is not None and name not in loaded.model.prompts:
                    raise ConfigurationError(
                        f"OPTIONS['{key.upper()}'] is {name!r}, but the model {self.model_name!r} defines the "
                        f"prompts {sorted(loaded.model.prompts)}; use one of them, or give the text as "
                        f"{key.upper().removesuffix('_NAME')}."
                    )
            self._loaded = loaded
        return self._loaded

    @property
    def id(self) -> str:
        """Plugin and model name, plus the document prompt when one is set (it changes document vectors) and
        the runtime unless it is PyTorch at fp32; or the id of an index whose vectors agree (adopt_recorded_id)."""
        return self._adopted_id or self._own_id(self.runtime, self.precision)

    def _own_id(self, runtime: str, precision: str) -> str:
        model_id = super().id
        if self.document_prompt is not None:
            model_id = f"{model_id}|document_prompt={self.document_prompt!r}"
        elif self.document_prompt_name is not None:
            model_id = f"{model_id}|document_prompt_name={self.document_prompt_name!r}"
        run = runtimes.label(runtime, precision)
        return f"{model_id}|runtime={run}" if run else model_id

    def adopt_recorded_id(self, recorded_id: str) -> bool:
        """Take ``recorded_id`` as this embedder's id when it names the same model and prompt run by another
        runtime whose vectors agree with this one's: the lowest cosine similarity between the two runtimes'
        vectors of :data:`~dgs_sentence_transformers.runtimes.PROBE_TEXTS` is at least
        :data:`~dgs_sentence_transformers.runtimes.AGREEMENT`. Measuring loads the other runtime's model
        once, for as long as it takes."""
        if recorded_id not in self._agreement:
            self._agreement[recorded_id] = any(
                recorded_id == self._own_id(runtime, precision) and self._agrees_with(runtime, precision)
                for runtime, precisions in runtimes.PRECISIONS.items() for precision in precisions
                if (runtime, precision) != (self.runtime, self.precision))
        if self._agreement[recorded_id]:
            self._adopted_id = recorded_id
        return self._agreement[recorded_id]

    def _agrees_with(self, runtime: str, precision: str) -> bool:
        other = _load_model(*self._model_key[:4], runtime, precision, self._model_key[6])
        texts = list(runtimes.PROBE_TEXTS)
        theirs = other.encode(texts, prompt=self.document_prompt, prompt_name=self.document_prompt_name,
                              batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        ours = self._encode(texts, self.document_prompt, self.document_prompt_name)
        return runtimes.agreement(ours, theirs) >= runtimes.AGREEMENT

    @property
    def dimension(self) -> int:
        """The model's output width (loads the model)."""
        if self._dimension is None:
            model = self._model().model
            # get_embedding_dimension is the sentence-transformers >= 5 name of the older method.
            get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dimension = get_dimension() or self._encode(["dimension probe"], None, None).shape[1]
        return int(self._dimension)

    @property
    def max_input_tokens(self) -> Optional[int]:  # type: ignore[override]  # per model, so not a class attribute
        """The model's ``max_seq_length`` (loads the model); longer inputs are truncated."""
        length = self._model().model.max_seq_length
        return int(length) if length else None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 ``(len(texts), dimension)``, with the document prompt applied."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts, self.document_prompt, self.document_prompt_name)

    def embed_query(self, text: str) -> np.ndarray:
        """Float32 ``(dimension,)``, with the query prompt applied."""
        return self._encode([text], self.query_prompt, self.query_prompt_name)[0]

    def _encode(self, texts: list[str], prompt: Optional[str], prompt_name: Optional[str]) -> np.ndarray:
        loaded = self._model()
        with loaded.lock:
            vectors = loaded.model.encode(
                texts,
                prompt=prompt,
                prompt_name=prompt_name,
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens the model reads for ``text`` as a document: prompt and special tokens included, untruncated.

        Comparable with :attr:`max_input_tokens`, which counts the same way.
        """
        loaded = self._model()
        tokenizer = getattr(loaded.model, "tokenizer", None)
        if tokenizer is None:
            return None
        prefix = self.document_prompt
        if prefix is None:
            prompt_name = self.document_prompt_name or getattr(loaded.model, "default_prompt_name", None)
            prefix = loaded.model.prompts.get(prompt_name, "") if prompt_name else ""
        with loaded.lock:
            encoded = tokenizer(prefix + text, add_special_tokens=True, truncation=False, verbose=False)
        return len(encoded["input_ids"])

    def token_offsets(self, text: str) -> Optional[list[tuple[int, int]]]:
        """Character spans of ``text``'s tokens (no prompt or special tokens), from a fast tokenizer's offset
        mapping; ``None`` with a slow tokenizer, which has none (core then splits on words)."""
        loaded = self._model()
        tokenizer = getattr(loaded.model, "tokenizer", None)
        if tokenizer is None or not getattr(tokenizer, "is_fast", False):
            return None
        with loaded.lock:
            encoded = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False,
                                return_offsets_mapping=True)
        return [(int(start), int(end)) for start, end in encoded["offset_mapping"] if end > start]
