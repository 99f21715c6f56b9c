"""The dgs hook specifications: every way a plugin can extend dgs.

A plugin is a module (or object) with functions marked ``@dgs_core.hookimpl`` whose names and
arguments match the specs below; a distribution exposes it in the ``dgs`` entry point group::

    [project.entry-points.dgs]
    myplugin = "myplugin.plugin"

Two shapes of hook exist:

* **registration hooks** (``dgs_register_*``) receive a ``register(name, cls)`` callback and call it
  once per backend class they provide. ``cls`` may also be the class's dotted path
  (``"myplugin.store.MyStore"``), imported only when the name is selected, so registering never
  imports an engine. Every registered name must be unique across installed
  plugins; a name claimed twice is an error that names both distributions.
* **override hooks** are ``firstresult``: the first implementation that returns something other
  than ``None`` wins. Core registers its own default with ``trylast=True``, so a plugin's
  implementation is consulted first and may return ``None`` to fall back.

This module's docstrings are the reference documentation; ``docs/plugin_hooks.md`` mirrors them and a
test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

import pluggy

if TYPE_CHECKING:
    from django.db import models

    from dgs_core.conf import GraphSearchConfig, ModelConfig, Problem
    from dgs_core.documents import Section
    from dgs_core.searching.pipeline import RerankedSearch, SearchPipeline

hookspec = pluggy.HookspecMarker("dgs")

#: The callback handed to every registration hook: ``register(name, cls)``.
Register = Callable[[str, "type | str"], None]


# -------------------------------------------------------------------------------------------------
# Registration: backends selectable by name in GRAPH_SEARCH
# -------------------------------------------------------------------------------------------------


@hookspec
def dgs_register_embedders(register: Register) -> None:
    """Register embedder classes, selectable as ``EMBEDDINGS[<profile>]["BACKEND"]``.

    :param register: call ``register("my-embedder", MyEmbedder)`` for each class. The class
        subclasses :class:`dgs_core.base.Embedder` and is constructed with
        ``model_name=`` and the profile's lower-cased ``OPTIONS``.
    """


@hookspec
def dgs_register_vector_stores(register: Register) -> None:
    """Register vector store classes, selectable as ``VECTOR_STORE["BACKEND"]``.

    :param register: call ``register("my-store", MyStore)`` for each class. The class subclasses
        :class:`dgs_core.base.VectorStore` and is constructed with the lower-cased ``OPTIONS``.
    """


@hookspec
def dgs_register_rerankers(register: Register) -> None:
    """Register reranker classes (second-stage scoring of search candidates).

    :param register: call ``register("my-reranker", MyReranker)``; the class subclasses
        :class:`dgs_core.base.Reranker`.
    """


@hookspec
def dgs_register_memories(register: Register) -> None:
    """Register conversation memory classes, selectable as ``CONVERSATIONAL["MEMORY_BACKEND"]``.

    :param register: call ``register("my-memory", MyMemory)``; the class subclasses
        :class:`dgs_core.base.ConversationMemory`.
    """


@hookspec
def dgs_register_transports(register: Register) -> None:
    """Register index transports, selectable as ``ASYNC_INDEXING["BACKEND"]``.

    A transport decides where and when index/delete work runs (in the request, in a thread, on a
    task queue).

    :param register: call ``register("my-transport", MyTransport)``; the class subclasses
        :class:`dgs_core.base.Transport`.
    """


@hookspec
def dgs_register_stream_formats(register: Register) -> None:
    """Register streaming response formats, selectable as ``STREAMING["FORMAT"]``.

    :param register: call ``register("ndjson", NdjsonFormat)``; the class subclasses
        :class:`dgs_core.base.StreamFormat`.
    """


@hookspec
def dgs_register_settings_sections(register: Register) -> None:
    """Register the top-level ``GRAPH_SEARCH`` sections this plugin reads; core parses and checks them.

    Core parses a registered section like its own: every UPPER_CASE key is the field of the same name in
    lower case, typed by its default (``True``/``False``, an integer, a string, a list, a dict; ``None``
    accepts anything); a wrong type is ``dgs.E002``, an unknown key ``dgs.W001``. A field whose default is a
    :class:`dgs_core.conf.BackendConfig` reads a ``{"BACKEND": ..., "OPTIONS": {...}}`` dict, one whose
    default is another dataclass a nested section. The parsed value is ``config.section("MY_SECTION")``
    (the defaults when the settings leave the section out). When a project's settings hold a section whose
    plugin is not installed, ``manage.py check`` says which distribution to install.

    :param register: call ``register("MY_SECTION", MySettings)``; ``MySettings`` is a frozen dataclass whose
        fields all have defaults. A key of core's own settings cannot be registered.
    """


# -------------------------------------------------------------------------------------------------
# Checks: settings mistakes reported by `manage.py check`
# -------------------------------------------------------------------------------------------------


@hookspec
def dgs_system_checks(config: GraphSearchConfig) -> list[Problem]:
    """Return the mistakes in ``config`` this plugin can find, reported by ``manage.py check``.

    The results of all implementations are combined. Use the ids of core's checks (``dgs.E006`` plugin not
    installed, ``dgs.E007`` unknown backend or class, ``dgs.E010`` dotted path not importable, ...; see
    :mod:`dgs_core.checks`) and name the setting at fault and its fix. Check only what the settings switch
    on; never load a model or connect to a server here.

    :param config: the parsed configuration (the plugin's own section is ``config.section(KEY)``).
    :returns: a list of :class:`dgs_core.conf.Problem`, empty when all is well.
    """


# -------------------------------------------------------------------------------------------------
# Traversal: which related rows and values make up a document
# -------------------------------------------------------------------------------------------------


@hookspec
def dgs_extra_field_paths(model: type[models.Model], model_config: ModelConfig) -> list[str]:
    """Return extra ``__`` field paths to index for ``model`` besides the configured ones.

    Results of all implementations are combined. Paths are validated like configured paths and
    fetched with the same batched select/prefetch plan.

    :param model: the indexed model class.
    :param model_config: its entry of ``GRAPH_SEARCH["MODELS"]``.
    :returns: a list of paths such as ``["tags__name"]``, or an empty list.
    """


@hookspec(firstresult=True)
def dgs_field_text(value: Any, field: Any, path: str) -> Optional[list[str]]:
    """Turn one resolved value of an indexed path into text. Stops at first non-None result.

    Override this for field types core does not know (``JSONField`` layouts, tagging libraries,
    rich text). Core's default handles strings, numbers, dates, choices, decimals, booleans and
    JSON, and drops ``None`` and empty strings.

    :param value: the Python value read from the instance (never a model instance or manager).
    :param field: the Django model field the value came from.
    :param path: the full ``__`` path, e.g. ``"album__artist__name"``.
    :returns: a list of text pieces (possibly empty to drop the value), or ``None`` to let the
        next implementation decide.
    """


# -------------------------------------------------------------------------------------------------
# Text building: how sections become the document text that is embedded and returned
# -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def dgs_build_text(
    instance: models.Model, sections: list[Section], model_config: ModelConfig, config: GraphSearchConfig
) -> Optional[str]:
    """Build the document text of ``instance`` from its extracted sections. Stops at first non-None result.

    Core ships two implementations: the labelled "smart" builder, used when
    ``SMART_INDEXING["ENABLED"]`` is true, and the classic builder (``trylast``) otherwise.

    :param instance: the model instance being indexed.
    :param sections: one :class:`dgs_core.documents.Section` per indexed path that produced text,
        already weighted and ordered by weight (highest first).
    :param model_config: the model's entry of ``GRAPH_SEARCH["MODELS"]``.
    :param config: the whole parsed configuration.
    :returns: the text, or ``None`` to defer to the next implementation.
    """


# -------------------------------------------------------------------------------------------------
# Search pipeline: what happens between a query and its hits
# -------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def dgs_search_pipeline(config: GraphSearchConfig) -> Optional[SearchPipeline]:
    """Return the pipeline that answers queries. Stops at first non-None result.

    Core's default (``trylast``) is plain vector search: embed the query, probe the store, drop
    hits under ``min_score``. A plugin returns its own pipeline when its settings section enables it and
    ``None`` otherwise.

    :param config: the parsed configuration.
    :returns: an object with ``search(request) -> list[dgs_core.base.VectorHit]``
        (see :class:`dgs_core.searching.pipeline.SearchPipeline`), or ``None``.
    """


@hookspec(firstresult=True)
def dgs_reranked_search(config: GraphSearchConfig, candidates: int) -> Optional[RerankedSearch]:
    """Return ``config`` changed so that its pipeline reranks the search's candidates and does nothing else.
    Stops at first non-None result.

    ``manage.py search_eval``'s ``reranked`` mode measures it against the plain modes: the configuration must
    rerank at least ``candidates`` candidates of the configured search mode, skip other steps (query
    expansion), and fail instead of quietly answering without reranking.

    :param config: the parsed configuration.
    :param candidates: how many candidates the reranker must see at least.
    :returns: a :class:`dgs_core.searching.pipeline.RerankedSearch` (the changed configuration, a note saying what
        reranks, and why it cannot run here if so), or ``None`` when this plugin does not rerank.
    """
