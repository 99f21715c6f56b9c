"""Text a caller sends that no store or embedder can take: NUL characters and lone UTF-16 surrogates.

A NUL (``"\\x00"``) is removed: PostgreSQL refuses it in text, and it carries no meaning in a search. A lone
surrogate (``"\\ud800"``, which a JSON body can spell as an escape) is not Unicode text: nothing can encode it as
UTF-8 (not the stores, not the embedders, not the JSON answer that would echo it), so it is refused with an
:class:`~dgs_core.exceptions.InvalidParameterError` naming the parameter: a 400, never a 503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from dgs_core.exceptions import InvalidParameterError

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse(parameter: str) -> InvalidParameterError:
    # ascii(): a parameter *name* may hold the surrogate too; the message must stay encodable.
    name = parameter if not LONE_SURROGATE.search(parameter) else ascii(parameter)
    return InvalidParameterError(parameter, f"'{name}' is not valid Unicode text: it holds a lone UTF-16 surrogate "
                                            "(such as \\ud800); send well-formed UTF-8.")


def clean_text(parameter: str, value: str) -> str:
    """``value`` without NUL characters; :class:`InvalidParameterError` naming ``parameter`` when it holds a lone
    surrogate."""
    if LONE_SURROGATE.search(value):
        raise _refuse(parameter)
    return value.replace("\x00", "")


def first_malformed(data: Any, parameter: Optional[str] = None) -> Optional[str]:
    """The name of the first parameter of ``data`` (a request's parameters or JSON body: mappings, lists, strings)
    whose name or text holds a lone surrogate, or None. Nested values are named by their top-level parameter; a
    body that is no mapping is named ``body``."""
    if isinstance(data, str):
        return (parameter or "body") if LONE_SURROGATE.search(data) else None
    if isinstance(data, Mapping):
        items = data.lists() if hasattr(data, "lists") else data.items()  # a QueryDict: every value of a name
        for key, value in items:
            name = parameter or str(key)
            if LONE_SURROGATE.search(str(key)):
                return name
            found = first_malformed(value, name)
            if found is not None:
                return found
    elif isinstance(data, (list, tuple)):
        for item in data:
            found = first_malformed(item, parameter)
            if found is not None:
                return found
    return None


def refuse_malformed(data: Any) -> None:
    """:class:`InvalidParameterError` naming the first parameter of ``data`` that is not Unicode text."""
    parameter = first_malformed(data)
    if parameter is not None:
        raise _refuse(parameter)
