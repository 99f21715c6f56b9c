"""CELERY_QUEUE: the celery transport's own ASYNC_INDEXING key, handed to it by dgs-core and checked against it."""

import copy

from django.conf import settings
from django.core import checks
from django.test import override_settings

from dgs_celery.transport import DEFAULT_QUEUE, CeleryTransport
from dgs_core.conf import get_config
from dgs_core.engine import get_transport
from tests.settings import QUEUE


def async_indexing(**keys):
    graph_search = copy.deepcopy(settings.GRAPH_SEARCH)
    graph_search["ASYNC_INDEXING"] = {"ENABLED": True, "BACKEND": "celery", **keys}
    return graph_search


def async_indexing_messages(graph_search):
    with override_settings(GRAPH_SEARCH=graph_search):
        return sorted((m.id, m.msg) for m in checks.run_checks() if "ASYNC_INDEXING" in m.msg)


def test_the_queue_is_the_transports_option():
    assert get_config().async_indexing.options == {"celery_queue": QUEUE}
    transport = get_transport()
    assert isinstance(transport, CeleryTransport) and transport.queue == QUEUE
    with override_settings(GRAPH_SEARCH=async_indexing()):
        assert get_transport().queue == DEFAULT_QUEUE == "search_indexing"


def test_a_misspelt_or_mistyped_queue_is_reported_by_manage_py_check():
    assert async_indexing_messages(async_indexing(CELERY_QUEUE="indexing")) == []
    ((code, message),) = async_indexing_messages(async_indexing(CELERY_QUEU="indexing"))
    assert code == "dgs.E009" and "GRAPH_SEARCH['ASYNC_INDEXING'] has unknown keys CELERY_QUEU" in message
    assert "the celery transport accepts only CELERY_QUEUE" in message and "Did you mean CELERY_QUEUE" in message
    ((code, message),) = async_indexing_messages(async_indexing(CELERY_QUEUE=["a", "b"]))
    assert code == "dgs.E009" and "GRAPH_SEARCH['ASYNC_INDEXING']['CELERY_QUEUE'] must be a non-empty string" in message
