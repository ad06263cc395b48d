"""The web page at ``/`` in a real browser: Debian's headless Chromium, driven by Selenium
through Debian's chromedriver, over a real server on the planted recommender.

Skipped only where the ``chromium`` or ``chromedriver`` binary is absent (``.ci/run``
installs both, so CI fails instead). Every wait is on a DOM condition.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

import pytest
from test_service_routes import (
    BOTH_KEY,
    KEYS,
    READ_KEY,
    Client,
    serve_in_thread,
    with_keys,
)

from kgrec.settings import Settings

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
needs_chromium = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not _CI,
    reason="Debian's chromium and chromium-driver are not installed "
           "(apt-get install chromium chromium-driver)")
HOSTILE_TITLE = "<img src=x onerror=\"document.title='pwned'\"><script>document.title=" \
                "'pwned'</script> Nebula & <b>Rocket</b>"


@pytest.fixture
def server(rec, settings: Settings) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    """A server over the planted recommender with keys :data:`KEYS` (no key by default)."""
    from kgrec.service import ServeOptions, create_app

    app = create_app(with_keys(settings, KEYS), rec,
                     ServeOptions(refresh_seconds=0, warm_up=False))
    with serve_in_thread(app) as address:
        client = Client(address, key=None)
        yield client
        client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (one per module; each test opens its own server's origin)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail("chromium and chromedriver must be installed in CI (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _url(client: Client, path: str = "/") -> str:
    return f"http://{client.address[0]}:{client.address[1]}{path}"


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float = 120) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _by_id(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def _type(driver: Any, element_id: str, text: str) -> None:
    field = _by_id(driver, element_id)
    field.clear()
    field.send_keys(text)


def _open_with_key(driver: Any, client: Client, key: str = BOTH_KEY) -> None:
    driver.get(_url(client))
    _wait(driver, lambda d: "API key" in _by_id(d, "status").text)  # asked for one
    _type(driver, "api-key", key)
    _css(driver, "#key-form button")[0].click()
    _wait(driver, lambda d: "kept" in _by_id(d, "status").text)


def _show_user(driver: Any, user: str, k: int = 10) -> list[Any]:
    _type(driver, "k", str(k))
    _type(driver, "user-id", user)
    _css(driver, "#user-form button")[0].click()
    _wait(driver, lambda d: f"items for user {user}." in _by_id(d, "status").text)
    return _css(driver, "#recs li")


def _row_of(driver: Any, item_id: str) -> dict[str, str | None] | None:
    """The title and badge the list shows for ``item_id`` (read in one script: the list
    may be redrawn between two WebDriver calls)."""
    row: dict[str, str | None] | None = driver.execute_script(
        "const li = Array.from(document.querySelectorAll('#recs li'))"
        "  .find(r => r.dataset.itemId === arguments[0]);"
        "return li ? {title: li.querySelector('.title').textContent,"
        "  badge: li.querySelector('.badge')?.textContent ?? null} : null;", item_id)
    return row


def _page_errors(driver: Any) -> list[str]:
    """Script errors and policy violations the console logged (failed loads, such as
    the 401 of a request sent before the key was typed, are not errors of the page)."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


