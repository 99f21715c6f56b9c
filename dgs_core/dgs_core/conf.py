"""``settings.GRAPH_SEARCH`` parsed once into typed, frozen configuration.

Parsing never raises: every problem is collected as a :class:`Problem` and reported by Django's
system checks (``dgs.E0xx`` / ``dgs.W0xx``). :func:`get_config` raises
:class:`~dgs_core.exceptions.ConfigurationError` when asked for a configuration that has errors.
The parsed value is cached and dropped when ``GRAPH_SEARCH`` changes (``override_settings``).
"""

import dataclasses
import difflib
import inspect
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import Signal, receiver

from dgs_core.exceptions import ConfigurationError, PluginError

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
#: Search modes: nearest vectors, the store's lexical engine, or both fused by reciprocal rank.
SEARCH_MODES = ("vector", "keyword", "hybrid")
EXPLAIN_MATCHES = ("semantic", "lexical", "off")
#: The least CONVERSATIONAL["MAX_CONVERSATION_BYTES"]: one turn with a long query and a few results.
MIN_CONVERSATION_BYTES = 4096

#: Backend classes of the older ``django_graph_search`` package: (subpackage, module, class) -> dgs plugin name.
_LEGACY_CLASSES = {
    ("backends", "chromadb", "ChromaDBBackend"): "chroma",
    ("backends", "faiss", "FaissBackend"): "faiss",
    ("backends", "qdrant", "QdrantBackend"): "qdrant",
    ("backends", "pgvector", "PgvectorBackend"): "pgvector",
    ("embeddings", "sentence_transformers", "SentenceTransformerBackend"): "sentence-transformers",
    ("embeddings", "openai_backend", "OpenAIEmbeddingBackend"): "openai",
    ("embeddings", "cohere_backend", "CohereEmbeddingBackend"): "cohere",
}
#: Their dotted paths -> dgs plugin names: as the package exported them (``...backends.FaissBackend``) and as it
#: defined them (``...backends.faiss.FaissBackend``).
LEGACY_BACKENDS = {
    path: name
    for (package, module, cls), name in _LEGACY_CLASSES.items()
    for path in (f"django_graph_search.{package}.{cls}", f"django_graph_search.{package}.{module}.{cls}")
}


@dataclass(frozen=True)
class Problem:
    """One configuration mistake; ``id`` is the system check id (``dgs.E003``)."""

    id: str
    msg: str
    hint: Optional[str] = None

    @property
    def is_error(self) -> bool:
        return ".E" in self.id


@dataclass(frozen=True)
class ModelConfig:
    """One entry of ``GRAPH_SEARCH["MODELS"]``."""

    label: str  # as configured, e.g. "shop.Product"
    fields: tuple[str, ...] = ()
    all_fields: bool = False  # fields == "__all__"
    follow_relations: bool = False
    relation_depth: int = 2
    weight_fields: dict[str, float] = field(default_factory=dict)
    skip_update_fields: tuple[str, ...] = ()
    filter_fields: tuple[str, ...] = ()
    search_queryset: Optional[str] = None
    max_related_items: int = 100

    @property
    def model_label(self) -> str:
        """Lower-case ``app_label.model``, the form hits and document ids use."""
        return self.label.lower()

    @property
    def model(self):
        from django.apps import apps

        if self.label.count(".") != 1:  # Django's own error would be a bare unpacking ValueError
            raise LookupError(f"GRAPH_SEARCH['MODELS'] names {self.label!r}, not 'app_label.ModelName'")
        return apps.get_model(self.label)


@dataclass(frozen=True)
class BackendConfig:
    """A ``BACKEND`` + options pair; ``backend`` is a plugin name or a dotted class path."""

    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    model_name: Optional[str] = None
    legacy_path: Optional[str] = None  # the old dotted path this was given as, if any


@dataclass(frozen=True)
class CacheConfig:
    backend: str = "file"
    options: dict[str, Any] = field(default_factory=dict)
    key_prefix: str = "dgs"
    ttl: int = 86400


