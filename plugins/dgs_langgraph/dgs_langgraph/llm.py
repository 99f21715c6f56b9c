"""The LLM backend contract of the ``langgraph`` search pipeline, its deterministic built-in backend, and the
``llm`` reranker.

``GRAPH_SEARCH["LANGGRAPH"]["LLM"]["BACKEND"]`` is a dotted path to any class with two methods::

    expand_query(query: str, models: list[str], max_variants: int) -> list[str]
    rerank(query: str, candidates: list[VectorHit], top_k: int) -> list[VectorHit]

constructed as ``cls(model=LLM["MODEL"], **OPTIONS)`` (option names lower-cased). Subclassing
:class:`LLMBackend` is optional; a subclass only has to implement :meth:`LLMBackend.complete` (one chat
completion) and inherits prompts and reply parsing for both methods. ``BACKEND: None`` selects
:class:`KeywordBackend`, which needs no model and no network. ``dgs_langgraph.openai_chat.OpenAIChatLLM``
talks to any OpenAI-compatible chat endpoint.

A backend may be slow, fail, or answer nonsense: the pipeline bounds every call by
``LANGGRAPH["TIMEOUT_SECONDS"]``, ignores ids it did not offer, and (``FALLBACK_ON_ERROR``) answers with
plain vector search when a call fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from django.utils.module_loading import import_string

from dgs_core.base import Reranker, VectorHit
from dgs_core.exceptions import ConfigurationError
from dgs_core.indexing.chunking import shown_text
from dgs_core.lexical import stem
from dgs_core.options import Configurable, option
from dgs_core.options import Options as NoOptions
from dgs_langgraph.settings import LLMConfig, langgraph_settings

#: Where the backend is chosen, for error messages.
SETTING = "GRAPH_SEARCH['LANGGRAPH']['LLM']['BACKEND']"
#: Characters of each candidate's text shown to the LLM when reranking.
CANDIDATE_PREVIEW = 400

WORD = re.compile(r"\w+", re.UNICODE)
#: Words that carry no search intent of their own ("show me songs by ...").
FILLER_WORDS = frozenset(
    "a an and any are as at be by can do find for from give have i in is it its looking me my need of on or "
    "please search show some that the their them these this those to want what which with you".split()
)


class LLMReplyError(ValueError):
    """The LLM answered, but not in the format asked for."""


class LLMBackend(Configurable):
    """Optional base class of LLM backends: prompts and reply parsing around one :meth:`complete` call.

    :param model: ``LANGGRAPH["LLM"]["MODEL"]``, the model name the endpoint knows.
    :param options: ``LANGGRAPH["LLM"]["OPTIONS"]`` with lower-cased keys, declared by ``Options`` (see
        :mod:`dgs_core.options`; ``model`` is one of them) and checked by ``manage.py check``.
    """

    family = "LLM backend"
    options_setting = "GRAPH_SEARCH['LANGGRAPH']['LLM']['OPTIONS']"

    @dataclass(frozen=True)
    class Options(NoOptions):
        model: Optional[str] = option(None, listed=False, help="LANGGRAPH['LLM']['MODEL']")

    def __init__(self, model: Optional[str] = None, **options: Any) -> None:
        if self.declares_options():
            self.options = self.parse_options(_with_model(model, options))
            self.model = self.options.model
        else:
            self.model, self.options = model, options

    @classmethod
    def check_options(cls, model: Optional[str], options: dict[str, Any]) -> list[str]:
        """Problems with ``MODEL`` and ``OPTIONS``, found without building the backend (``manage.py check``)."""
        return cls.option_problems(_with_model(model, options))

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to chat ``messages`` (``[{"role": ..., "content": ...}]``)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement complete(messages), or override expand_query and rerank."
        )

    def expand_query(self, query: str, models: Sequence[str], max_variants: int) -> list[str]:
        """Up to ``max_variants`` alternative phrasings of ``query`` (the original is not repeated)."""
        reply = self.complete(expansion_messages(query, models, max_variants))
        return [v for v in parse_json_list(reply) if isinstance(v, str) and v.strip()][:max_variants]

    def rerank(self, query: str, candidates: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        """At most ``top_k`` of ``candidates``, most relevant first, scored by rank in [0, 1]."""
        reply = self.complete(rerank_messages(query, candidates, top_k))
        numbers = [n for n in parse_json_list(reply) if isinstance(n, int) and not isinstance(n, bool)]
        order = [candidates[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(candidates)][:top_k]
        return [_rescored(hit, (len(order) - i) / len(order)) for i, hit in enumerate(order)]


def expansion_messages(query: str, models: Sequence[str], max_variants: int) -> list[dict[str, str]]:
    """The chat prompt asking for query variants."""
    system = (
        "You rewrite search queries for a semantic search engine. Reply with a JSON array of at most "
        f"{max_variants} alternative queries that find the same things: synonyms, spelled-out abbreviations, "
        "the intent in plain words. Never repeat the original query. Reply with the JSON array only."
    )
    user = json.dumps({"query": query, "searched_models": list(models), "max_variants": max_variants})
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def rerank_messages(query: str, candidates: Sequence[VectorHit], top_k: int) -> list[dict[str, str]]:
    """The chat prompt asking for candidate numbers, best first."""
    system = (
        "You rank search results by how well they answer the query. Reply with a JSON array of candidate "
        f"numbers, most relevant first, at most {top_k} numbers; leave out candidates that do not match. "
        "Reply with the JSON array only."
    )
    lines = [f"Query: {query}", "", "Candidates:"]
    for number, hit in enumerate(candidates, start=1):
        # The text users would see: without the weight prefix core stores for the embedder and keyword leg.
        preview = " ".join(shown_text(hit.text, hit.metadata).split())[:CANDIDATE_PREVIEW]
        lines.append(f"[{number}] ({hit.model}) {preview}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def parse_json_list(reply: str) -> list[Any]:
    """The first JSON array in ``reply`` (code fences and prose around it are ignored)."""
    if not isinstance(reply, str):
        raise LLMReplyError(f"The LLM reply is {type(reply).__name__}, not text.")
    start = reply.find("[")
    while start != -1:
        try:
            value, _end = json.JSONDecoder().raw_decode(reply, start)
        except ValueError:
            start = reply.find("[", start + 1)
            continue
        if isinstance(value, list):
            return value
        start = reply.find("[", start + 1)
    raise LLMReplyError(f"The LLM reply holds no JSON array: {reply[:200]!r}")


def _rescored(hit: VectorHit, score: float) -> VectorHit:
    return VectorHit(hit.id, hit.model, hit.pk, min(1.0, max(0.0, float(score))), hit.text, dict(hit.metadata))


def _model_nouns(models: Sequence[str]) -> set[str]:
    """``"chinook.track"`` -> ``{"track"}`` (stemmed), so "tracks by X" searches for X."""
    return {stem(label.rsplit(".", 1)[-1].lower()) for label in models}


def keywords(query: str, models: Sequence[str] = ()) -> list[str]:
    """The words of ``query`` that carry intent: no filler words, no names of the searched models."""
    nouns = _model_nouns(models)
    words = WORD.findall(query)
    return [w for w in words if w.lower() not in FILLER_WORDS and stem(w.lower()) not in nouns]


class KeywordBackend(LLMBackend):
    """The deterministic built-in backend (``BACKEND: None``): word rules instead of a language model.

    * expansion: the query reduced to its keywords ("songs by Iron Maiden" -> "Iron Maiden"), then the
      keywords stemmed; variants equal to the query are dropped.
    * reranking: half the vector score, plus the share of the query's keywords found in the text, with
      a bonus for those in its first line or sentence (the title, with the classic and smart texts).

    Same input, same output; no model, no network. It understands spelling, not meaning.
    """

    def expand_query(self, query: str, models: Sequence[str], max_variants: int) -> list[str]:
        words = keywords(query, models)
        candidates = [" ".join(words), " ".join(stem(w.lower()) for w in words)]
        seen = {" ".join(WORD.findall(query.lower()))}
        variants = []
        for variant in candidates:
            normalized = " ".join(WORD.findall(variant.lower()))
            if normalized and normalized not in seen:
                seen.add(normalized)
                variants.append(variant)
        return variants[:max_variants]

    def rerank(self, query: str, candidates: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        terms = {stem(w.lower()) for w in keywords(query, sorted({hit.model for hit in candidates}))}
        if not terms:
            return list(candidates)[:top_k]
        scored = []
        for rank, hit in enumerate(candidates):
            words = {stem(w) for w in WORD.findall(hit.text.lower())}
            title = re.split(r"\n|\. ", hit.text, maxsplit=1)[0].lower()
            title_words = {stem(w) for w in WORD.findall(title)}
            coverage = len(terms & words) / len(terms)
            title_coverage = len(terms & title_words) / len(terms)
            scored.append((0.5 * hit.score + 0.35 * coverage + 0.15 * title_coverage, -rank, hit))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [_rescored(hit, score) for score, _rank, hit in scored[:top_k]]


def _with_model(model: Optional[str], options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "model": model} if model is not None else dict(options)


def llm_class(path: Optional[str]) -> Any:
    """The class ``LLM["BACKEND"]`` names (:class:`KeywordBackend` for None); :class:`ConfigurationError` naming
    the setting when it cannot be imported or lacks a method."""
    if not path:
        return KeywordBackend
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            f"{SETTING} {path!r} cannot be imported ({exc}). Give the dotted path of a class with expand_query() "
            "and rerank(), e.g. 'dgs_langgraph.openai_chat.OpenAIChatLLM', or None for the built-in keyword backend."
        ) from exc
    missing = [name for name in ("expand_query", "rerank") if not callable(getattr(cls, name, None))]
    if missing:
        raise ConfigurationError(
            f"{SETTING} {path!r} has no {' or '.join(missing)} method; an LLM backend needs "
            "expand_query(query, models, max_variants) and rerank(query, candidates, top_k)."
        )
    return cls


def load_llm(llm_config: LLMConfig) -> Any:
    """The backend ``llm_config`` names, constructed; :class:`ConfigurationError` naming the setting if it can't be."""
    cls = llm_class(llm_config.backend)
    options = {str(key).lower(): value for key, value in llm_config.options.items()}
    try:
        return cls(model=llm_config.model, **options)
    except TypeError as exc:
        raise ConfigurationError(
            f"{SETTING} {llm_config.backend!r} rejected MODEL or OPTIONS ({exc}); it is constructed as "
            "cls(model=LLM['MODEL'], **LLM['OPTIONS'])."
        ) from exc


def get_llm() -> Any:
    """The LLM backend of this process (built once from settings, dropped when they change)."""
    from dgs_core import engine
    from dgs_core.conf import get_config

    llm_config = langgraph_settings(get_config()).llm
    return engine.shared(("llm", llm_config.backend, llm_config.model), lambda: load_llm(llm_config))


class LLMReranker(Reranker):
    """The ``llm`` reranker: the configured LLM backend's :meth:`rerank` (``LANGGRAPH["RERANKER"]`` default)."""

    def __init__(self, model_name: Optional[str] = None, llm: Any = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        self.llm = llm if llm is not None else get_llm()

    def rerank(self, query: str, hits: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        return list(self.llm.rerank(query, list(hits), top_k))
