"""Backend options declared once: the declaration both builds a backend and reports mistakes.

A backend class (store, embedder, reranker, transport, memory) declares its options as ``Options``, a
frozen dataclass whose fields are the lower-case option names, with their types and defaults::

    class FaissVectorStore(VectorStore):
        @dataclass(frozen=True)
        class Options(VectorStore.Options):
            path: Optional[str] = option(None, help="directory of the index; omit it to keep it in memory")

``option()`` adds rules a type cannot say (``positive``, ``min``/``max``, an ``example``) and a one-line
help. Rules between options, or ones that look at the machine (a path that is a file, an environment
variable), go in ``__post_init__``, which raises :class:`ValueError`; its message names options as
``{name}`` placeholders, replaced by the full setting (``GRAPH_SEARCH['VECTOR_STORE']['OPTIONS']['PATH']``).

:func:`parse_options` turns the raw mapping of settings into an instance or a list of problems (unknown
keys with a "did you mean", wrong types, rules); ``manage.py check`` reports them without building the
backend, and the base classes' constructors raise them as one
:class:`~dgs_core.exceptions.ConfigurationError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any, ClassVar, Literal, Optional, Union

from dgs_core.exceptions import ConfigurationError

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def option(
    default: Any = MISSING,
    *,
    help: str = "",
    positive: bool = False,
    min: Optional[float] = None,
    max: Optional[float] = None,
    unit: str = "",
    example: Any = None,
    listed: bool = True,
) -> Any:
    """A declared option: its default and the rules its value must follow.

    ``positive``: a number above 0; ``min``/``max``: inclusive bounds of a number, or of a string's length
    (``min=1``: not empty); ``unit`` and ``example`` complete the message of a wrong value ("a positive
    number of seconds", "(e.g. 64)"); ``listed=False`` leaves an option core passes itself (a collection,
    the model name) out of the list of accepted keys. Mutable defaults (dicts, lists) are copied per instance.
    """
    metadata = {"help": help, "positive": positive, "min": min, "max": max, "unit": unit, "example": example,
                "listed": listed}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Options:
    """The options of a backend that takes none; every declaration derives from it."""


def accepted_keys(declaration: type) -> list[str]:
    """The UPPER_CASE keys a user may set, in declaration order."""
    return [f.name.upper() for f in dataclasses.fields(declaration) if f.metadata.get("listed", True)]


def parse_options(
    declaration: type,
    raw: Mapping[str, Any],
    setting: str = "OPTIONS",
    backend: str = "backend",
    aliases: Optional[Mapping[str, str]] = None,
) -> tuple[Optional[Any], list[str]]:
    """``(options, [])``, or ``(None, problems)`` with a message per mistake in ``raw``.

    ``raw`` has lower-case keys (conf lower-cases settings); ``aliases`` maps old names to current ones.
    ``setting`` is how messages name the mapping (``GRAPH_SEARCH['VECTOR_STORE']['OPTIONS']``), and
    ``backend`` how they name the backend ("the faiss vector store").
    """
    aliases = aliases or {}
    declared = {f.name: f for f in dataclasses.fields(declaration)}
    hints = typing.get_type_hints(declaration)
    problems: list[str] = []
    values: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        name = aliases.get(str(key).lower(), str(key).lower())
        if name not in declared:
            unknown.append(str(key).upper())
        elif name in values:
            problems.append(f"{_name(setting, name)} is given twice (once under an older name); keep one.")
        else:
            values[name] = value
    if unknown:
        problems.append(_unknown(unknown, declaration, setting, backend))
    for name, value in values.items():
        if not _valid(value, hints[name], declared[name].metadata):
            what = _describe(hints[name], declared[name].metadata)
            problems.append(f"{_name(setting, name)} must be {what}, not {value!r}.")
    if problems:
        return None, problems
    try:
        return declaration(**values), []
    except ValueError as exc:
        return None, [PLACEHOLDER.sub(lambda m: _name(setting, m[1]) if m[1] in declared else m[0], str(exc))]


class Configurable:
    """What a backend base class gets from its declaration: ``Options``, checked and parsed.

    A class that declares no ``Options`` of its own (it inherits its family's) is not checked: its
    options go to its constructor as they are, as before declarations existed. Nor is a subclass whose
    ``__init__`` takes more than the declaration it inherits (it should declare them): its own constructor
    reads those, and the base parses the rest.
    """

    Options: ClassVar[type] = Options
    #: How messages name the options when the caller gives no setting (a backend built in code).
    options_setting: ClassVar[str] = "OPTIONS"
    #: What messages call the backend family ("vector store").
    family: ClassVar[str] = "backend"
    #: Old option names accepted for compatibility, mapped to current ones.
    legacy_options: ClassVar[dict[str, str]] = {}
    #: Set by the registry to the name the class was registered under.
    registered_name: ClassVar[str] = ""

    @classmethod
    def declares_options(cls) -> bool:
        """Whether the class (or a backend class it derives from) declared ``Options`` beyond its family's."""
        family_bases = [c for c in cls.__mro__ if "family" in c.__dict__ and c is not Configurable]
        return bool(family_bases) and cls.Options is not family_bases[-1].Options

    @classmethod
    def checks_options(cls) -> bool:
        """Whether ``Options`` describes every option the constructor takes: declared, and by a class at or below
        the one whose ``__init__`` the class uses."""
        if not cls.declares_options():
            return False
        declarer = next(c for c in cls.__mro__ if "Options" in vars(c))
        constructor = next(c for c in cls.__mro__ if "__init__" in vars(c))
        return issubclass(declarer, constructor)

    @classmethod
    def option_problems(cls, raw: Mapping[str, Any], setting: Optional[str] = None) -> list[str]:
        """Every mistake in ``raw`` (lower-case keys), found without building the backend; none for a class whose
        options are not all declared (:meth:`checks_options`)."""
        if not cls.checks_options():
            return []
        return parse_options(cls.Options, raw, setting or cls.options_setting, cls._describe_backend(),
                             cls.legacy_options)[1]

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any], setting: Optional[str] = None) -> Any:
        """``raw`` as an ``Options`` instance; :class:`ConfigurationError` listing every mistake."""
        options, problems = parse_options(cls.Options, raw, setting or cls.options_setting, cls._describe_backend(),
                                          cls.legacy_options)
        if problems:
            raise ConfigurationError(" ".join(problems))
        return options

    @classmethod
    def _describe_backend(cls) -> str:
        return f"the {cls.registered_name} {cls.family}" if cls.registered_name else cls.__name__


