"""Callables named in GRAPH_SEARCH['API'] by the policy tests (dotted paths must point somewhere real)."""


def only_with_header(request):
    """A plain-callable permission: the request must carry ``X-Search-Key: open-sesame``."""
    return request.headers.get("X-Search-Key") == "open-sesame"


def never(request):
    """A plain-callable throttle that refuses everything."""
    return False
