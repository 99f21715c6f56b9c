"""In a real browser: the demo's public search page, and the admin's Graph search section (log in, search,
see hits with scores, follow a hit to its change page, open the index status page)."""

import re

import pytest

from chinook.models import Artist

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCORE = re.compile(r"^(0|1)\.\d{3}$")


def test_public_search_page_lists_hits_with_scores(page, site_url, screenshot):
    page.goto(f"{site_url}/")
    page.fill("input[name=q]", "AC/DC")
    page.select_option("select[name=model]", "chinook.artist")
    page.click("button[type=submit]")
    page.wait_for_selector("#results li")
    screenshot("results")
    first = page.locator("#results li").first
    assert first.locator(".title").inner_text().strip() == "AC/DC"
    assert first.locator(".kind").inner_text().strip().lower() == "artist"
    assert re.fullmatch(r"(0|1)\.\d{2}", first.locator(".score").inner_text().strip())


def test_admin_search_and_index_status(page, site_url, screenshot, django_user_model, search_index):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-pw")
    page.goto(f"{site_url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "browser-pw")
    page.click("input[type=submit]")
    section = page.locator("div.app-dgs_core")
    section.wait_for()
    screenshot("index")
    assert section.locator("caption").text_content().strip() == "Graph search"

    section.get_by_role("link", name="Search", exact=True).first.click()
    page.fill("#id_q", "heavy metal guitar")
    page.select_option("#id_model", "chinook.album")
    page.fill("#id_min_score", "0.1")
    page.click("#graph-search-form input[type=submit]")
    rows = page.locator("#graph-search-results tbody tr")
    rows.first.wait_for()
    screenshot("search")
    scores = [float(text) for text in rows.locator("td.score").all_inner_texts()]
    assert scores and scores == sorted(scores, reverse=True) and all(0.1 <= s <= 1 for s in scores)
    assert all(SCORE.match(text) for text in rows.locator("td.score").all_inner_texts())
    assert rows.first.locator("td.text").inner_text().strip()  # the indexed text is previewed
    title = rows.first.locator("th a").inner_text()
    rows.first.locator("th a").click()
    page.wait_for_url(re.compile(r"/admin/chinook/album/\d+/change/$"))
    assert page.locator("#id_title").input_value() == title

    page.goto(f"{site_url}/admin/graph-search-status/")
    status = page.locator("#graph-search-status tbody tr")
    status.first.wait_for()
    screenshot("status")
    cells = {row.locator("th").inner_text(): row.locator("td").all_inner_texts() for row in status.all()}
    artists = next(values for name, values in cells.items() if "(chinook.Artist)" in name)
    assert artists[:2] == [str(Artist.objects.count()), str(search_index.artists)]


def test_rest_api_answers_the_browser(page, site_url):
    url = f"{site_url}/api/search/?q=AC/DC&models=chinook.Artist&limit=3"
    response = page.request.get(url, headers={"Accept": "application/json"})  # as a page's script would ask
    body = response.json()
    assert response.status == 200 and body["total"] == 3 and body["results"][0]["text"].startswith("AC/DC")
    browsable = page.goto(url)  # a person gets DRF's browsable page of the same answer
    assert browsable.status == 200 and '"total": 3' in page.locator("body").inner_text()