#: Field metadata of a section's ``options``: the keys the section does not know itself, lower-cased, handed to
#: the backend it selects (whose constructor declares them; ``manage.py check`` reports those it does not take).
OTHER_KEYS = {"other_keys": True}
#: Field metadata of a configuration value that is no settings key.
NOT_A_SETTING = {"setting": False}


@dataclass(frozen=True)
class AsyncIndexingConfig:
    enabled: bool = False
    backend: str = "thread"
    thread_pool_size: int = 4
    # The outbox (dgs_core.indexing.outbox): automatic retries of a failed change, waiting RETRY_BACKOFF seconds,
    # doubling per attempt up to RETRY_BACKOFF_MAX; a worker holds the changes it took for LEASE_SECONDS.
    max_retries: int = 10
    retry_backoff: int = 5
    retry_backoff_max: int = 3600
    lease_seconds: int = 300
    # Keys of the selected transport itself (a task queue's name), passed to its constructor.
    options: dict[str, Any] = field(default_factory=dict, metadata=OTHER_KEYS)


@dataclass(frozen=True)
class ApiConfig:
    """The REST API's DRF classes (dotted paths); an empty list leaves that kind to REST_FRAMEWORK's defaults."""

    require_authentication: bool = False
    authentication_classes: list = field(default_factory=list)
    permission_classes: list = field(default_factory=list)
    throttle_classes: list = field(default_factory=list)
    throttle_rates: dict = field(
        default_factory=lambda: {"search": "60/minute", "search_authenticated": "300/minute"}
    )


@dataclass(frozen=True)
class SmartIndexingConfig:
    enabled: bool = False
    templates: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StreamingConfig:
    enabled: bool = False
    format: str = "ndjson"
    include_internal_events: bool = True


@dataclass(frozen=True)
class ConversationalConfig:
    enabled: bool = False
    memory_backend: str = "inmemory"
    memory_options: dict = field(default_factory=dict)
    max_history_items: int = 10
    allow_clarifications: bool = True
    # The JSON one conversation may occupy in its memory: older turns are dropped beyond it.
    max_conversation_bytes: int = 16384


@dataclass(frozen=True)
class HybridConfig:
    # "vector", "keyword" or "hybrid": the mode of a search that names none (see docs/search_quality.md).
    default_mode: str = "hybrid"
    rrf_k: int = 60
    weights: dict = field(default_factory=lambda: {"vector": 1.0, "keyword": 1.0})
    candidates: int = 50  # objects each leg contributes to the fusion (at least the page asked for)
    # Keyword and hybrid modes rank first the candidates whose field values the query names whole
    # (searching/phrases.py), when they cover at least this share of the query's words.
    field_match: bool = True
    field_match_min_coverage: float = 0.3


@dataclass(frozen=True)
class ChunkingConfig:
    enabled: bool = True
    max_tokens: int = 0  # 0: the embedder's window
    overlap_tokens: int = 32
    max_chunks: int = 64  # beyond this many chunks the rest of a document is not indexed (and reported)


