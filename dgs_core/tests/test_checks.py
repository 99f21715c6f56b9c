"""Every GRAPH_SEARCH mistake surfaces in `manage.py check` with an id, the key and the fix."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

BASE = {"VECTOR_STORE": {"BACKEND": "memory"}, "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}


def dgs_messages(**graph_search):
    with override_settings(GRAPH_SEARCH={**BASE, **graph_search}):
        return [m for m in checks.run_checks() if m.id.startswith("dgs.")]


def test_valid_configuration_has_no_messages():
    assert dgs_messages(MODELS=[{"model": "shop.Product", "fields": ["name", "tags__name"]}]) == []


def test_unknown_model_lists_the_apps_models():
    (msg,) = dgs_messages(MODELS=[{"model": "shop.Prodct", "fields": ["name"]}])
    assert msg.id == "dgs.E003" and "shop.Prodct" in msg.msg and "shop.Product" in msg.hint


def test_unknown_field_path_names_the_part():
    (msg,) = dgs_messages(MODELS=[{"model": "shop.Product", "fields": ["name", "brand__nmae"]}])
    assert msg.id == "dgs.E005" and "brand__nmae" in msg.msg and "'nmae'" in msg.msg and "description" in msg.msg


@pytest.mark.parametrize(("label", "suggestion"), [("shop.Prodcut", "shop.Product"), ("Product", "shop.Product")])
def test_a_misspelt_model_label_gets_the_model_it_resembles(label, suggestion):
    (msg,) = dgs_messages(MODELS=[{"model": label, "fields": ["name"]}])
    assert msg.id == "dgs.E003" and msg.hint.startswith(f"Did you mean {suggestion!r}?")


def test_a_misspelt_backend_name_gets_the_name_it_resembles():
    (msg,) = dgs_messages(EMBEDDINGS={"default": {"BACKEND": "hashng"}})
    assert msg.id == "dgs.E007" and "Did you mean 'hashing'?" in msg.msg


def test_a_misspelt_field_path_gets_the_field_it_resembles():
    (msg,) = dgs_messages(MODELS=[{"model": "shop.Product", "fields": ["name", "brand__nmae"]}])
    assert "Did you mean 'name'?" in msg.msg


def test_a_model_label_without_a_dot_is_reported_without_a_python_error(caplog):
    from dgs_core.indexing import signals

    (msg,) = dgs_messages(MODELS=[{"model": "Product", "fields": ["name"]}])
    assert msg.id == "dgs.E003" and "'Product'" in msg.msg and "app_label.ModelName" in msg.hint
    with override_settings(GRAPH_SEARCH={"MODELS": [{"model": "Product", "fields": ["name"]}]}):
        signals.connect()  # as at start-up, before the checks run
    signals.connect()
    assert "names 'Product', not 'app_label.ModelName'" in caplog.text and "unpack" not in caplog.text


def test_weight_and_filter_fields_are_checked_too():
    messages = dgs_messages(MODELS=[{"model": "shop.Product", "fields": ["name"], "weight_fields": {"nam": 2.0}}])
    assert [m.id for m in messages] == ["dgs.E005"]


@pytest.fixture
def core_only(monkeypatch):
    """The plugin registry of a site where only dgs-core is installed (as DGS_DISABLE_PLUGIN_AUTOLOAD=1)."""
    from dgs_core import plugins

    monkeypatch.setattr(plugins, "_registry", plugins.PluginRegistry(autoload=False))


def test_missing_known_plugin_gives_the_pip_command(core_only):
    (msg,) = dgs_messages(VECTOR_STORE={"BACKEND": "chroma"})
    assert msg.id == "dgs.E006"
    assert 'pip install --find-links dist "dgs-core[chroma]"' in msg.msg and "memory" in msg.msg


def test_unknown_plugin_name_lists_installed_names():
    (msg,) = dgs_messages(EMBEDDINGS={"default": {"BACKEND": "word2vec"}})
    assert msg.id == "dgs.E007" and "'word2vec'" in msg.msg and "hashing" in msg.msg


def test_dotted_path_must_import_and_subclass_the_base():
    (msg,) = dgs_messages(VECTOR_STORE={"BACKEND": "tests.shop.models.Product"})
    assert msg.id == "dgs.E007" and "subclass" in msg.msg
    (msg,) = dgs_messages(VECTOR_STORE={"BACKEND": "nowhere.Store"})
    assert msg.id == "dgs.E007" and "cannot be imported" in msg.msg
    assert dgs_messages(VECTOR_STORE={"BACKEND": "dgs_core.backends.MemoryVectorStore"}) == []


def test_wrong_types_surface_in_manage_py_check():
    with override_settings(GRAPH_SEARCH={**BASE, "DEFAULT_RESULTS_LIMIT": "20"}):
        with pytest.raises(SystemCheckError, match=r"dgs.E002.*DEFAULT_RESULTS_LIMIT"):
            call_command("check")


def test_legacy_path_of_a_missing_plugin_warns_and_errors_helpfully(core_only):
    messages = dgs_messages(VECTOR_STORE={"BACKEND": "django_graph_search.backends.QdrantBackend"})
    assert sorted(m.id for m in messages) == ["dgs.E006", "dgs.W002"]


def test_checks_name_the_missing_pipeline_plugin(core_only):
    messages = dgs_messages(LANGGRAPH={"ENABLED": True})
    assert ("dgs.E006" in {m.id for m in messages}) and any(
        "GRAPH_SEARCH['LANGGRAPH']" in m.msg and 'pip install --find-links dist "dgs-core[langgraph]"' in m.hint
        for m in messages)


def test_a_disabled_section_of_a_missing_plugin_is_a_warning_naming_the_extra(core_only):
    (msg,) = dgs_messages(LANGGRAPH={"ENABLED": False})
    assert msg.id == "dgs.W006" and 'pip install --find-links dist "dgs-core[langgraph]"' in msg.hint


def test_checks_report_unknown_memory_and_stream_format_names():
    messages = dgs_messages(CONVERSATIONAL={"ENABLED": True, "MEMORY_BACKEND": "memcache"},
                            STREAMING={"ENABLED": True, "FORMAT": "jsonl"})
    assert len(messages) == 2 and all(m.id == "dgs.E007" for m in messages)
    assert "inmemory" in messages[0].msg and "ndjson, sse" in messages[1].msg
