"""Admin strings go through Django's translation machinery; the English and Russian catalogues are complete
and compiled. The catalogue checks need GNU gettext (Debian package ``gettext``), like makemessages does."""

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dgs_core
from tests.factories import make_catalogue
from tests.rest_support import index_everything

PACKAGE = Path(dgs_core.__file__).resolve().parent  # the installed package: its catalogues ship with it
LOCALES = ("en", "ru")


@pytest.fixture
def ru_admin(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    make_catalogue()
    index_everything()
    return client


@pytest.mark.django_db
def test_admin_section_speaks_russian(ru_admin):
    index = ru_admin.get("/admin/").content.decode()
    assert "Графовый поиск" in index and "Поиск" in index and "Статус индексации" in index
    response = ru_admin.get("/admin/graph-search/", {"q": "rugged outdoor gear"})
    search = response.content.decode()
    for label in ("Поиск", "Запрос", "Модель", "Минимальная оценка", "Все модели", "Оценка", "Проиндексированный текст",
                  f"{len(response.context['rows'])} результат"):
        assert label in search, label
    status = ru_admin.get("/admin/graph-search-status/").content.decode()
    assert "Строк в базе данных" in status and "Векторов в хранилище" in status


def gettext_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install GNU gettext (apt-get install gettext) to check the catalogues.")
    return path


def test_russian_catalogue_translates_every_string(tmp_path):
    """makemessages over a copy of the package finds no msgid the committed Russian catalogue lacks."""
    copy = tmp_path / "dgs_core"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()
    gettext_tool("xgettext")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # no project needed
    result = subprocess.run([sys.executable, "-m", "django", "makemessages", "-l", "ru", "--no-location"],
                            cwd=copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    fresh = copy / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    committed = PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    compared = subprocess.run([gettext_tool("msgcmp"), str(committed), str(fresh)], capture_output=True, text=True)
    assert compared.returncode == 0, (
        f"Untranslated or missing strings:\n{compared.stderr}\nRun `django-admin makemessages -l ru -l en` in "
        "dgs_core/dgs_core, translate, then `django-admin compilemessages`."
    )


@pytest.mark.parametrize("language", LOCALES)
def test_compiled_catalogues_match_their_sources(tmp_path, language):
    source = PACKAGE / "locale" / language / "LC_MESSAGES" / "django.po"
    compiled = tmp_path / "django.mo"
    result = subprocess.run([gettext_tool("msgfmt"), "--check", "-o", str(compiled), str(source)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(compiled, "rb") as fresh, open(source.with_suffix(".mo"), "rb") as shipped:
        assert gettext.GNUTranslations(fresh)._catalog == gettext.GNUTranslations(shipped)._catalog, (
            f"{source.with_suffix('.mo')} is out of date: run `django-admin compilemessages` in dgs_core/dgs_core."
        )
