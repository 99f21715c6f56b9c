"""Access control on every endpoint: DRF's authentication, permission and throttle classes from GRAPH_SEARCH['API']
or the project's REST_FRAMEWORK defaults; 401 vs 403, CSRF, Retry-After; throttle counts in locmem and Redis."""

import base64
import json
import os
import subprocess
import sys
import textwrap
import types
import uuid
from pathlib import Path

import pytest
from django.contrib import admin
from django.core import checks
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import path

from dgs_core.conf import ApiConfig
from dgs_core.rest.access import build_access
from dgs_core.rest.requirements import REQUIRED_APPS
from tests.factories import make_catalogue
from tests.rest_support import graph_search, index_everything

pytestmark = pytest.mark.django_db
TESTS_ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def catalogue():
    cache.clear()  # throttle counts of earlier tests
    data = make_catalogue()
    index_everything()
    return data


def endpoints(catalogue):
    """One request per endpoint: (method, path, body)."""
    return [
        ("get", "/api/search/?q=phone", None),
        ("get", f"/api/search/similar/shop.Product/{catalogue['phone'].pk}/", None),
        ("post", "/api/search/conversation/", {"query": "phone"}),
        ("delete", "/api/search/conversation/?conversation_id=abc", None),
        ("get", "/api/search/stream/?q=phone", None),
        ("post", "/api/search/stream/", {"q": "phone"}),
        ("get", "/api/search/schema/", None),
    ]


def call(client, method, path, body, **extra):
    if body is None:
        return getattr(client, method)(path, **extra)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", **extra)


def test_require_authentication_covers_every_endpoint(client, catalogue, django_user_model):
    with override_settings(GRAPH_SEARCH=graph_search(api={"REQUIRE_AUTHENTICATION": True})):
        for method, path, body in endpoints(catalogue):
            response = call(client, method, path, body)
            assert response.status_code == 401, path
            assert response.json() == {"error": "Authentication is required to use the search API."}
            assert response["WWW-Authenticate"] == 'Basic realm="api"'  # DRF's BasicAuthentication challenge
        client.force_login(django_user_model.objects.create_user("reader", password="pw"))
        assert client.get("/api/search/?q=phone").status_code == 200
        assert client.get(f"/api/search/similar/shop.Product/{catalogue['phone'].pk}/").status_code == 200


def test_drf_authentication_classes_identify_the_user(client, catalogue, django_user_model):
    django_user_model.objects.create_user("reader", password="s3cret")
    token = base64.b64encode(b"reader:s3cret").decode()
    wrong = base64.b64encode(b"reader:guess").decode()
    with override_settings(GRAPH_SEARCH=graph_search(api={"REQUIRE_AUTHENTICATION": True})):
        assert client.get("/api/search/?q=phone", HTTP_AUTHORIZATION=f"Basic {token}").status_code == 200
        refused = client.get("/api/search/?q=phone", HTTP_AUTHORIZATION=f"Basic {wrong}")
    assert refused.status_code == 401 and refused.json() == {"error": "Invalid username/password."}


def test_drf_permission_classes_answer_401_or_403(client, catalogue, django_user_model):
    api = {"PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"]}
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        for method, path, body in endpoints(catalogue):
            assert call(client, method, path, body).status_code == 401, path
        client.force_login(django_user_model.objects.create_user("reader", password="pw"))
        for method, path, body in endpoints(catalogue):
            response = call(client, method, path, body)
            assert response.status_code == 403, path
            assert response.json() == {"error": "You may not use the search API."}
        client.force_login(django_user_model.objects.create_user("admin", password="pw", is_staff=True))
        assert client.get("/api/search/?q=phone").status_code == 200


def test_dotted_callable_permissions(client, catalogue, django_user_model):
    api = {"PERMISSION_CLASSES": ["tests.policy_support.only_with_header"]}
    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        assert client.get("/api/search/?q=phone").status_code == 403
        assert client.get("/api/search/?q=phone", HTTP_X_SEARCH_KEY="open-sesame").status_code == 200


