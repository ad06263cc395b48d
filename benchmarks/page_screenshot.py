"""The web page at ``/`` in headless Chromium: a screenshot, and how long each step takes.

Set-up (as ``benchmarks/serve_http.py``): a local Neo4j under a temporary
``KGREC_HOME``, the dataset loaded (default MovieLens 100K where it is, else the
synthetic catalog), a short model trained (``--epochs``), ``kgrec serve`` on loopback
with an API key. Then Debian's Chromium (``chromium``, ``chromium-driver``), driven by
Selenium, does what a person would:

1. open ``/``, type the API key, pick the user (``--user``, default the demo's: ``1`` or
   ``u0``) and ask for the list with a new-item slot;
2. add an item from the form (the attributes of the user's top item, a new title) and
   wait until it shows in the user's list;
3. click the top item and wait for its explanation graph.

It writes ``benchmarks/results/page.png`` (the whole page after step 3) and
``page.json``: the machine and the browser-side time of each step (from the click that
starts it to the DOM condition that ends it, polled every 20 ms).

Run: ``.venv/bin/python benchmarks/page_screenshot.py [--dataset synthetic:2000,1000]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _machine import DEFAULT_DATASET, ROOT, machine_info

# after the repository root (benchmarks/ingest.py must not shadow the ingest package)
sys.path.append(str(ROOT / "benchmarks"))
from serve_http import _start_server, trained_home

KEY = "page-key-0123456789abcdef"
WIDTH, HEIGHT = 1360, 900


def _default_dataset() -> str:
    path = Path(DEFAULT_DATASET.partition(":")[2])
    return DEFAULT_DATASET if path.is_dir() else "synthetic:2000,1000"


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise SystemExit("needs Debian's chromium and chromium-driver "
                         "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def _step(driver: Any, action: Callable[[], None], done: Callable[[Any], Any]) -> float:
    """Seconds from ``action`` to ``done`` holding (polled every 20 ms)."""
    from selenium.webdriver.support.ui import WebDriverWait

    t0 = time.perf_counter()
    action()
    WebDriverWait(driver, 300, poll_frequency=0.02).until(done)
    return time.perf_counter() - t0


def _pick(env: dict[str, str], user: str | None, item_id: str
          ) -> tuple[str, dict[str, Any]]:
    """The user (the demo's rule when not given) and a new item made of the attributes
    of the user's top recommendation."""
    from kgrec.recommender import Recommender
    from kgrec.settings import Settings

    with Recommender(Settings.from_env(env), refresh_seconds=0) as rec:
        if user is None:
            user = next(u for u in ("u0", "1", *rec.model.graph.user_ids)
                        if (s := rec.state.user(u)) is not None and len(s.seen))
        top = rec.recommend(user, k=1).item_ids[0]
        row = rec.state.catalog.row_of(top)
        attributes: dict[str, list[str]] = {}
        for a in rec.state.catalog.attributes(row if row is not None else 0):
            kind, _, value = a.partition(":")
            attributes.setdefault(kind, []).append(value)
    genres = ", ".join(attributes.get("genre", attributes.get("category", ["story"])))
    item = {"id": item_id, "title": "Night Train to Lisbon (2026)",
            "description": f"A new {genres.lower()} release, added from the web page.",
            "attributes": attributes}
    return user, item


def drive(port: int, user: str, item: dict[str, Any], png: Path, k: int = 10
          ) -> dict[str, Any]:
    """Steps 1-3 of the module docstring; the screenshot goes to ``png``."""
    from selenium.webdriver.common.by import By

    driver = _browser()

    def type_into(element_id: str, text: str) -> None:
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def status_has(text: str) -> Callable[[Any], bool]:
        return lambda d: text in d.find_element(By.ID, "status").text

    def click(selector: str) -> Callable[[], None]:
        return lambda: driver.find_element(By.CSS_SELECTOR, selector).click()

    def listed(item_id: str) -> Callable[[Any], bool]:
        return lambda d: bool(d.execute_script(
            "return Array.from(document.querySelectorAll('#recs li'))"
            ".some(r => r.dataset.itemId === arguments[0])", item_id))

    out: dict[str, Any] = {"user": user, "item": item}
    try:
        out["open_s"] = _step(driver, lambda: driver.get(f"http://127.0.0.1:{port}/"),
                              status_has("API key"))
        type_into("api-key", KEY)
        driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
        type_into("user-id", user)
        type_into("k", str(k))
        driver.find_element(By.ID, "new-slots").click()
        out["list_s"] = _step(driver, click("#user-form button"),
                              status_has(f"items for user {user}."))
        type_into("item-id", item["id"])
        type_into("item-title", item["title"])
        type_into("item-description", item["description"])
        type_into("item-attributes", "\n".join(f"{k}={v}" for k, vs in item["attributes"].items()
                                               for v in vs))
        # done when the page has said where the item ranks for the user (it reloads the
        # list first), whether or not it made the top k
        out["add_item_until_ranked_s"] = _step(
            driver, click("#item-form button"),
            lambda d: any(word in d.find_element(By.ID, "add-result").text
                          for word in (f"user {user}", "Rejected")))
        out["add_result"] = driver.find_element(By.ID, "add-result").text
        out["item_listed"] = listed(item["id"])(driver)
        out["explanation_s"] = _step(
            driver, click("#recs li button"),
            lambda d: d.find_elements(By.CSS_SELECTOR, "#why-graph svg g.node"))
        out["graph_nodes"] = len(driver.find_elements(By.CSS_SELECTOR, "#why-graph g.node"))
        out["paths"] = len(driver.find_elements(By.CSS_SELECTOR, "#why-paths li"))
        for _ in range(2):  # the window's chrome takes some of its height: measure again
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(WIDTH, max(HEIGHT, int(height) + 120))
        driver.execute_script("window.scrollTo(0, 0)")
        png.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(png)):
            raise SystemExit(f"could not write {png}")
        # a failed load (the users request sent before the key was typed: 401) is no error
        out["errors"] = [e["message"] for e in driver.get_log("browser")
                         if e["level"] == "SEVERE" and "Failed to load" not in e["message"]]
    except Exception:
        failed = Path(tempfile.gettempdir()) / "kgrec-page-failed.png"
        driver.save_screenshot(str(failed))
        print(f"failed: the page as it was is in {failed}", file=sys.stderr)
        raise
    finally:
        driver.quit()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=_default_dataset(),
                        help="movielens:PATH or synthetic:USERS,ITEMS (loaded into Neo4j)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--user", default=None)
    parser.add_argument("--item-id", default="page-new-1",
                        help="the added item's id (a new one per run with --home)")
    parser.add_argument("--k", type=int, default=10, help="how many items the page lists")
    parser.add_argument("--home", type=Path, default=None,
                        help="a KGREC_HOME kept between runs: loaded and trained once")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    with trained_home(args.dataset, args.epochs, KEY, args.home) as (env, _):
        user, item = _pick(env, args.user, args.item_id)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server, _ = _start_server(env, port, 1, 1.0)
        try:
            results = drive(port, user, item, args.out / "page.png", args.k)
        finally:
            server.terminate()
            server.wait(timeout=60)
    for key in ("open_s", "list_s", "add_item_until_ranked_s", "explanation_s"):
        print(f"{key:>26}: {results[key]:.3f}")
    print(results["add_result"])
    path = args.out / "page.json"
    path.write_text(json.dumps({
        "machine": machine_info(("selenium", "fastapi", "uvicorn"), torch=False,
                                chromium=_version("chromium"),
                                chromedriver=_version("chromedriver")),
        "dataset": args.dataset, "epochs": args.epochs, "k": args.k,
        "screenshot": "page.png",
        **results}, indent=2))
    print(f"wrote {path} and {args.out / 'page.png'}")
    if results["errors"]:
        print("PAGE ERRORS:", *results["errors"], sep="\n  ")
        sys.exit(1)


def _version(binary: str) -> str:
    import subprocess

    res = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return res.stdout.strip()


if __name__ == "__main__":
    main()
