"""Management commands: counts, skipping unchanged rows, pruning, status and clear, bad arguments."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dgs_core import engine
from tests.factories import make_catalogue
from tests.shop.models import Product

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def row(output, label):
    line = next(line for line in output.splitlines() if line.startswith(label))
    return [int(cell) for cell in line.split()[1:]]


def test_build_counts_skips_unchanged_and_prunes_deleted_rows():
    data = make_catalogue()
    assert row(run("build_search_index"), "shop.Product") == [2, 0, 0, 0, 0]
    assert row(run("build_search_index"), "shop.Product") == [0, 2, 0, 0, 0]
    Product.objects.filter(pk=data["hose"].pk).update(description="Thirty metres")
    data["phone"].delete()
    assert row(run("build_search_index"), "shop.Product") == [1, 0, 0, 1, 0]
    assert row(run("build_search_index", "--force"), "shop.Product") == [1, 0, 0, 0, 0]
    assert engine.get_vector_store().count(["shop.product"]) == 1


def test_status_and_clear_per_model():
    make_catalogue()
    run("build_search_index", "--model", "shop.Product")
    status = run("search_index_status")
    assert row(status, "shop.Product") == [2, 2, 0, 0, 0, 0] and row(status, "shop.Review") == [1, 0, 1, 0, 0, 0]
    assert "shop.Product: removed 2 vectors" in run("clear_search_index", "--model", "shop.Product")
    assert row(run("search_index_status", "--model", "shop.Product"), "shop.Product") == [2, 0, 2, 0, 0, 0]


def test_bad_arguments_exit_with_a_clear_message():
    with pytest.raises(CommandError, match="--model: 'shop.Nope' is not configured"):
        call_command("build_search_index", "--model", "shop.Nope")
    with pytest.raises(CommandError, match="--batch-size must be a positive integer"):
        call_command("build_search_index", "--batch-size", "0")


def test_progress_bar_goes_to_stderr():
    make_catalogue()
    err = StringIO()
    call_command("build_search_index", stdout=StringIO(), stderr=err)
    assert "shop.Product" in err.getvalue() and "2/2" in err.getvalue()


def test_dgs_plugins_lists_core_and_its_names():
    out = run("dgs_plugins")
    assert "dgs-core" in out and "embedder 'hashing'" in out and "vector store 'memory'" in out


def test_tables_align_text_left_numbers_right_and_wrap_a_long_last_column():
    from dgs_core.management.commands._util import format_table

    table = format_table(["plugin", "rows", "registers"],
                         [["core", 1200, "embedder 'hashing', vector store 'memory', transport 'sync'"],
                          ["faiss", 7, "vector store 'faiss'"]], width=50).splitlines()
    assert table == [
        "plugin  rows  registers",
        "------  ----  ------------------------------------",
        "core    1200  embedder 'hashing',",  # wrapped between the list's items, never inside one
        "              vector store 'memory',",
        "              transport 'sync'",
        "faiss      7  vector store 'faiss'",
    ]
    assert all(len(line) <= 50 for line in table)