def test_search_rate_throttle_uses_the_scope_of_the_caller(client, catalogue, django_user_model):
    api = {"THROTTLE_CLASSES": ["dgs_core.rest.access.SearchRateThrottle"],
           "THROTTLE_RATES": {"search": "3/minute", "search_authenticated": "5/minute"}}
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        statuses = [client.get("/api/search/?q=phone").status_code for _ in range(3)]
        similar = client.get(f"/api/search/similar/shop.Product/{catalogue['phone'].pk}/")
        assert statuses == [200, 200, 200] and similar.status_code == 429
        assert 1 <= int(similar["Retry-After"]) <= 60 and "Too many requests" in similar.json()["error"]
        client.force_login(django_user_model.objects.create_user("reader", password="pw"))
        statuses = [client.get("/api/search/?q=phone").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        other = Client(REMOTE_ADDR="10.0.0.9")  # another anonymous client has its own budget
        assert other.get("/api/search/?q=phone").status_code == 200


def test_drf_throttle_classes_and_plain_callables(client, catalogue):
    with override_settings(GRAPH_SEARCH=graph_search(api={"THROTTLE_CLASSES": ["tests.policy_support.never"]})):
        response = client.get("/api/search/schema/")
        assert response.status_code == 429 and response["Retry-After"] == "60"
    rest_framework = {"DEFAULT_THROTTLE_RATES": {"search": "1/minute"}}
    api = {"THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"]}
    with override_settings(REST_FRAMEWORK=rest_framework, GRAPH_SEARCH=graph_search(api=api)):
        from rest_framework.throttling import ScopedRateThrottle

        ScopedRateThrottle.THROTTLE_RATES = rest_framework["DEFAULT_THROTTLE_RATES"]  # DRF reads it at import
        try:
            assert [client.get("/api/search/?q=phone").status_code for _ in range(2)] == [200, 429]
        finally:
            ScopedRateThrottle.THROTTLE_RATES = {}


