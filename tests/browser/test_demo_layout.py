"""In a real browser, at a phone's width (375 px) and a desktop's (1280 px): the demo's search page fits the
screen (form and results within the viewport, nothing scrolls sideways), results link to public pages, and a
nonsense query says "no close match" instead of listing rows."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTHS = [375, 1280]


def right_edges(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.getBoundingClientRect().right)")


@pytest.mark.parametrize("width", WIDTHS)
def test_search_page_fits_the_screen(page, site_url, screenshot, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{site_url}/")
    box = page.locator("input[name=q]")
    assert box.get_attribute("maxlength") == "1024"
    box.fill("Ozzy Osbourne")
    page.click("button[type=submit]")
    page.wait_for_selector("#results li")
    screenshot(f"results-{width}")

    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    form_parts = "form[role=search] input, form[role=search] select, form[role=search] button"
    assert max(right_edges(page, form_parts)) <= width
    assert max(right_edges(page, "#results li")) <= width
    first = page.locator("#results li").first
    assert first.locator(".matched").inner_text() == "Matched artist: Ozzy Osbourne"
    assert "__" not in page.locator("#results").inner_text()  # no field paths, no model labels
    assert "chinook." not in page.locator("#results").inner_text()

    title = first.locator("a.title").inner_text()
    first.locator("a.title").click()  # a public page, not the admin's login
    page.wait_for_selector("h2.object-title")
    screenshot(f"detail-{width}")
    assert title in page.locator("h2.object-title").inner_text()
    assert "/admin/" not in page.url and page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_a_nonsense_query_says_no_close_match(page, site_url, screenshot, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{site_url}/?q=xqzzv+plorf")
    notice = page.locator("#no-close-match")
    notice.wait_for()
    screenshot(f"no-close-match-{width}")
    assert "No close match for “xqzzv plorf”" in notice.inner_text()
    assert page.locator("#results li").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
