"""Conversational search (``CONVERSATIONAL``): turns that refine the previous one, kept in a memory plugin.

``POST /api/search/conversation/`` (or :func:`converse`) answers like search, plus ``conversation_id``,
``interpreted_query`` and ``clarification_needed``. Follow-ups understood (English), resolved against
the last answered turn of the conversation:

* "more", "show me more", "next page": the same search, next page;
* "only albums", "just tracks", "albums only": the previous search restricted to that model;
* "similar to the first one", "like the 2nd", "albums like the last one": neighbours of that result.

Anything else is a new search. A follow-up that cannot be resolved (nothing before it, an ordinal past
the results, a bare "it") is never guessed at: the reply has ``clarification_needed: true``, a
``clarification`` question and no results. With ``ALLOW_CLARIFICATIONS: False`` the text is searched
literally instead.

Conversation ids are chosen by the server (128 random bits); an id it does not know (never issued, forgotten,
expired) starts a new conversation with a new id. A conversation belongs to whoever started it: the logged-in
user, else the anonymous caller's session; anyone else is answered 403.

Memories (``MEMORY_BACKEND``): ``inmemory`` (this process only: fine for one process and tests; a
RuntimeWarning says so when DEBUG is off) and ``cache`` (a Django cache such as Redis, shared by every
worker; ``MEMORY_OPTIONS``: ``ALIAS``, ``TIMEOUT`` seconds, ``KEY_PREFIX``). Each keeps at most
``MAX_CONVERSATIONS`` (a memory option), each conversation at most ``MAX_CONVERSATION_BYTES`` of JSON.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

from django.conf import settings

from dgs_core.base import ConversationMemory
from dgs_core.conf import BackendConfig, GraphSearchConfig, get_config
from dgs_core.exceptions import ApiDenied, BackendUnavailable, InvalidParameterError
from dgs_core.lexical import stem
from dgs_core.options import Options as NoOptions
from dgs_core.options import option
from dgs_core.searching.query import MAX_OFFSET

CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
#: The session key of an anonymous caller's random token, which binds its conversations to its session.
SESSION_OWNER_KEY = "dgs_conversation_owner"
WORDS = re.compile(r"[^\W_]+|\d+", re.UNICODE)

_MORE = re.compile(r"(?:(?:show|give|load|see|get)(?: me)? )?(?:some )?(?:more|next)"
                   r"(?: (?:results|hits|please|page|ones|of them|of those|of these))*")
_ORDINALS = {"first": 0, "top": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6,
             "eighth": 7, "ninth": 8, "tenth": 9, "last": -1}
_SIMILAR = re.compile(
    r"(?:(?:show|find|give|get)(?: me)? )?(?:(?P<kind>[a-z]+) )?(?:similar to|like|related to|close to) "
    r"(?:the |that |this )?(?P<which>" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th)?|number \d+|it|that|this|one)"
    r"(?: (?:one|result|hit|item|match))?"
)
_GENERIC_KINDS = {"something", "anything", "more", "ones", "items", "results", "stuff", "things"}
_RESTRICT = re.compile(r"(?:(?:only|just)(?: the)? (?P<what>[\w ]+?)|(?P<what2>[\w ]+?) only)(?: please)?")
_VAGUE = re.compile(r"(?:it|that|this|them|those|these|that one|this one|the same|same|again|the other one|other)")


# -- memories -------------------------------------------------------------------------------------------


class InMemoryConversationMemory(ConversationMemory):
    """Conversations in this process's memory, as JSON text: at most ``max_conversations`` (option), the least
    recently continued forgotten first, each at most ``max_bytes``.

    Not for production with several worker processes: a follow-up may reach a worker that never saw the
    conversation, and a restart forgets everything. Use ``cache`` there.
    """

    @dataclass(frozen=True)
    class Options(NoOptions):
        max_conversations: int = option(1_000, positive=True,
                                        help="conversations kept; the least recently continued go first")

    def __init__(self, max_items: int = 10, **options: Any) -> None:
        super().__init__(max_items, **options)
        if not settings.DEBUG:
            warnings.warn(
                "GRAPH_SEARCH['CONVERSATIONAL']['MEMORY_BACKEND'] is 'inmemory': conversations live in one "
                "process, so with several workers a follow-up can reach a worker that never saw the conversation, "
                "and a restart forgets them all. Use 'cache' with a shared Django cache (e.g. Redis) in production.",
                RuntimeWarning, stacklevel=2,
            )
        self.max_conversations = self.options.max_conversations
        self._conversations: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return self.decode(self._conversations.get(conversation_id))

    def append(self, conversation_id: str, turn: dict[str, Any]) -> None:
        with self._lock:
            turns = self.decode(self._conversations.pop(conversation_id, None))
            self._conversations[conversation_id] = self.fit([*turns, turn])
            while len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)

    def clear(self, conversation_id: str) -> None:
        with self._lock:
            self._conversations.pop(conversation_id, None)


class CacheConversationMemory(ConversationMemory):
    """Conversations in a Django cache (``alias``, default ``"default"``) as JSON text, each kept ``timeout``
    seconds after its last turn and at most ``max_bytes``. With Redis or Memcached every worker sees every
    conversation.

    At most ``max_conversations`` are kept: each new conversation takes the next of that many slots (an atomic
    counter in the cache), forgetting the conversation started that many conversations before it.
    """

    @dataclass(frozen=True)
    class Options(NoOptions):
        alias: str = option("default", help="the Django cache (a key of settings.CACHES)")
        timeout: int = option(86400, positive=True, unit="seconds", help="how long a conversation is kept")
        key_prefix: str = option("dgs:conversation", min=1, help="prefix of the cache keys")
        max_conversations: int = option(10_000, positive=True,
                                        help="conversations kept; starting one more forgets the oldest started")

        def __post_init__(self) -> None:
            if self.alias not in settings.CACHES:
                raise ValueError(f"{{alias}} is {self.alias!r}, which is not in settings.CACHES "
                                 f"({', '.join(settings.CACHES) or 'none'}).")

    def __init__(self, max_items: int = 10, **options: Any) -> None:
        super().__init__(max_items, **options)
        from django.core.cache import caches

        self.cache = caches[self.options.alias]
        self.timeout = self.options.timeout
        self.key_prefix = self.options.key_prefix
        self.max_conversations = self.options.max_conversations

    def _key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}:{conversation_id}"

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.cache, method)(*args)
        except Exception as exc:  # the cache server's own error types (connection refused, timeouts)
            raise BackendUnavailable(f"The conversation memory (Django cache) failed: {type(exc).__name__}: {exc}"
                                     ) from exc

    def _stored(self, conversation_id: str) -> Optional[str]:
        stored = self._call("get", self._key(conversation_id))
        return stored if isinstance(stored, str) else None  # lists pickled by earlier versions are not owned

    def _take_slot(self, conversation_id: str) -> None:
        """Give a new conversation the next slot, forgetting the conversation that held it."""
        counter = f"{self.key_prefix}:started"
        self._call("add", counter, 0, None)
        try:
            started = self._call("incr", counter)
        except BackendUnavailable as exc:
            if not isinstance(exc.__cause__, ValueError):  # ValueError: the counter was evicted meanwhile
                raise
            started = 1
            self._call("set", counter, started, None)
        slot = f"{self.key_prefix}:slot:{started % self.max_conversations}"
        previous = self._call("get", slot)
        if previous and previous != conversation_id:
            self._call("delete", self._key(previous))
        self._call("set", slot, conversation_id, None)

    def get(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.decode(self._stored(conversation_id))

    def append(self, conversation_id: str, turn: dict[str, Any]) -> None:
        stored = self._stored(conversation_id)
        if stored is None:
            self._take_slot(conversation_id)
        self._call("set", self._key(conversation_id), self.fit([*self.decode(stored), turn]), self.timeout)

    def clear(self, conversation_id: str) -> None:
        self._call("delete", self._key(conversation_id))


def get_memory(config: Optional[GraphSearchConfig] = None) -> ConversationMemory:
    """The ``CONVERSATIONAL["MEMORY_BACKEND"]`` memory of this process."""
    from dgs_core import engine

    conversational = (config or get_config()).conversational

    def build() -> ConversationMemory:
        memory = BackendConfig(conversational.memory_backend, conversational.memory_options)
        return engine.build("memory", memory, ConversationMemory.options_setting,
                            max_items=conversational.max_history_items,
                            max_bytes=conversational.max_conversation_bytes)

    return engine.shared(("memory", conversational.memory_backend), build)


# -- understanding a turn -------------------------------------------------------------------------------


@dataclass
class Interpretation:
    """What a turn asks for: ``kind`` is search, more, restrict, similar or clarify."""

    kind: str
    query: str = ""
    models: Optional[list[str]] = None
    offset: int = 0
    similar_to: Optional[dict[str, Any]] = None
    clarification: Optional[str] = None


def _models_named(phrase: str, config: GraphSearchConfig) -> Optional[list[str]]:
    """Labels of the configured models ``phrase`` names ("albums", "tracks and artists"); None if it names none.

    Raises ``ValueError`` when it names some models and other, unknown kinds.
    """
    names: dict[str, str] = {}
    for entry in config.models:
        meta = entry.model._meta
        for name in (meta.model_name, str(meta.verbose_name), str(meta.verbose_name_plural)):
            names[" ".join(stem(w) for w in name.lower().split())] = entry.model_label
    parts = [p.strip() for p in re.split(r",| and | or ", phrase) if p.strip()]
    found = [names.get(" ".join(stem(w) for w in part.split())) for part in parts]
    if not any(found):
        return None
    if not all(found):
        raise ValueError(phrase)
    return list(dict.fromkeys(found))


def _kinds(config: GraphSearchConfig) -> str:
    return ", ".join(str(m.model._meta.verbose_name_plural) for m in config.models)


def interpret(text: str, history: list[dict[str, Any]], config: GraphSearchConfig,
              models: Optional[list[str]] = None) -> Interpretation:
    """What ``text`` means after ``history`` (oldest first); ``models`` are the labels asked for with it."""
    normalized = " ".join(WORDS.findall(text.lower()))
    previous = next((t for t in reversed(history) if t.get("kind") != "clarify"), None)

    if _MORE.fullmatch(normalized):
        if previous is None:
            return Interpretation("clarify", clarification="There is nothing to show more of yet. What are you "
                                                           "looking for?")
        offset = previous["offset"] + previous["limit"]
        if offset > MAX_OFFSET:  # as deep as search pages go
            return Interpretation("clarify", clarification=f"That is as far as the results go ({MAX_OFFSET} "
                                                           "skipped). Try a narrower search.")
        return Interpretation("more", previous["interpreted_query"], previous["models"], offset,
                              previous.get("similar_to"))

    similar = _SIMILAR.fullmatch(normalized)
    if similar:
        kind = similar.group("kind")
        try:
            restricted = None if kind is None or kind in _GENERIC_KINDS else _models_named(kind, config)
        except ValueError:
            restricted = None
        if kind is None or kind in _GENERIC_KINDS or restricted:
            return _similar(similar.group("which"), previous, restricted, config)

    restrict = _RESTRICT.fullmatch(normalized)
    if restrict:
        phrase = restrict.group("what") or restrict.group("what2")
        try:
            labels = _models_named(phrase, config)
        except ValueError:
            return Interpretation("clarify", clarification=f"I can show {_kinds(config)}. Which of them do you "
                                                           f"mean by {phrase!r}?")
        if labels and previous is None:
            return Interpretation("clarify", clarification=f"What should I look for among the {phrase}?")
        if labels:
            return Interpretation("restrict", previous["interpreted_query"], labels, 0, previous.get("similar_to"))

    if _VAGUE.fullmatch(normalized):
        return Interpretation("clarify", clarification="What would you like to search for?")
    return Interpretation("search", " ".join(text.split()), models)


def _similar(which: str, previous: Optional[dict[str, Any]], models: Optional[list[str]],
             config: GraphSearchConfig) -> Interpretation:
    results = previous["results"] if previous else []
    if not results:
        return Interpretation("clarify", clarification="Similar to what? Search for something first, then ask "
                                                       "for results like one of them.")
    digits = re.search(r"\d+", which)
    if digits:
        index = int(digits.group()) - 1
    elif which in _ORDINALS:
        index = _ORDINALS[which] if which != "last" else len(results) - 1
    else:  # "it", "that one": clear only when there was a single result
        index = 0 if previous.get("result_count", len(results)) == 1 else None
    if index is None:
        return Interpretation("clarify", clarification="Which result do you mean? Say 'the first one', 'the second "
                                                       "one', ...")
    count = previous.get("result_count", len(results))
    if not 0 <= index < count:
        return Interpretation("clarify", clarification=f"There were {count} results; which one do you mean?")
    if index >= len(results):
        return Interpretation("clarify", clarification=f"I remember only the first {len(results)} results; which "
                                                       "of them do you mean?")
    target = results[index]
    return Interpretation("similar", f"similar to {target['model']}:{target['pk']}", models, 0, dict(target))


# -- answering a turn -----------------------------------------------------------------------------------


@dataclass
class ConversationReply:
    """The answer to one turn; :meth:`as_dict` is the REST body."""

    conversation_id: str
    query: str
    interpreted_query: str
    clarification_needed: bool
    results: list = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    clarification: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        body = {"query": self.query, "results": [hit.as_dict() for hit in self.results], "total": len(self.results),
                "conversation_id": self.conversation_id, "interpreted_query": self.interpreted_query,
                "clarification_needed": self.clarification_needed, "models": self.models}
        if self.clarification:
            body["clarification"] = self.clarification
        return body


def _owner(request: Any) -> Optional[str]:
    """Who may continue a conversation: the logged-in user, else the anonymous caller's session (a random token
    kept in it, stored here only hashed); None for Python calls without a request."""
    if request is None:
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    session = getattr(request, "session", None)
    if session is None:
        raise ApiDenied(403, "Conversations of anonymous callers need a session (cookies); log in to start one.")
    token = session.get(SESSION_OWNER_KEY)
    if not isinstance(token, str):
        token = session[SESSION_OWNER_KEY] = secrets.token_hex(16)
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


def _check_owner(history: list[dict[str, Any]], owner: Optional[str]) -> None:
    if history and history[0].get("owner") != owner:
        raise ApiDenied(403, "This conversation belongs to another user or session; start a new one without "
                             "'conversation_id'.")


def new_conversation_id() -> str:
    """A conversation id: 128 random bits in hex, chosen by the server only."""
    return secrets.token_hex(16)


def conversation_id_param(value: Any) -> str:
    """A valid conversation id, or :class:`InvalidParameterError` naming ``conversation_id``."""
    if not isinstance(value, str) or not CONVERSATION_ID.fullmatch(value):
        raise InvalidParameterError("conversation_id",
                                    "'conversation_id' must be 1 to 200 letters, digits, '-' or '_'.")
    return value


def _remembered(results: list, budget: int) -> list[dict[str, Any]]:
    """The first of ``results`` as ``{"model", "pk"}``, as many as fit in ``budget`` bytes of JSON: a turn is
    remembered for its follow-ups ("similar to the third one"), not to replay a page of a thousand hits."""
    kept, size = [], 0
    for hit in results:
        reference = {"model": hit.model, "pk": hit.pk}
        size += len(ConversationMemory.encode([reference]).encode())
        if size > budget:
            break
        kept.append(reference)
    return kept


def _run(interpretation: Interpretation, limit: int, request: Any, searcher: Any) -> list:
    if interpretation.similar_to is None:
        return searcher.search(interpretation.query, models=interpretation.models, limit=limit,
                               offset=interpretation.offset, request=request)
    from dgs_core.searching.visibility import visible_queryset

    target = interpretation.similar_to
    model_config = searcher.config.model_config(target["model"])
    instance = visible_queryset(model_config, request).filter(pk=target["pk"]).first() if model_config else None
    if instance is None:
        return []
    end = interpretation.offset + limit
    return list(searcher.similar(instance, limit=end, models=interpretation.models, request=request))[
        interpretation.offset:end]


def converse(query: Any, conversation_id: Optional[str] = None, models: Any = None, limit: Any = None,
             request: Any = None, config: Optional[GraphSearchConfig] = None) -> ConversationReply:
    """Answer one turn of a conversation (a new one when ``conversation_id`` is None) and remember it."""
    from dgs_core.searching.query import query_text, resolve_models, results_limit
    from dgs_core.searching.searcher import Searcher

    config = config or get_config()
    searcher = Searcher(config)
    query_text(config, query, "query")
    labels = resolve_models(config, models) if models else None
    limit = results_limit(config, limit)
    memory = get_memory(config)
    history = memory.get(conversation_id_param(conversation_id)) if conversation_id is not None else []
    owner = _owner(request)
    _check_owner(history, owner)
    if not history:  # an id this server never issued, or one forgotten or expired, is not adopted
        conversation_id = new_conversation_id()

    interpretation = interpret(query, history, config, labels)
    if interpretation.kind == "clarify" and not config.conversational.allow_clarifications:
        interpretation = Interpretation("search", " ".join(query.split()), labels)
    results = [] if interpretation.kind == "clarify" else _run(interpretation, limit, request, searcher)
    searched = interpretation.models or [m.model_label for m in config.models]
    turn = {
        "query": query, "kind": interpretation.kind, "interpreted_query": interpretation.query,
        "models": interpretation.models, "offset": interpretation.offset, "limit": limit,
        "similar_to": interpretation.similar_to, "owner": owner, "result_count": len(results), "results": [],
    }
    # This turn takes half of MAX_CONVERSATION_BYTES, so that the one before it usually stays too; its results at
    # least a quarter, however long the query.
    max_bytes = config.conversational.max_conversation_bytes
    turn["results"] = _remembered(results, max(max_bytes // 4, max_bytes // 2 - len(ConversationMemory.encode(
        [turn]).encode())))
    memory.append(conversation_id, turn)
    return ConversationReply(conversation_id, query, interpretation.query, interpretation.kind == "clarify",
                             results, searched if interpretation.kind != "clarify" else [],
                             interpretation.clarification)


def forget(conversation_id: Any, request: Any = None) -> None:
    """Clear a conversation (DELETE); its owner check applies like for new turns."""
    conversation_id = conversation_id_param(conversation_id)
    memory = get_memory()
    history = memory.get(conversation_id)
    _check_owner(history, _owner(request) if history else None)
    memory.clear(conversation_id)