def test_session_users_need_csrf_for_posts(catalogue, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    with override_settings(GRAPH_SEARCH=graph_search(CONVERSATIONAL={"ENABLED": True})):
        response = client.post("/api/search/conversation/", "{}", content_type="application/json")
    assert response.status_code == 403 and response.json()["error"].startswith("CSRF Failed")


def test_session_users_need_csrf_on_every_post_and_delete(catalogue, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    changing = [(method, path, body) for method, path, body in endpoints(catalogue) if method != "get"]
    with override_settings(GRAPH_SEARCH=graph_search(CONVERSATIONAL={"ENABLED": True},
                                                     STREAMING={"ENABLED": True})):
        for method, path, body in changing:
            response = call(client, method, path, body)
            assert response.status_code == 403 and response.json()["error"].startswith("CSRF Failed"), path
        token = client.get("/admin/login/").cookies["csrftoken"].value
        for method, path, body in changing:
            assert call(client, method, path, body, HTTP_X_CSRFTOKEN=token).status_code in (200, 403), path
        assert call(client, "post", "/api/search/conversation/", {"query": "phone"},
                    HTTP_X_CSRFTOKEN=token).status_code == 200


def test_every_endpoint_answers_429_with_retry_after(client, catalogue):
    api = {"THROTTLE_CLASSES": ["dgs_core.rest.access.SearchRateThrottle"], "THROTTLE_RATES": {"search": "1/minute"}}
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        for method, path, body in endpoints(catalogue):
            cache.clear()
            assert call(client, method, path, body).status_code != 429, path
            refused = call(client, method, path, body)
            assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60, path
            assert refused.json()["error"] == f"Too many requests; retry in {refused['Retry-After']} seconds."


def test_rest_framework_defaults_apply_when_graph_search_names_no_classes(client, catalogue, monkeypatch):
    """A new user's settings (the issue's report): DRF's anonymous throttle at 3/minute lets no 4th search in."""
    from rest_framework.throttling import AnonRateThrottle

    rates = {"anon": "3/minute"}
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)  # DRF reads the rates once, at import
    rest_framework = {"DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
                      "DEFAULT_THROTTLE_RATES": rates}
    with override_settings(REST_FRAMEWORK=rest_framework):
        statuses = [client.get("/api/search/?q=phone").status_code for _ in range(5)]
        refused = client.get(f"/api/search/similar/shop.Product/{catalogue['phone'].pk}/")
    assert statuses == [200, 200, 200, 429, 429]
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_graph_search_classes_take_precedence_over_rest_framework(client, catalogue, django_user_model):
    django_user_model.objects.create_user("reader", password="s3cret")
    basic = "Basic " + base64.b64encode(b"reader:s3cret").decode()
    locked = {"DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    with override_settings(REST_FRAMEWORK=locked):
        refused = client.get("/api/search/?q=phone")
        assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Basic realm="api"'
        opened = graph_search(api={"PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]})
        with override_settings(GRAPH_SEARCH=opened):
            assert client.get("/api/search/?q=phone").status_code == 200
    basic_only = graph_search(api={"REQUIRE_AUTHENTICATION": True,
                                   "AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]})
    client.force_login(django_user_model.objects.get(username="reader"))
    with override_settings(GRAPH_SEARCH=basic_only):
        assert client.get("/api/search/?q=phone").status_code == 401  # the session is not an accepted credential
        assert client.get("/api/search/?q=phone", HTTP_AUTHORIZATION=basic).status_code == 200


def test_misconfigured_classes_name_the_entry(client, catalogue):
    api = {"AUTHENTICATION_CLASSES": ["rest_framework.permissions.AllowAny"],
           "THROTTLE_CLASSES": ["tests.policy_support.never"]}
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        (error,) = [m for m in checks.run_checks() if m.id == "dgs.E011"]
        assert client.get("/api/search/?q=phone").status_code == 503
    assert "AUTHENTICATION_CLASSES entry 'rest_framework.permissions.AllowAny' is not a subclass of " \
           "rest_framework.authentication.BaseAuthentication" in error.msg


def test_throttle_counts_are_shared_by_workers_through_redis(catalogue):
    pytest.importorskip("redis", reason="the redis client is needed for Django's RedisCache")
    prefix = f"dgs-test-{uuid.uuid4().hex}"
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": prefix}}
    api = {"THROTTLE_CLASSES": ["dgs_core.rest.access.SearchRateThrottle"], "THROTTLE_RATES": {"search": "2/minute"}}
    with override_settings(CACHES=caches, GRAPH_SEARCH=graph_search(api=api)):
        assert [Client().get("/api/search/?q=phone").status_code for _ in range(2)] == [200, 200]
        # A second worker process with the same Redis: the two requests above count there too.
        script = f"""
            import django, json
            from django.conf import settings
            settings.CACHES = {caches!r}
            settings.GRAPH_SEARCH = {graph_search(api=api)!r}
            django.setup()
            from django.test.utils import setup_test_environment
            setup_test_environment()  # lets the test client's host in
            from django.test import Client
            response = Client().get("/api/search/schema/")
            print(json.dumps([response.status_code, response.json()]))
        """
        status, body = run_python(script)
        assert status == 429 and "Too many requests" in body["error"]


def test_a_site_missing_the_rest_apps_is_told_by_a_check(settings):
    """The REST URLs need DRF's and drf-spectacular's apps: `manage.py check` says so (dgs.E012), naming them."""
    without = [app for app in settings.INSTALLED_APPS if app not in REQUIRED_APPS]
    with override_settings(INSTALLED_APPS=without):
        (error,) = [m for m in checks.run_checks() if m.id == "dgs.E012"]
        assert "'rest_framework', 'drf_spectacular', 'drf_spectacular_sidecar' in INSTALLED_APPS" in error.msg
        no_api = types.ModuleType("urls_without_search_api")
        no_api.urlpatterns = [path("admin/", admin.site.urls)]
        with override_settings(ROOT_URLCONF=no_api):
            assert not [m for m in checks.run_checks() if m.id == "dgs.E012"]  # the Python API alone needs none
    assert not [m for m in checks.run_checks() if m.id == "dgs.E012"]


def run_python(script):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(TESTS_ROOT)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=TESTS_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_misconfigured_policy_is_a_system_check_error_and_503(client, catalogue, caplog):
    api = {"PERMISSION_CLASSES": ["tests.no_such_module.Permission"], "THROTTLE_RATES": {"search": "lots"}}
    with override_settings(GRAPH_SEARCH=graph_search(api=api)):
        errors = [m for m in checks.run_checks() if m.id == "dgs.E011"]
        response = client.get("/api/search/?q=phone")
    assert len(errors) == 1 and "THROTTLE_RATES['search']: 'lots' is not a rate like '60/minute'" in errors[0].msg
    assert response.status_code == 503 and "misconfigured" in response.json()["error"]


@pytest.mark.parametrize("rate", ["60/minute", "5/s", "100/hour", "1000/day", "2/m", None])
def test_throttle_rates_are_what_drf_reads(rate):
    build_access(ApiConfig(throttle_rates={"search": rate}))  # None: the scope is not limited


@pytest.mark.parametrize("rate", ["5/10s", "lots", "x/minute", 60])
def test_rates_drf_cannot_read_are_refused(rate):
    with pytest.raises(ValueError, match=r"THROTTLE_RATES\['search'\]: .* is not a rate like '60/minute'"):
        build_access(ApiConfig(throttle_rates={"search": rate}))


def test_a_site_that_names_no_throttle_gets_search_rate_throttle(client, catalogue, django_user_model):
    """Issue 18 point 8: without THROTTLE_CLASSES nor REST_FRAMEWORK's, THROTTLE_RATES apply (60/minute per address
    and 300/minute per user by default); rates of None switch it off."""
    from dgs_core.rest.access import SearchRateThrottle, get_access, throttle_classes

    with override_settings(REST_FRAMEWORK={}):
        assert throttle_classes(get_access()) == (SearchRateThrottle,)
        with override_settings(GRAPH_SEARCH=graph_search(api={"THROTTLE_RATES": {"search": "3/minute"}})):
            statuses = [client.get("/api/search/?q=phone").status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
        cache.clear()
        unthrottled = graph_search(api={"THROTTLE_RATES": {"search": None, "search_authenticated": None}})
        with override_settings(GRAPH_SEARCH=unthrottled):
            assert {client.get("/api/search/?q=phone").status_code for _ in range(65)} == {200}
        cache.clear()
        statuses = [client.get("/api/search/?q=phone").status_code for _ in range(61)]
        assert statuses == [200] * 60 + [429]  # the documented default: 60/minute per address
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_CLASSES": []}):
        assert throttle_classes(get_access()) == ()