# ---------------------------------------------------------------------- over HTTP
def test_the_page_and_its_files_are_self_contained(server: Client) -> None:
    status, html, headers = server.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
        status, text, headers = server.get(f"/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind)
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        # nothing from another origin: the SVG namespace is a name, not a download
        assert re.findall(r"https?://[^\s\"'`]+", text.replace(
            "http://www.w3.org/2000/svg", "")) == [], name
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "innerHTML" not in files("kgrec.service").joinpath("static", "page.js").read_text()
    for bad in ("/static/app.py", "/static/..%2fapp.py", "/static/index.html.bak"):
        assert server.get(bad)[0] == 404, bad


def test_user_ids_for_the_picker(server: Client, rec) -> None:  # type: ignore[no-untyped-def]
    assert server.get("/v1/users")[0] == 401
    status, body, _ = server.get("/v1/users?prefix=ua&limit=5", key=READ_KEY)
    assert status == 200 and body["truncated"] is True
    assert len(body["users"]) == 5 and body["users"] == sorted(body["users"])
    assert all(u.startswith("ua") for u in body["users"])
    status, body, _ = server.get("/v1/users?limit=1000", key=READ_KEY)
    assert body["truncated"] is False and set(body["users"]) == rec.state.known_user_ids()
    rec.add_interactions([{"user_id": "page-user", "item_id": "a1"}])
    rec.delete_user("ub1")
    body = server.get("/v1/users?prefix=page-&limit=3", key=READ_KEY)[1]
    assert body == {"users": ["page-user"], "truncated": False}
    assert "ub1" not in server.get("/v1/users?prefix=ub&limit=100", key=READ_KEY)[1]["users"]
    assert server.get("/v1/users?limit=0", key=READ_KEY)[0] == 422


# ---------------------------------------------------------------------- in the browser
@needs_chromium
def test_a_users_list_and_an_explanation_drawn_as_a_graph(server: Client, rec,  # type: ignore[no-untyped-def]
                                                          browser: Any) -> None:
    _open_with_key(browser, server, READ_KEY)
    _type(browser, "user-id", "ua1")  # the picker offers the ids that start so
    _wait(browser, lambda d: "ua1" in d.execute_script(
        "return Array.from(document.querySelectorAll('#user-ids option'), o => o.value)"))
    rows = _show_user(browser, "ua0")
    expected = rec.recommend("ua0", k=10)
    assert [r.get_attribute("data-item-id") for r in rows] == expected.item_ids
    assert [r.find_element("css selector", ".title").text for r in rows] == \
        [i.title for i in expected.items]
    assert browser.current_url.endswith("?user=ua0")

    top = expected.item_ids[0]
    rows[0].find_element("css selector", "button").click()
    nodes = _wait(browser, lambda d: _css(d, "#why-graph svg g.node"))
    explanation = rec.explain("ua0", top, max_paths=5)
    assert explanation.paths
    drawn = [(n.get_attribute("data-label"), n.get_attribute("data-id")) for n in nodes]
    assert sorted(drawn) == sorted({n for p in explanation.paths for n in p.nodes})  # once each
    assert len(_css(browser, "#why-graph svg g.node.target")) == 1
    assert len(_css(browser, "#why-graph svg g.edge")) >= len(explanation.paths[0].relationships)
    paths = _css(browser, "#why-paths li")
    assert [p.find_element("css selector", ".reason").text for p in paths] == \
        [p.reason for p in explanation.paths]
    code = paths[0].find_element("css selector", "code").get_attribute("textContent")
    assert code.startswith(":params {") and "MATCH p =" in code
    assert _page_errors(browser) == []


@needs_chromium
def test_an_item_added_from_the_form_appears_for_a_user_it_fits(server: Client,  # type: ignore[no-untyped-def]
                                                                rec, browser: Any) -> None:
    _open_with_key(browser, server)
    before = _show_user(browser, "ua0", k=60)  # every item ua0 has not seen (36 of 60)
    assert _row_of(browser, "page-new-1") is None and len(before) == 36
    for item_id, title in (("page-new-1", "Rocket Galaxy Astronaut"),
                           ("page/new-2?x=<i>&y", HOSTILE_TITLE)):
        _type(browser, "item-id", item_id)
        _type(browser, "item-title", title)
        _type(browser, "item-description",
              "Astronauts fly a rocket across the galaxy to a nebula.")
        _type(browser, "item-attributes", "genre=SciFi\nstyle=futuristic")
        _css(browser, "#item-form button")[0].click()
        _wait(browser, lambda d, i=item_id: _row_of(d, i) is not None)
        assert _row_of(browser, item_id) == {"title": title, "badge": "new"}  # text, verbatim
        _wait(browser, lambda d: "for user ua0." in _by_id(d, "add-result").text)
        rank = rec.recommend("ua0", k=60).item_ids.index(item_id)
        assert f"It is #{rank + 1} for user ua0." in _by_id(browser, "add-result").text
    assert _css(browser, "#recs img, #recs script, #recs i, #recs b") == []
    assert browser.title.startswith("kgrec") and _page_errors(browser) == []
    ranks = rec.recommend("ua0", k=60).item_ids
    cooking = [ranks.index(i) for i in ranks if i.startswith("b")]
    assert ranks.index("page-new-1") < sorted(cooking)[len(cooking) // 2]  # it fits ua0


@needs_chromium
def test_a_malformed_attribute_line_is_refused_in_the_page(server: Client,
                                                           browser: Any) -> None:
    _open_with_key(browser, server)
    _type(browser, "item-id", "page-bad")
    _type(browser, "item-title", "Bad")
    _type(browser, "item-attributes", "genre=SciFi\njust words")
    _css(browser, "#item-form button")[0].click()
    _wait(browser, lambda d: "line 2: expected kind=value" in _by_id(d, "add-result").text)
    _type(browser, "item-attributes", "bad kind=x")
    _css(browser, "#item-form button")[0].click()
    _wait(browser, lambda d: "Rejected: " in _by_id(d, "add-result").text)
