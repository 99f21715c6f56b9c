"""The admin's "Graph search" section (CONTRACT §6): search and status pages, permissions, switch, legacy URL."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.utils import timezone

from dgs_core.models import IndexChange
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything, restricted_catalogue
from tests.shop.models import Product

pytestmark = pytest.mark.django_db
SEARCH_PAGE = "/admin/graph-search/"
STATUS_PAGE = "/admin/graph-search-status/"


@pytest.fixture
def catalogue():
    data = make_catalogue()
    index_everything()
    return data


@pytest.fixture
def superuser(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw")
    client.force_login(user)
    return user


def staff_with(client, django_user_model, *codenames):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_index_has_a_graph_search_section(client, superuser, catalogue):
    page = client.get("/admin/").content.decode()
    assert "Graph search" in page
    assert f'href="{SEARCH_PAGE}"' in page and f'href="{STATUS_PAGE}"' in page


def test_search_page_shows_hits_with_score_preview_and_change_link(client, superuser, catalogue):
    response = client.get(SEARCH_PAGE, {"q": "rugged outdoor gear"})
    page = response.content.decode()
    assert response.status_code == 200
    phone = catalogue["phone"]
    assert f'href="/admin/shop/product/{phone.pk}/change/"' in page and ">Acme X1 smartphone</a>" in page
    assert "Rugged outdoor gear" in page  # the preview of the indexed text
    rows = response.context["rows"]
    assert rows[0]["label"] == "Acme X1 smartphone" and f'{rows[0]["score"]:.3f}' in page
    # What matched: the relation path and its snippet.
    assert rows[0]["matched"].path == "brand__description"
    assert '<td class="matched"><code>brand__description</code>Rugged outdoor gear</td>' in page


def test_search_page_searches_by_the_chosen_mode(client, superuser, catalogue):
    rows = client.get(SEARCH_PAGE, {"q": "hose", "mode": "keyword"}).context["rows"]
    assert [row["label"] for row in rows] == ["Garden hose"]
    assert client.get(SEARCH_PAGE, {"q": "hose", "mode": "fuzzy"}).status_code == 400


def test_search_page_filters_by_model_and_min_score(client, superuser, catalogue):
    reviews = client.get(SEARCH_PAGE, {"q": "battery", "model": "shop.review"}).context["rows"]
    assert [row["model_name"] for row in reviews] == ["Review"]
    everything = client.get(SEARCH_PAGE, {"q": "smartphone camera"}).context["rows"]
    threshold = round(everything[0]["score"] - 0.001, 4)
    strict = client.get(SEARCH_PAGE, {"q": "smartphone camera", "min_score": threshold}).context["rows"]
    assert [row["label"] for row in strict] == [everything[0]["label"]]


@pytest.mark.parametrize("params", [{"q": "x", "min_score": "2"}, {"q": "x", "model": "auth.user"},
                                    {"q": "x" * 1025}])
def test_search_page_rejects_bad_input_on_the_form(client, superuser, catalogue, params):
    response = client.get(SEARCH_PAGE, params)
    assert response.status_code == 400 and response.context["form"].errors and not response.context["rows"]


def test_status_page_counts_rows_vectors_missing_and_stale(client, superuser, catalogue):
    Product.objects.create(name="Not indexed yet")
    response = client.get(STATUS_PAGE)
    assert response.status_code == 200
    table = {row["label"]: row["cells"] for row in response.context["table"]}
    assert table["shop.Product"][:4] == [3, 2, 1, 0] and table["shop.Review"][:4] == [1, 1, 0, 0]
    assert "build_search_index" in response.content.decode()


def test_status_page_shows_the_pending_and_failed_changes_of_automatic_indexing(client, superuser, catalogue):
    now = timezone.now()
    for pk, attempts in (("901", 0), ("902", 0), ("903", 2)):
        IndexChange.objects.create(document_id=f"shop.product:{pk}", action="index", attempts=attempts,
                                   next_attempt_at=now, changed_at=now, last_error="boom" if attempts else "")
    response = client.get(STATUS_PAGE)
    columns = response.context["columns"]
    table = {row["label"]: dict(zip(columns, row["cells"], strict=True)) for row in response.context["table"]}
    assert (table["shop.Product"]["Pending changes"], table["shop.Product"]["Failed changes"]) == (2, 1)
    assert (table["shop.Review"]["Pending changes"], table["shop.Review"]["Failed changes"]) == (0, 0)
    assert "--retry-failed" in response.content.decode()


@pytest.mark.parametrize(("url", "current"), [(SEARCH_PAGE, SEARCH_PAGE), (STATUS_PAGE, STATUS_PAGE)])
def test_the_sidebar_marks_only_the_page_shown(client, superuser, catalogue, url, current):
    page = client.get(url).content.decode()
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', page) == [current]


def test_a_nonsense_query_says_no_close_match_instead_of_listing_hits(client, superuser, catalogue):
    response = client.get(SEARCH_PAGE, {"q": "xqzzv plorf", "mode": "vector"})
    page = response.content.decode()
    assert response.context["rows"] and all(row["matched"] is None for row in response.context["rows"])
    assert 'id="graph-search-no-close-match"' in page and 'id="graph-search-results"' not in page


def test_staff_sees_only_models_they_may_view(client, django_user_model, catalogue):
    staff_with(client, django_user_model, "view_review")
    page = client.get("/admin/").content.decode()
    assert f'href="{SEARCH_PAGE}"' in page
    rows = client.get(SEARCH_PAGE, {"q": "phone battery"}).context["rows"]
    assert rows and {row["model_name"] for row in rows} == {"Review"}
    assert client.get(SEARCH_PAGE, {"q": "phone", "model": "shop.product"}).status_code == 400
    assert [row["label"] for row in client.get(STATUS_PAGE).context["table"]] == ["shop.Review"]


def test_staff_without_any_view_permission_gets_neither_section_nor_pages(client, django_user_model, catalogue):
    staff_with(client, django_user_model)
    assert f'href="{SEARCH_PAGE}"' not in client.get("/admin/").content.decode()
    assert client.get(SEARCH_PAGE).status_code == 403 and client.get(STATUS_PAGE).status_code == 403


def test_non_staff_users_are_sent_to_the_login_page(client, django_user_model, catalogue):
    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    for url in (SEARCH_PAGE, STATUS_PAGE):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_search_queryset_applies_in_the_admin(client, django_user_model):
    restricted_catalogue(hidden=4, visible=3)
    staff_with(client, django_user_model, "view_product")
    hooked = {"shop.Product": {"search_queryset": "tests.shop.search.visible_products"}}
    with override_settings(GRAPH_SEARCH=graph_search(models_options=hooked)):
        rows = client.get(SEARCH_PAGE, {"q": "Acme red smartphone"}).context["rows"]
    assert len(rows) == 3 and all(row["label"].startswith("Smartphone case") for row in rows)


def test_admin_search_enabled_false_removes_section_and_pages(client, superuser, catalogue):
    with override_settings(GRAPH_SEARCH=graph_search(ADMIN_SEARCH_ENABLED=False)):
        assert "Graph search" not in client.get("/admin/").content.decode()
        assert client.get(SEARCH_PAGE).status_code == 404 and client.get(STATUS_PAGE).status_code == 404


def test_unreachable_store_is_shown_on_the_page(client, superuser, catalogue, monkeypatch, caplog):
    from dgs_core import engine

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    store = engine.get_vector_store()
    monkeypatch.setattr(store, "search", refused)
    monkeypatch.setattr(store, "iter_ids", refused)
    search = client.get(SEARCH_PAGE, {"q": "phone"})
    status = client.get(STATUS_PAGE)
    for page in (search, status):  # a fixed message and a request id; the cause only in the log, under that id
        request_id = page["X-Request-ID"]
        assert page.status_code == 503 and "Connection refused" not in page.content.decode()
        assert f"Search is unavailable right now; please try again later. Request id: {request_id}" in \
            page.content.decode()
        assert any(request_id in r.getMessage() and "Connection refused" in r.getMessage() for r in caplog.records)
