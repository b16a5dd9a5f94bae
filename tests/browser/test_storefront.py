"""The storefront page in a real browser (Debian's chromium, driven by Playwright).

Starts the real `clerk serve` binary on a free 127.0.0.1 port with a temporary data
directory, the demo catalog and an admin key, then shops the way a person would:
types a query and picks an autocomplete suggestion with the keyboard, filters with a
facet, removes the filter chip, reloads a filtered page from its URL, switches to a
demo shopper, sends view / add-to-cart / purchase events and sees the order change with
a "because…" line, opens the merchandiser view (refused with a wrong key, shown with the
right one), sees corrections and an empty result explained, and checks that product text
is escaped. Saves docs/storefront.png.

Run from the repository root: `python3 -m pytest tests/browser` (after `cargo build`).
Environment: CLERK_BIN (default target/debug/clerk), CHROMIUM (default /usr/bin/chromium).
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CLERK = Path(os.environ.get("CLERK_BIN", ROOT / "target" / "debug" / "clerk"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ADMIN_KEY = "browser-test-admin-key"
DEMO_PRODUCTS = "4000"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def put_json(url, body, headers):
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="PUT",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def server():
    if not CLERK.exists():
        pytest.fail(f"{CLERK} not found: run `cargo build` first")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium")
    data = tempfile.TemporaryDirectory(prefix="clerk-browser-")
    port = free_port()
    env = {**os.environ, "CLERK_ADMIN_KEY": ADMIN_KEY}
    log = open(Path(data.name) / "serve.log", "w")
    process = subprocess.Popen(
        [str(CLERK), "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", str(Path(data.name) / "data"),
         "--config-dir", str(ROOT), "--demo-products", DEMO_PRODUCTS],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"clerk serve exited with {process.returncode}: "
                            f"{(Path(data.name) / 'serve.log').read_text()}")
            try:
                if get_json(f"{base}/health")["documents"] > 0:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("clerk serve did not answer /health within 300 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        data.cleanup()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_store(page, base, path="/"):
    page.goto(base + path)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#hits li")


def hit_ids(page):
    return page.eval_on_selector_all("#hits li.card", "cards => cards.map(c => c.dataset.id)")


def wait_for_search(page, action):
    with page.expect_response(lambda r: "/v1/search" in r.url and r.request.method == "GET") as info:
        action()
    response = info.value
    assert response.status == 200, response.text()
    page.wait_for_function("() => !document.querySelector('#hits').dataset.loading")
    return response.json()


def test_search_autocomplete_facets_chips_and_url_state(server, page):
    open_store(page, server)
    assert page.locator("#facets .facet").count() >= 3
    # Autocomplete: type, move down with the keyboard, pick with Enter.
    page.locator("#q").press_sequentially("sof", delay=60)
    page.wait_for_selector("#suggestions li")
    suggestion = page.locator("#suggestions li").first.text_content()
    page.locator("#q").press("ArrowDown")
    expect(page.locator("#suggestions li").first).to_have_attribute("aria-selected", "true")
    result = wait_for_search(page, lambda: page.locator("#q").press("Enter"))
    assert result["query"] == suggestion
    assert f"q={suggestion.replace(' ', '+')}" in page.url
    assert result["total"] > 0
    unfiltered_total = result["total"]

    # A brand facet: every hit is then of that brand; a chip appears.
    brand = page.locator("[data-facet=brand] input[type=checkbox]").first
    value = brand.get_attribute("data-value")
    result = wait_for_search(page, lambda: brand.check())
    assert result["total"] < unfiltered_total
    assert all(h["product"]["brand"] == value for h in result["hits"])
    expect(page.locator("#chips .chip[data-field=brand]")).to_contain_text(value)
    assert "filter=brand" in page.url

    # Remove the chip: back to the unfiltered results.
    result = wait_for_search(page, lambda: page.locator("#chips .chip[data-field=brand] button").click())
    assert result["total"] == unfiltered_total
    expect(page.locator("#chips .chip")).to_have_count(0)

    # A category node and a price range, then reload from the URL alone.
    node = page.locator("[data-facet=category] a").first
    path = node.get_attribute("data-value")
    wait_for_search(page, lambda: node.click())
    price = page.locator("[data-facet=price] input[type=checkbox]").first
    result = wait_for_search(page, lambda: price.check())
    ids_before = hit_ids(page)
    url = page.url
    assert "filter=category" in url and "filter=price" in url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#hits li.card")
    expect(page.locator("#chips .chip[data-field=category]")).to_contain_text(path.split("/")[0])
    expect(page.locator("#chips .chip[data-field=price]")).to_be_visible()
    assert page.locator("#q").input_value() == suggestion
    assert hit_ids(page) == ids_before
    assert result["total"] > 0


def test_shopper_events_reorder_results_with_a_because_line(server, page):
    open_store(page, server, "/?q=lamp")
    shopper = page.locator("#shopper option").nth(1).get_attribute("value")
    result = wait_for_search(page, lambda: page.locator("#shopper").select_option(shopper))
    assert result["variant"] == "personalized"
    assert f"shopper={shopper}" in page.url
    before = hit_ids(page)
    assert len(before) >= 10
    assert page.locator("#hits .because").count() == 0, "a shopper without history has no reasons"
    # Buy, add to cart and view a product far down the list, whose brand is not on top.
    target = page.locator("#hits li.card").nth(len(before) - 1)
    target_id = target.get_attribute("data-id")
    for event in ["view", "add_to_cart", "purchase"]:
        button = page.locator(f"#hits li.card[data-id='{target_id}'] button[data-event={event}]")
        if button.count() == 0:  # it moved off the page: act on it by id again after reload
            break
        wait_for_search(page, lambda: button.click())
        expect(page.locator("#event-status")).to_contain_text("Recorded")
    after = hit_ids(page)
    assert after != before, "the events did not change the order"
    assert after.index(target_id) < before.index(target_id) if target_id in after else True
    because = page.locator("#hits .because")
    assert because.count() > 0
    assert because.first.text_content().startswith("Because ")
    expect(page.locator("#profile")).to_contain_text(shopper)


def test_merchandiser_view_needs_the_admin_key(server, page):
    open_store(page, server, "/?q=sofa&shopper=s-42")
    page.locator("#merch-toggle").click()
    expect(page.locator("#merch-compare [role=alert]")).to_contain_text("admin key")
    page.locator("#admin-key").fill("wrong-key")
    page.locator("#admin-key-save").click()
    expect(page.locator("#merch-compare [role=alert]")).to_contain_text("admin key")
    page.locator("#admin-key").fill(ADMIN_KEY)
    page.locator("#admin-key-save").click()
    for column in ["Live", "Rules off", "Personalization off"]:
        expect(page.locator(f"#merch-compare section[data-column='{column}'] li").first).to_be_visible()
    live = page.eval_on_selector_all("#merch-compare section[data-column='Live'] li", "l => l.map(x => x.dataset.id)")
    assert live[: len(hit_ids(page))] == hit_ids(page)[: len(live)]
    # The key lives in sessionStorage and the view survives a reload.
    page.reload()
    page.wait_for_selector("#merch-compare section[data-column='Rules off'] li")


def test_product_text_is_escaped(server, page):
    hostile = {"id": "p-xss", "title": "<img src=x onerror=\"window.pwned=1\"> Zanzibar lamp",
               "brand": "<b>Evil</b>", "price": 12.5, "in_stock": True,
               "category": ["Lighting", "Lamps"]}
    put_json(f"{server}/v1/products", [hostile], {"Authorization": f"Bearer {ADMIN_KEY}"})
    deadline = time.time() + 5
    while get_json(f"{server}/v1/search?q=zanzibar")["total"] == 0:
        assert time.time() < deadline, "the upserted product did not become searchable"
        time.sleep(0.1)
    open_store(page, server, "/?q=zanzibar")
    card = page.locator("#hits li.card[data-id='p-xss']")
    expect(card.locator(".title")).to_have_text(hostile["title"])
    expect(card.locator(".brand")).to_have_text(hostile["brand"])
    assert card.locator("img, b").count() == 0
    assert page.evaluate("() => window.pwned === undefined")


def test_screenshot_for_the_readme(server, page):
    open_store(page, server, "/?q=sofa&shopper=s-42")
    button = page.locator("#hits li.card").nth(3).locator("button[data-event=purchase]")
    wait_for_search(page, lambda: button.click())
    page.wait_for_selector("#hits .because")
    out = ROOT / "docs" / "storefront.png"
    page.screenshot(path=str(out), full_page=False)
    assert out.stat().st_size > 10_000


def test_corrections_relaxations_and_empty_results_are_explained(server, page):
    open_store(page, server, "/?q=velvit+chiar")
    expect(page.locator("#notices .corrections")).to_contain_text("“chiar” → “chair”")
    result = wait_for_search(page, lambda: (page.locator("#q").fill("zzzqqq"), page.locator("#q").press("Enter")))
    assert result["total"] == 0
    expect(page.locator("#notices .did-you-mean")).to_contain_text("No products match")
    expect(page.locator("#hits .empty")).to_be_visible()
    expect(page.locator("#pager button")).to_have_count(0)