@dataclass(frozen=True)
class GraphSearchConfig:
    models: tuple[ModelConfig, ...] = ()
    vector_store: BackendConfig = field(default_factory=lambda: BackendConfig("faiss", {"path": "var/dgs/faiss"}))
    embeddings: dict[str, BackendConfig] = field(
        default_factory=lambda: {"default": BackendConfig("sentence-transformers", {}, DEFAULT_EMBEDDING_MODEL)}
    )
    default_embedding: str = "default"
    default_results_limit: int = 20
    max_results_limit: int = 1000
    # similar/ costs a nearest-neighbour scan of `limit` (plus hidden rows) per request: a lower ceiling.
    max_similar_limit: int = 100
    max_query_length: int = 1024
    index_batch_size: int = 1000
    delta_indexing: bool = True
    cache: CacheConfig = field(default_factory=CacheConfig)
    auto_index: bool = True
    auto_index_non_blocking: bool = True
    auto_index_skip_update_fields: tuple[str, ...] = ("last_login",)
    async_indexing: AsyncIndexingConfig = field(default_factory=AsyncIndexingConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    admin_search_enabled: bool = True
    smart_indexing: SmartIndexingConfig = field(default_factory=SmartIndexingConfig)
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    conversational: ConversationalConfig = field(default_factory=ConversationalConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    # How a hit's `matched` is found: "semantic" (query words, else the closest value by meaning),
    # "lexical" (query words only, no embedding) or "off".
    explain_matches: str = "semantic"
    # The cosine similarity a value needs to explain a hit by meaning; None: the embedder's calibrated floor.
    explain_min_similarity: Optional[float] = None
    api_url_prefix: str = "api/search/"
    relation_depth_default: int = 2
    max_related_items: int = 100
    #: The sections plugins own (:func:`dgs_core.hookspecs.dgs_register_settings_sections`): key -> parsed value.
    sections: dict[str, Any] = field(default_factory=dict, metadata=NOT_A_SETTING)

    def section(self, key: str) -> Any:
        """The parsed ``GRAPH_SEARCH[key]`` of a plugin's section (its defaults when the settings leave it out),
        or ``None`` when this configuration was parsed without the plugin that registers it."""
        return self.sections.get(key)

    def with_section(self, key: str, value: Any) -> "GraphSearchConfig":
        """A copy of this configuration with the plugin section ``key`` replaced by ``value``."""
        return dataclasses.replace(self, sections={**self.sections, key: value})

    def model_config(self, label: str) -> Optional[ModelConfig]:
        """The entry for ``label`` (any case, ``app_label.Model``), or ``None``."""
        wanted = label.lower()
        return next((m for m in self.models if m.model_label == wanted), None)

    @property
    def embedding(self) -> BackendConfig:
        return self.embeddings[self.default_embedding]


# Top-level keys parsed by hand below; the rest are generic scalar or section keys.
_SECTIONS = {
    "CACHE": CacheConfig,
    "ASYNC_INDEXING": AsyncIndexingConfig,
    "API": ApiConfig,
    "SMART_INDEXING": SmartIndexingConfig,
    "STREAMING": StreamingConfig,
    "CONVERSATIONAL": ConversationalConfig,
    "HYBRID": HybridConfig,
    "CHUNKING": ChunkingConfig,
}
_CUSTOM = {"MODELS", "VECTOR_STORE", "EMBEDDINGS"}
# Keys the older package accepted that dgs reads no more; ignored without a warning.
_RETIRED = {
    "MAX_TEXT_LENGTH", "SEARCH_GRAPH", "INDEXER", "FOLLOWUP_GRAPH", "MIN_QUERY_LENGTH_FOR_AUTOSEARCH",
    "CELERY_TASK_PATH", "CELERY_DELETE_TASK_PATH",
}
#: Top-level keys that are settings of their own (lower-cased), besides the sections.
_TOP_LEVEL_FIELDS = {f.name for f in dataclasses.fields(GraphSearchConfig) if f.metadata.get("setting", True)}
_MODEL_KEYS = {
    "model", "fields", "follow_relations", "relation_depth", "weight_fields", "skip_update_fields",
    "filter_fields", "search_queryset", "max_related_items",
}


def did_you_mean(word: Any, candidates: Iterable[str]) -> Optional[str]:
    """"Did you mean 'VECTOR_STORE'?" for a misspelt ``word`` (case ignored), or ``None`` when no candidate is close."""
    by_case = {str(c).lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(str(word).lower(), by_case, n=1, cutoff=0.75)
    return f"Did you mean {by_case[close[0]]!r}?" if close else None


def _type_ok(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _type_name(default: Any) -> str:
    return {bool: "True or False", int: "an integer", float: "a number", str: "a string", dict: "a dict"}.get(
        type(default), "a list"
    )


def type_problem(where: str, value: Any, default: Any) -> Optional[Problem]:
    """``dgs.E002`` when ``value`` of the setting ``where`` is not of the type of its ``default`` (``None``:
    anything goes), or is a negative number; ``None`` when it is fine."""
    if default is None or default is inspect.Parameter.empty:
        return None
    if not _type_ok(value, default):
        return Problem("dgs.E002", f"{where} must be {_type_name(default)}, not {type(value).__name__}.",
                       f"Set {where} to {_type_name(default)} (default: {default!r}).")
    if isinstance(default, (int, float)) and not isinstance(default, bool) and value < 0:
        return Problem("dgs.E002", f"{where} must not be negative (got {value}).")
    return None


class _Parser:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def error(self, code: str, msg: str, hint: Optional[str] = None) -> None:
        self.problems.append(Problem(f"dgs.E{code}", msg, hint))

    def warn(self, code: str, msg: str, hint: Optional[str] = None) -> None:
        self.problems.append(Problem(f"dgs.W{code}", msg, hint))

    def scalars(self, cls: type, raw: dict, where: str, skip: set[str] = frozenset(),
                also: Iterable[str] = ()) -> dict[str, Any]:
        """Typed keyword arguments for ``cls`` from the UPPER_CASE keys of ``raw``; the keys it does not know go
        to its :data:`OTHER_KEYS` field, or are warned about (with the closest of its keys and ``also``)."""
        defaults = cls()
        kwargs: dict[str, Any] = {}
        fields = [f for f in dataclasses.fields(cls) if f.metadata.get("setting", True)]
        known = {f.name.upper() for f in fields}
        other_keys = next((f.name for f in fields if f.metadata.get("other_keys")), None)
        for key, value in raw.items():
            if key in skip:
                continue
            if key not in known or key.lower() == other_keys:
                if other_keys:
                    kwargs.setdefault(other_keys, {})[str(key).lower()] = value
                else:
                    self.warn("001", f"{where}[{key!r}] is not a dgs setting and is ignored.",
                              did_you_mean(key, known | set(also))
                              or f"Check the spelling; known keys: {', '.join(sorted(known))}.")
                continue
            name = key.lower()
            default = getattr(defaults, name)
            if dataclasses.is_dataclass(default):
                continue
            problem = type_problem(f"{where}[{key!r}]", value, default)
            if problem:
                self.problems.append(problem)
                continue
            kwargs[name] = tuple(value) if isinstance(default, tuple) else value
        return kwargs

    def section(self, cls: type, raw: Any, where: str) -> Any:
        """``raw`` parsed into the frozen dataclass ``cls``: typed scalars; a field whose default is a
        :class:`BackendConfig` takes a ``{"BACKEND": ..., "OPTIONS": ...}`` dict, one whose default is another
        dataclass a nested section."""
        if not isinstance(raw, dict):
            self.error("002", f"{where} must be a dict, not {type(raw).__name__}.")
            return cls()
        defaults = cls()
        nested = {f.name.upper(): getattr(defaults, f.name) for f in dataclasses.fields(cls)
                  if dataclasses.is_dataclass(getattr(defaults, f.name))}
        kwargs = self.scalars(cls, raw, where, skip=set(nested))
        for key, default in nested.items():
            if key not in raw:
                continue
            if isinstance(default, BackendConfig):
                value = self.backend(raw[key], f"{where}[{key!r}]")
            else:
                value = self.section(type(default), raw[key], f"{where}[{key!r}]")
            if value is not None:
                kwargs[key.lower()] = value
        return cls(**kwargs)

    def plugin_sections(self) -> dict[str, type]:
        """Settings sections of the installed plugins: key -> dataclass (none while the plugins conflict)."""
        try:
            registered = _plugins.sections()
        except PluginError:  # reported by `manage.py check` as dgs.E008
            return {}
        sections = {}
        for key, registration in registered.items():
            if key in _SECTIONS or key in _CUSTOM or key.lower() in _TOP_LEVEL_FIELDS:
                self.error("008", f"The plugin {registration.plugin!r} ({registration.distribution}) registers the "
                           f"settings section GRAPH_SEARCH[{key!r}], which is a setting of dgs-core.",
                           "Uninstall the plugin, or block it with DGS_DISABLED_PLUGINS.")
            else:
                sections[key] = registration.cls
        return sections

    def missing_plugin_section(self, key: str, value: Any) -> bool:
        """Report ``GRAPH_SEARCH[key]`` as the section of a dgs plugin that is not installed; ``False`` when no
        dgs distribution is named after ``key``. An error when the section switches itself on."""
        hint = _plugins.install_hint(key)
        if hint is None:
            return False
        enabled = isinstance(value, dict) and value.get("ENABLED") is True
        report = self.error if enabled else self.warn
        report("006", f"GRAPH_SEARCH[{key!r}] is set{' and enabled' if enabled else ''}, but no installed plugin "
               "reads it, so it is ignored.", f"It is the section of the dgs plugin of that name. Run: {hint}")
        return True

    def backend(self, raw: Any, where: str, default_model: Optional[str] = None) -> Optional[BackendConfig]:
        if not isinstance(raw, dict):
            self.error("002", f"{where} must be a dict with a 'BACKEND' key, not {type(raw).__name__}.")
            return None
        backend = raw.get("BACKEND")
        if not isinstance(backend, str) or not backend:
            self.error("002", f"{where}['BACKEND'] must be a plugin name or a dotted class path.",
                       "For example 'faiss' or 'sentence-transformers'; `manage.py dgs_plugins` lists names.")
            return None
        options = raw.get("OPTIONS", {})
        if not isinstance(options, dict):
            self.error("002", f"{where}['OPTIONS'] must be a dict, not {type(options).__name__}.")
            options = {}
        # Profile keys besides BACKEND/MODEL_NAME/OPTIONS (e.g. DIMENSIONS, BASE_URL) are options too.
        extra = {k: v for k, v in raw.items() if k not in {"BACKEND", "OPTIONS", "MODEL_NAME"}}
        options = {str(k).lower(): v for k, v in {**extra, **options}.items()}
        legacy = None
        if backend in LEGACY_BACKENDS:
            legacy, backend = backend, LEGACY_BACKENDS[backend]
            self.warn("002", f"{where}['BACKEND'] uses the old django_graph_search path {legacy!r}.",
                      f"It works as an alias; replace it with {backend!r}.")
            warnings.warn(f"{where}['BACKEND'] = {legacy!r} is deprecated; use {backend!r}.",
                          DeprecationWarning, stacklevel=2)
        # The default model belongs to the default backend; other embedders choose their own.
        model_name = raw.get("MODEL_NAME", default_model if backend == "sentence-transformers" else None)
        if model_name is not None and not isinstance(model_name, str):
            self.error("002", f"{where}['MODEL_NAME'] must be a string.")
            model_name = default_model
        return BackendConfig(backend, options, model_name, legacy)

    def model_entry(self, index: int, raw: Any) -> Optional[ModelConfig]:
        where = f"GRAPH_SEARCH['MODELS'][{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("model"), str):
            self.error("003", f"{where} must be a dict with a 'model' key such as 'shop.Product'.")
            return None
        label = raw["model"]
        for key in raw:
            if key not in _MODEL_KEYS:
                self.warn("001", f"{where}[{key!r}] is not a model option and is ignored.",
                          did_you_mean(key, _MODEL_KEYS) or f"Known model options: {', '.join(sorted(_MODEL_KEYS))}.")
        fields = raw.get("fields", "__all__")
        all_fields = fields == "__all__"
        if all_fields:
            fields = ()
        elif isinstance(fields, str):
            fields = (fields,)
        elif not (isinstance(fields, (list, tuple)) and all(isinstance(f, str) for f in fields)):
            self.error("002", f"{where}['fields'] for {label} must be '__all__' or a list of field paths.")
            return None
        weights = raw.get("weight_fields", {})
        if not isinstance(weights, dict) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights.values()
        ):
            self.error("002", f"{where}['weight_fields'] for {label} must map field paths to numbers >= 0.")
            weights = {}
        kwargs: dict[str, Any] = {"fields": tuple(fields), "all_fields": all_fields,
                                  "weight_fields": {str(k): float(v) for k, v in weights.items()}}
        typed = {
            "follow_relations": (bool, "True or False"),
            "relation_depth": (int, "an integer from 0 to 5"),
            "max_related_items": (int, "a positive integer"),
            "search_queryset": (str, "a dotted path to a callable (request, queryset) -> queryset"),
        }
        for key, (kind, what) in typed.items():
            if key not in raw:
                continue
            value = raw[key]
            bad_int = kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
            if not isinstance(value, kind) or bad_int:
                self.error("002", f"{where}[{key!r}] for {label} must be {what}.")
            else:
                kwargs[key] = value
        if kwargs.get("relation_depth", 0) > 5:
            self.error("002", f"{where}['relation_depth'] for {label} is {kwargs['relation_depth']}; use 0 to 5.")
            kwargs.pop("relation_depth")
        kwargs.setdefault("relation_depth", self.raw.get("RELATION_DEPTH_DEFAULT", 2))
        kwargs.setdefault("max_related_items", self.raw.get("MAX_RELATED_ITEMS", 100))
        for key in ("skip_update_fields", "filter_fields"):
            value = raw.get(key, ())
            if not (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
                self.error("002", f"{where}[{key!r}] for {label} must be a list of field names.")
            else:
                kwargs[key] = tuple(value)
        return ModelConfig(label=label, **kwargs)

    def search_quality(self, config: GraphSearchConfig) -> None:
        """Values of HYBRID, CHUNKING, CONVERSATIONAL, the limits, EXPLAIN_MATCHES and EXPLAIN_MIN_SIMILARITY that
        their types alone do not rule out."""
        hybrid = config.hybrid
        if hybrid.default_mode not in SEARCH_MODES:
            self.error("002", f"GRAPH_SEARCH['HYBRID']['DEFAULT_MODE'] is {hybrid.default_mode!r}.",
                       f"Use one of: {', '.join(SEARCH_MODES)}.")
        weights = hybrid.weights
        if not (set(weights) <= {"vector", "keyword"} and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights.values())
                and any(weights.get(leg, 1.0) > 0 for leg in ("vector", "keyword"))):
            self.error("002", f"GRAPH_SEARCH['HYBRID']['WEIGHTS'] is {weights!r}.",
                       "Map 'vector' and 'keyword' to numbers >= 0, not both 0, e.g. {'vector': 1.0, 'keyword': 0.5}.")
        if hybrid.rrf_k < 1 or hybrid.candidates < 1:
            self.error("002", "GRAPH_SEARCH['HYBRID']['RRF_K'] and ['CANDIDATES'] must be at least 1.")
        coverage = hybrid.field_match_min_coverage
        if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0 < coverage <= 1:
            self.error("002", f"GRAPH_SEARCH['HYBRID']['FIELD_MATCH_MIN_COVERAGE'] is {coverage!r}.",
                       "Use a number above 0 and at most 1 (default 0.3); FIELD_MATCH: False turns field matching off.")
        chunking = config.chunking
        if chunking.max_chunks < 1:
            self.error("002", "GRAPH_SEARCH['CHUNKING']['MAX_CHUNKS'] must be at least 1.")
        if chunking.max_tokens and chunking.overlap_tokens >= chunking.max_tokens:
            self.error("002", f"GRAPH_SEARCH['CHUNKING']['OVERLAP_TOKENS'] ({chunking.overlap_tokens}) must be "
                       f"smaller than MAX_TOKENS ({chunking.max_tokens}).", "Use about a tenth of MAX_TOKENS.")
        if config.explain_matches not in EXPLAIN_MATCHES:
            self.error("002", f"GRAPH_SEARCH['EXPLAIN_MATCHES'] is {config.explain_matches!r}.",
                       f"Use one of: {', '.join(EXPLAIN_MATCHES)}.")
        if config.max_results_limit < 1 or config.max_similar_limit < 1:
            self.error("002", "GRAPH_SEARCH['MAX_RESULTS_LIMIT'] and ['MAX_SIMILAR_LIMIT'] must be at least 1.")
        if config.conversational.max_conversation_bytes < MIN_CONVERSATION_BYTES:
            self.error("002", "GRAPH_SEARCH['CONVERSATIONAL']['MAX_CONVERSATION_BYTES'] is "
                       f"{config.conversational.max_conversation_bytes}.",
                       f"Use at least {MIN_CONVERSATION_BYTES} (a turn with the longest query fits), e.g. 16384.")
        floor = config.explain_min_similarity
        is_number = isinstance(floor, (int, float)) and not isinstance(floor, bool)
        if floor is not None and not (is_number and 0 <= floor <= 1):
            self.error("002", f"GRAPH_SEARCH['EXPLAIN_MIN_SIMILARITY'] is {floor!r}.",
                       "Use a cosine similarity from 0 to 1 (e.g. 0.5), or None for the embedder's calibrated floor; "
                       "bench/match_floor.py measures where it belongs.")

    def parse(self) -> GraphSearchConfig:
        raw = self.raw
        if not isinstance(raw, dict):
            self.error("001", f"settings.GRAPH_SEARCH must be a dict, not {type(raw).__name__}.")
            return GraphSearchConfig()
        plugin_sections = self.plugin_sections()
        unknown = {key: value for key, value in raw.items() if key.lower() not in _TOP_LEVEL_FIELDS
                   and key not in _SECTIONS and key not in _CUSTOM and key not in plugin_sections}
        skip = _CUSTOM | set(_SECTIONS) | set(plugin_sections) | _RETIRED
        skip |= {key for key, value in unknown.items() if self.missing_plugin_section(key, value)}
        kwargs = self.scalars(GraphSearchConfig, raw, "GRAPH_SEARCH", skip=skip, also=plugin_sections)
        for key, cls in _SECTIONS.items():
            kwargs[key.lower()] = self.section(cls, raw.get(key, {}), f"GRAPH_SEARCH[{key!r}]")
        kwargs["sections"] = {key: self.section(cls, raw.get(key, {}), f"GRAPH_SEARCH[{key!r}]")
                              for key, cls in plugin_sections.items()}

        models = raw.get("MODELS", [])
        if not isinstance(models, (list, tuple)):
            self.error("003", "GRAPH_SEARCH['MODELS'] must be a list of model entries.")
            models = []
        parsed = [m for i, entry in enumerate(models) if (m := self.model_entry(i, entry))]
        seen: set[str] = set()
        for m in parsed:
            if m.model_label in seen:
                self.error("003", f"GRAPH_SEARCH['MODELS'] lists {m.label} twice.", "Merge the two entries.")
            seen.add(m.model_label)
        kwargs["models"] = tuple(parsed)

        if "VECTOR_STORE" in raw:
            store = self.backend(raw["VECTOR_STORE"], "GRAPH_SEARCH['VECTOR_STORE']")
            if store and "collection" in store.options:
                self.error("002", "GRAPH_SEARCH['VECTOR_STORE']['OPTIONS']['COLLECTION'] is reserved for the versioned "
                           "collections of zero-downtime rebuilds.",
                           "Name the base collection with the store's own option for it ('COLLECTION_NAME' or 'TABLE', "
                           "see its plugin's README).")
            elif store:
                kwargs["vector_store"] = store
        if "EMBEDDINGS" in raw:
            profiles = raw["EMBEDDINGS"]
            if not isinstance(profiles, dict) or not profiles:
                self.error("002", "GRAPH_SEARCH['EMBEDDINGS'] must be a non-empty dict of named profiles.")
            else:
                kwargs["embeddings"] = {
                    name: cfg for name, value in profiles.items()
                    if (cfg := self.backend(value, f"GRAPH_SEARCH['EMBEDDINGS'][{name!r}]", DEFAULT_EMBEDDING_MODEL))
                }
        config = GraphSearchConfig(**kwargs)
        self.search_quality(config)
        if config.default_embedding not in config.embeddings and "EMBEDDINGS" in raw:
            self.error("004", f"GRAPH_SEARCH['DEFAULT_EMBEDDING'] is {config.default_embedding!r}, "
                       "which is not a profile in GRAPH_SEARCH['EMBEDDINGS'].",
                       f"Use one of: {', '.join(sorted(config.embeddings))}.")
        return config


@dataclass(frozen=True)
class InstalledPlugins:
    """What the parser needs to know of the installed plugins.

    :param sections: ``{key: registration}`` of the registered settings sections (each with ``cls``, ``plugin``
        and ``distribution``); raises :class:`~dgs_core.exceptions.PluginError` while plugins conflict.
    :param install_hint: the command that installs the dgs plugin named after a key, or ``None``.
    """

    sections: Callable[[], Mapping[str, Any]] = dict
    install_hint: Callable[[str], Optional[str]] = lambda key: None


#: Until :func:`connect_plugins`, no plugin is known.
_plugins = InstalledPlugins()


def connect_plugins(plugins: InstalledPlugins) -> None:
    """Let the parser see the installed plugins; :mod:`dgs_core.apps` connects the plugin registry when Django is
    ready. (conf does not import the registry: the hook specifications name conf's types.)"""
    global _plugins
    _plugins = plugins
    reset_config()


def parse_config(raw: Any) -> tuple[GraphSearchConfig, list[Problem]]:
    """Parse a ``GRAPH_SEARCH`` value; returns the configuration and every problem found."""
    parser = _Parser(raw)
    config = parser.parse()
    return config, parser.problems


_cache: dict[str, Any] = {}
#: Sent when the cached configuration is dropped: whatever was built from it (the engine) rebuilds.
config_reset = Signal()
_cache_lock = threading.Lock()


def get_config_and_problems() -> tuple[GraphSearchConfig, list[Problem]]:
    with _cache_lock:
        if "parsed" not in _cache:
            _cache["parsed"] = parse_config(getattr(settings, "GRAPH_SEARCH", {}))
        return _cache["parsed"]


def get_config() -> GraphSearchConfig:
    """The parsed ``GRAPH_SEARCH``; raises :class:`ConfigurationError` listing its errors."""
    config, problems = get_config_and_problems()
    errors = [p for p in problems if p.is_error]
    if errors:
        details = "; ".join(f"{p.id}: {p.msg}" for p in errors)
        raise ConfigurationError(f"GRAPH_SEARCH is invalid ({details}). Run `manage.py check` for hints.")
    return config


def transport_name(config: GraphSearchConfig) -> str:
    """The index transport ``GRAPH_SEARCH`` selects: ``ASYNC_INDEXING["BACKEND"]`` when enabled, otherwise
    ``thread`` when ``AUTO_INDEX_NON_BLOCKING`` (a save never waits for embedding), else ``sync``."""
    if config.async_indexing.enabled:
        return config.async_indexing.backend
    return "thread" if config.auto_index_non_blocking else "sync"


def reset_config() -> None:
    """Drop the cached configuration and every component built from it."""
    with _cache_lock:
        _cache.clear()
    config_reset.send(sender=GraphSearchConfig)


@receiver(setting_changed)
def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "GRAPH_SEARCH":
        reset_config()