def _name(setting: str, name: str) -> str:
    return f"{setting}['{name.upper()}']"


def _unknown(keys: list[str], declaration: type, setting: str, backend: str) -> str:
    accepted = accepted_keys(declaration)
    if not accepted:
        listing = "no options"
    elif len(accepted) == 1:
        listing = f"only {accepted[0]}"
    else:
        listing = ", ".join(accepted)
    message = f"{setting} has unknown keys {', '.join(keys)}; {backend} accepts {listing}."
    guesses = {key: difflib.get_close_matches(key, accepted, n=1) for key in keys}
    hints = [f"{guess[0]} for {key}" for key, guess in guesses.items() if guess]
    return message + (f" Did you mean {', '.join(hints)}?" if hints else "")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def _valid(value: Any, hint: Any, rules: Mapping[str, Any]) -> bool:
    if not _matches(value, hint):
        return False
    if value is None or isinstance(value, bool):
        return True
    size = len(value) if isinstance(value, str) else value if isinstance(value, (int, float)) else None
    if size is None:
        return True
    if rules.get("positive") and size <= 0:
        return False
    low, high = rules.get("min"), rules.get("max")
    return (low is None or size >= low) and (high is None or size <= high)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if _is_union(hint):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    kind = origin or hint
    if kind in (list, tuple, Sequence):
        return isinstance(value, (list, tuple))
    if kind in (dict, Mapping):
        return isinstance(value, Mapping)
    return isinstance(value, kind)


def _describe(hint: Any, rules: Mapping[str, Any]) -> str:
    if _is_union(hint):
        kinds = [_describe(arg, rules) for arg in typing.get_args(hint) if arg is not type(None)]
        return " or ".join(dict.fromkeys(kinds))
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(str(choice) for choice in typing.get_args(hint))
    low, high = rules.get("min"), rules.get("max")
    example = f" (e.g. {rules['example']!r})" if rules.get("example") is not None else ""
    unit = f" of {rules['unit']}" if rules.get("unit") else ""
    if hint in (int, float):
        noun = "integer" if hint is int else "number"
        if rules.get("positive"):
            text = f"a positive {noun}"
        elif low is not None and high is not None:
            text = f"{'an' if hint is int else 'a'} {noun} from {low!r} to {high!r}"
        elif low is not None:
            text = f"{'an' if hint is int else 'a'} {noun} >= {low!r}"
        elif high is not None:
            text = f"{'an' if hint is int else 'a'} {noun} <= {high!r}"
        else:
            text = f"{'an' if hint is int else 'a'} {noun}"
        return text + unit + example
    if hint is str:
        return ("a non-empty string" if low else "a string") + example
    if hint is bool:
        return "True or False"
    if hint is os.PathLike:
        return "a path"
    kind = typing.get_origin(hint) or hint
    if kind in (dict, Mapping):
        return "a dict"
    if kind in (list, tuple, Sequence):
        return "a list"
    return f"a {getattr(kind, '__name__', kind)}"
