"""System checks: every ``GRAPH_SEARCH`` mistake is reported by ``manage.py check`` with a fix.

Ids: E001 not a dict · E002 wrong type or value · E003 unknown or duplicate model · E004 unknown
embedding profile · E005 unknown field path · E006 plugin not installed · E007 unknown backend name or
class · E008 plugin name conflict · E009 backend options rejected · E010 callable path not importable ·
E011 REST API access entry unusable · E012 REST API app missing from INSTALLED_APPS ·
W001 unknown key · W002 deprecated backend path · W003 nothing to index · W004 store filled by
another embedder · W005 default search mode needs keyword search the store lacks · W006 the section of a
plugin that is not installed (E006 when it is enabled) · W007 conversations on without sessions · W008 the built
index vanished from the store or is damaged (a warning, so that ``build_search_index --rebuild`` and ``migrate`` still
run) · W012 the live index was built in another text format (``dgs_core.documents.TEXT_FORMAT``).

Plugins add their own through the ``dgs_system_checks`` hook, with the same ids.
"""

from __future__ import annotations

from typing import Optional

from django.core import checks
from django.utils.module_loading import import_string

from dgs_core.conf import Problem, did_you_mean, get_config_and_problems
from dgs_core.indexing import text
from dgs_core.plugins import get_registry
from dgs_core.rest import access as api_access
from dgs_core.rest.requirements import installation_problems


def _message(problem: Problem) -> checks.CheckMessage:
    cls = checks.Error if problem.is_error else checks.Warning
    return cls(problem.msg, hint=problem.hint, id=problem.id)


def _closest_model(label: str) -> Optional[str]:
    """"Did you mean 'shop.Product'?" for a misspelt model label, or for a bare model name such as 'Product'."""
    from django.apps import apps

    labels = [m._meta.label for m in apps.get_models()]
    named = [known for known in labels if known.split(".")[1].lower() == label.rsplit(".", 1)[-1].lower()]
    return did_you_mean(label, labels) or (f"Did you mean {named[0]!r}?" if len(named) == 1 else None)


def _model_problems(config) -> list[Problem]:
    from django.apps import apps

    from dgs_core.indexing.traversal import FieldPathError, configured_paths, resolve_path

    problems = []
    for entry in config.models:
        try:
            model = apps.get_model(entry.label)
        except (LookupError, ValueError):
            app_label = entry.label.split(".")[0]
            known = [m._meta.label for m in apps.get_models() if m._meta.app_label == app_label]
            known_here = ", ".join(known) or "none (is the app installed?)"
            hint = f"Use 'app_label.ModelName'; models of {app_label!r}: {known_here}."
            suggestion = _closest_model(entry.label)
            problems.append(Problem(
                "dgs.E003", f"GRAPH_SEARCH['MODELS'] names {entry.label!r}, which is not an installed model.",
                f"{suggestion} {hint}" if suggestion else hint,
            ))
            continue
        paths = list(entry.fields) + list(entry.weight_fields) + list(entry.filter_fields)
        bad_paths = []
        for path in dict.fromkeys(paths):
            try:
                resolve_path(model, path)
            except FieldPathError as exc:
                bad_paths.append(Problem("dgs.E005", f"GRAPH_SEARCH['MODELS'] entry {entry.label}: {exc}",
                                         "Fix the path; paths use Django's '__' lookups."))
        problems += bad_paths
        if not bad_paths:
            try:
                if not configured_paths(entry, model):
                    problems.append(Problem("dgs.W003", f"{entry.label} has no text field to index.",
                                            "List 'fields' explicitly or set 'follow_relations': True."))
            except FieldPathError as exc:
                problems.append(Problem("dgs.E005", f"{entry.label}: {exc}"))
        if entry.search_queryset:
            try:
                import_string(entry.search_queryset)
            except ImportError as exc:
                problems.append(Problem("dgs.E010", f"{entry.label} 'search_queryset' {entry.search_queryset!r} "
                                        f"cannot be imported: {exc}"))
    return problems


def _backend_problems(config) -> list[Problem]:
    """Each configured backend: its class must resolve, and its options follow the class's declaration
    (checked without building the backend: no model load, no connection)."""
    from dgs_core.base import Embedder, Transport, VectorStore
    from dgs_core.engine import TRANSPORT_OPTIONS, option_problems, resolve_class, transport_config
    from dgs_core.engine.backends import STORE_OPTIONS, embedding_options
    from dgs_core.exceptions import PluginError
    from dgs_core.plugins import get_registry

    try:
        get_registry().registrations()
    except PluginError as exc:
        return [Problem("dgs.E008", str(exc))]
    problems = []
    backends = [("vector_store", config.vector_store, VectorStore, "GRAPH_SEARCH['VECTOR_STORE']", STORE_OPTIONS)]
    backends += [("embedder", cfg, Embedder, f"GRAPH_SEARCH['EMBEDDINGS'][{name!r}]", embedding_options(name))
                 for name, cfg in config.embeddings.items()]
    backends += [("transport", transport_config(config), Transport, "GRAPH_SEARCH['ASYNC_INDEXING']['BACKEND']",
                  TRANSPORT_OPTIONS)]
    backends += _feature_backends(config)
    for family, cfg, base, where, options_setting in backends:
        try:
            resolve_class(family, cfg.backend, base)
        except PluginError as exc:
            problems.append(unavailable_backend(exc, where))
            continue
        rejected = option_problems(family, cfg, options_setting) if options_setting else []
        problems += [Problem("dgs.E009", msg if options_setting in msg else f"{options_setting}: {msg}")
                     for msg in rejected]
    return problems


