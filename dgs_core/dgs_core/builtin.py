"""Core's own plugin: default hook implementations, registered like any other plugin (as ``core``)."""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any, Optional

from dgs_core import hookimpl


@hookimpl
def dgs_register_embedders(register) -> None:
    from dgs_core.backends import HashingEmbedder

    register("hashing", HashingEmbedder)


@hookimpl
def dgs_register_vector_stores(register) -> None:
    from dgs_core.backends import MemoryVectorStore

    register("memory", MemoryVectorStore)


@hookimpl
def dgs_register_transports(register) -> None:
    from dgs_core.indexing.transports import SyncTransport, ThreadTransport

    register("sync", SyncTransport)
    register("thread", ThreadTransport)


@hookimpl
def dgs_register_memories(register) -> None:
    from dgs_core.conversation import CacheConversationMemory, InMemoryConversationMemory

    register("inmemory", InMemoryConversationMemory)
    register("cache", CacheConversationMemory)


@hookimpl
def dgs_register_stream_formats(register) -> None:
    from dgs_core.streaming import NdjsonFormat, SseFormat

    register("ndjson", NdjsonFormat)
    register("sse", SseFormat)


@hookimpl(trylast=True)
def dgs_field_text(value: Any, field: Any, path: str) -> Optional[list[str]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [" ".join(value.split())]
    if isinstance(value, bool):
        return [f"{field.verbose_name}: {'yes' if value else 'no'}"]
    if isinstance(value, (int, float, decimal.Decimal)):
        return [str(value)]
    if isinstance(value, (datetime.date, datetime.time)):
        return [value.isoformat()]
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value if v not in (None, "")]
    if isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False, default=str)]
    return [str(value)]


@hookimpl(specname="dgs_build_text")
def smart_text_builder(instance, sections, model_config, config) -> Optional[str]:
    if not config.smart_indexing.enabled:
        return None
    from dgs_core.indexing.text import smart_text

    templates = {str(label).lower(): template for label, template in config.smart_indexing.templates.items()}
    template = templates.get(model_config.model_label) or {}
    return smart_text(model_config.model_label, sections, template)


@hookimpl(specname="dgs_build_text", trylast=True)
def classic_text_builder(instance, sections, model_config, config) -> str:
    from dgs_core.indexing.text import classic_text

    return classic_text(sections)


@hookimpl(trylast=True)
def dgs_search_pipeline(config):
    from dgs_core.searching.pipeline import VectorSearchPipeline

    return VectorSearchPipeline()