def unavailable_backend(error: Exception, where: str) -> Problem:
    """The problem of a ``BACKEND`` that :func:`dgs_core.engine.resolve_class` refused with ``error``: its plugin
    is not installed (``dgs.E006``, with the command that installs it) or the name is unknown (``dgs.E007``)."""
    code = "dgs.E006" if "pip install" in str(error) else "dgs.E007"
    return Problem(code, f"{where}: {error}")


def _feature_backends(config) -> list[tuple]:
    """(family, BackendConfig, base class, setting, options setting) of each optional feature that is switched on."""
    from dgs_core.base import ConversationMemory, StreamFormat
    from dgs_core.conf import BackendConfig

    conversational, found = config.conversational, []
    if conversational.enabled:
        memory = BackendConfig(conversational.memory_backend, conversational.memory_options)
        found.append(("memory", memory, ConversationMemory, "GRAPH_SEARCH['CONVERSATIONAL']['MEMORY_BACKEND']",
                      ConversationMemory.options_setting))
    if config.streaming.enabled:
        found.append(("stream_format", BackendConfig(config.streaming.format), StreamFormat,
                      "GRAPH_SEARCH['STREAMING']['FORMAT']", None))
    return found


def _conversation_problems(config) -> list[Problem]:
    """Anonymous callers' conversations are bound to their session, so they need Django's sessions."""
    from django.conf import settings
    from django.contrib.sessions.middleware import SessionMiddleware

    if not config.conversational.enabled or config.api.require_authentication:
        return []
    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:  # Django's own checks report it
            continue
        if isinstance(middleware, type) and issubclass(middleware, SessionMiddleware):
            return []
    return [Problem("dgs.W007", "GRAPH_SEARCH['CONVERSATIONAL'] is enabled without SessionMiddleware: anonymous "
                    "callers' conversations are bound to their session, so they are answered 403.",
                    "Add 'django.contrib.sessions.middleware.SessionMiddleware' to MIDDLEWARE, or set "
                    "GRAPH_SEARCH['API']['REQUIRE_AUTHENTICATION'] to True.")]


def _transport_option_problems(config) -> list[Problem]:
    """``ASYNC_INDEXING`` keys that are not core's must be options of the selected transport: parameters of its
    constructor, of the type of their default."""
    import inspect

    from dgs_core.base import Transport
    from dgs_core.conf import type_problem
    from dgs_core.engine import resolve_class
    from dgs_core.exceptions import PluginError

    settings = config.async_indexing
    if not settings.options:
        return []
    try:
        transport = resolve_class("transport", settings.backend, Transport)
    except PluginError:  # its own check reports a transport that is not installed
        return []
    if transport.checks_options():  # checked with the other backends' options
        return []
    parameters = {name: p for name, p in inspect.signature(transport.__init__).parameters.items()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"}
    problems = []
    for name, value in settings.options.items():
        where = f"GRAPH_SEARCH['ASYNC_INDEXING'][{name.upper()!r}]"
        if name not in parameters:
            problems.append(Problem("dgs.W001", f"{where} is not a dgs setting nor an option of the "
                                    f"{settings.backend!r} transport, and is ignored.", "Check the spelling."))
        elif (problem := type_problem(where, value, parameters[name].default)) is not None:
            problems.append(problem)
    return problems


def _store_problems(config) -> list[Problem]:
    """Warn when the built index vanished from the store or is damaged, and when the store was filled by another
    embedder than the configured one (no model is loaded, and nothing is created)."""
    from dgs_core import engine
    from dgs_core.exceptions import CollectionDamaged, CollectionMissing

    try:
        store = engine.get_vector_store()
        store.health()
        if not store.live.exists():  # a fresh install: nothing to compare, and asking must not create it
            return []
        embedder = engine.get_embedder()
        info = store.embedder_info()
    except (CollectionMissing, CollectionDamaged) as exc:
        return [Problem("dgs.W008", f"The search index is unusable, searches answer 503: {exc}",
                        "Run `manage.py build_search_index --rebuild`: it writes a new collection and switches to it.")]
    except Exception:  # an unreachable store is a runtime condition (503), not a settings mistake
        return []
    problems = []
    if config.hybrid.default_mode != "vector" and "keyword" not in store.capabilities:
        problems.append(Problem(
            "dgs.W005", f"GRAPH_SEARCH['HYBRID']['DEFAULT_MODE'] is {config.hybrid.default_mode!r}, but the vector "
            f"store {type(store).__name__} has no keyword search; searches without a mode use 'vector'.",
            "Set DEFAULT_MODE to 'vector', or use a store with keyword search (every dgs store has it).",
        ))
    if info and info.get("embedder") != embedder.id:
        problems.append(Problem(
            "dgs.W004", f"The vector store holds vectors of {info.get('embedder')!r}, but the default embedding "
            f"profile is {embedder.id!r}; searches will fail until the index is rebuilt.",
            "Run `manage.py build_search_index --rebuild`, or switch GRAPH_SEARCH['EMBEDDINGS'] back.",
        ))
    elif problem := engine.text_format_problem(store):  # (a rebuild for another embedder fixes both)
        problems.append(Problem("dgs.W012", problem, "Run `manage.py build_search_index --rebuild`."))
    return problems


@checks.register("dgs")
def check_graph_search(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    config, problems = get_config_and_problems()
    problems = list(problems)
    problems += _model_problems(config)
    problems += _backend_problems(config)
    problems += _transport_option_problems(config)
    problems += _conversation_problems(config)
    problems += api_access.configuration_problems(config)
    problems += installation_problems()
    for found in get_registry().hook.dgs_system_checks(config=config):
        problems += found
    problems += text.template_problems(config)
    if not any(p.is_error for p in problems):
        problems += _store_problems(config)
    return [_message(p) for p in problems]
