"""The API explorer (/docs, /redoc) against a real server, in a real headless Chromium that cannot reach the internet.

The browser resolves no host name but 127.0.0.1, so a page that needed a CDN
would stay blank here. Chromium and chromedriver are system packages (Debian:
`chromium`, `chromium-driver`; `.ci/run` installs them): without them these
tests fail, they are never skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, assert_problem, serving  # noqa: E402

WAIT = 90.0  # seconds; generous for a loaded CI machine, and only ever spent when something is wrong
OPERATION = "/collections/{collectionId}"
# what the pages' Content-Security-Policy is known to block: ReDoc's sidebar logo from the Redocly CDN
KNOWN_BLOCKED = ("https://cdn.redoc.ly/",)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("explorer") / "store", "--demo") as server:
        yield server


def _executable(*names: str) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = _executable("chromium", "chromium-browser", "google-chrome")
    driver_path = _executable("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("the API explorer test needs a headless Chromium and its driver on PATH: "
                    "install the system packages `chromium` and `chromium-driver` (Debian; `.ci/run` does)",
                    pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for CSP reports
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000",
                # offline: every host name but the server's fails to resolve
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition, what: str):
    try:
        return WebDriverWait(driver, WAIT).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what} on {driver.current_url}") from None


def visible(driver: WebDriver, css: str, what: str, within: WebElement | None = None) -> WebElement:
    scope = within or driver

    def found(_):
        elements = [e for e in scope.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return elements[0] if elements else False

    return wait_for(driver, found, what)


def assert_nothing_fetched_off_the_server(driver: WebDriver, origin: str) -> None:
    """Every resource the page asked for is the server's, or was blocked by the page's policy (a known one)."""
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    violations = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    unknown = [v for v in violations if not any(known in v for known in KNOWN_BLOCKED)]
    assert not unknown, f"the page's Content-Security-Policy blocked something it needs: {unknown}"
    elsewhere = [r for r in resources if not r.startswith(origin + "/")]
    unblocked = [r for r in elsewhere if not any(r in v for v in violations)]
    assert not unblocked, f"the page fetched from outside the server: {unblocked}"
    assert any(r.startswith(origin + "/docs/assets/") for r in resources), resources


# ---- the pages' HTML, over plain HTTP


def page_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_reference_only_same_origin_assets_and_they_are_served(srv, page):
    resp = httpx.get(srv.url + page)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    html = resp.text
    foreign = [url for url in re.findall(r"""https?://[^\s"'<>)]+""", html) if not url.startswith(srv.url + "/")]
    assert not foreign, f"{page} references assets off the server: {foreign}"
    assets = page_assets(html)
    assert any(a.endswith(".js") for a in assets), assets
    for ref in assets:
        url = urljoin(srv.url + page, ref)
        assert url.startswith(srv.url + "/"), ref
        asset = httpx.get(url)
        assert asset.status_code == 200, (ref, asset.status_code)
        assert len(asset.content) > 1000, ref
        kind = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[ref.rsplit(".", 1)[1]]
        assert asset.headers["content-type"].startswith(kind), (ref, asset.headers["content-type"])
    assert "/api" in html  # the OpenAPI document the page renders
    policy = dict(d.strip().split(" ", 1) for d in resp.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["img-src"] == "'self' data:", policy
    assert "'unsafe-inline'" not in policy["script-src"], policy  # the inline script is allowed by its hash


def test_swagger_ui_is_configured_for_the_password_flow_and_keeps_the_authorization(srv):
    html = httpx.get(srv.url + "/docs").text
    assert '"persistAuthorization": true' in html
    assert '"validatorUrl": null' in html  # otherwise Swagger UI fetches a badge from validator.swagger.io
    schemes = httpx.get(srv.url + "/api").json()["components"]["securitySchemes"]
    flows = [s["flows"]["password"] for s in schemes.values() if s["type"] == "oauth2"]
    assert flows and urljoin(srv.url + "/api", flows[0]["tokenUrl"]) == srv.url + "/auth/token"
    assert any(s["type"] == "apiKey" and s["name"] == "X-API-Key" for s in schemes.values())


def test_assets_are_revalidated_cheaply(srv):
    url = srv.url + "/docs/assets/swagger-ui.css"
    first = httpx.get(url)
    assert first.headers["etag"] and first.headers["cache-control"] == "no-cache"
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert httpx.head(url).status_code == 200


@pytest.mark.parametrize("name", ["nothing.js", "core.py", "..%2F__init__.py", "%2E%2E%2Fcore.py"])
def test_only_the_listed_assets_are_served(srv, name):
    resp = httpx.get(f"{srv.url}/docs/assets/{name}")
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"


def test_the_explorer_is_not_part_of_the_api_definition(srv):
    paths = httpx.get(srv.url + "/api").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]


def test_missing_assets_package_is_a_404_problem_not_a_500(tmp_path):
    # a stand-in `fastapi_offline` without its static files, ahead of the real one on the path
    (tmp_path / "shadow" / "fastapi_offline").mkdir(parents=True)
    (tmp_path / "shadow" / "fastapi_offline" / "__init__.py").write_text("")
    path = os.pathsep.join(p for p in (str(tmp_path / "shadow"), os.environ.get("PYTHONPATH")) if p)
    server = Server("--store", str(tmp_path / "store"), "--demo", env={"PYTHONPATH": path}).start()
    try:
        assert httpx.get(server.url + "/docs").status_code == 200
        for name in ("swagger-ui-bundle.js", "redoc.standalone.js"):
            resp = httpx.get(f"{server.url}/docs/assets/{name}")
            assert_problem(resp, 404, "not installed")
    finally:
        assert server.stop() == 0


# ---- in the browser


def test_swagger_ui_logs_in_with_the_password_flow_and_runs_an_operation(srv, browser):
    assert srv.admin_password, "the demo server printed no admin password"
    browser.get(srv.url + "/docs")
    visible(browser, "button.authorize", "the Authorize button").click()

    # the OAuth2 password form of the Authorize dialog
    dialog = visible(browser, ".modal-ux", "the Authorize dialog")
    oauth = next(c for c in dialog.find_elements(By.CSS_SELECTOR, ".auth-container")
                 if c.find_elements(By.ID, "oauth_username"))
    oauth.find_element(By.ID, "oauth_username").send_keys("demo")
    oauth.find_element(By.ID, "oauth_password").send_keys(srv.admin_password)
    oauth.find_element(By.CSS_SELECTOR, "button.authorize").click()
    wait_for(browser, lambda _: [b for b in oauth.find_elements(By.CSS_SELECTOR, "button")
                                 if b.text.strip() == "Logout"] or oauth.find_elements(By.CSS_SELECTOR, ".errors"),
             "the login to finish")
    errors = oauth.find_elements(By.CSS_SELECTOR, ".errors")
    assert not errors, f"the login failed: {errors[0].text}"
    dialog.find_element(By.CSS_SELECTOR, "button.close-modal").click()
    visible(browser, "button.authorize.locked", "the Authorize button to show the lock")

    # GET /collections/{collectionId}: expand, Try it out, collectionId=ais, Execute
    block = visible(browser, f".opblock-get:has([data-path='{OPERATION}'])", f"the GET {OPERATION} operation")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    visible(browser, "button.try-out__btn", "Try it out", within=block).click()
    field = visible(browser, "tr[data-param-name='collectionId'] input", "the collectionId field", within=block)
    field.clear()
    field.send_keys("ais")
    visible(browser, "button.execute", "Execute", within=block).click()

    status = visible(browser, ".live-responses-table tbody .response-col_status", "the response", within=block)
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table .response-col_description pre").text
    assert status.text.strip() == "200", (status.text, body)
    assert '"id": "ais"' in body, body
    curl = block.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert re.search(r"Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+", curl), curl  # the JWT from the login

    assert_nothing_fetched_off_the_server(browser, srv.url)

    # persistAuthorization: still logged in after a reload
    browser.refresh()
    visible(browser, "button.authorize.locked", "the Authorize button to stay locked after a reload")


def test_redoc_renders_the_api_offline(srv, browser):
    browser.get(srv.url + "/redoc")
    title = wait_for(browser, lambda d: [h for h in d.find_elements(By.TAG_NAME, "h1") if "chronotope" in h.text],
                     "ReDoc's title")[0]
    assert title.text.startswith("chronotope"), title.text
    wait_for(browser, lambda d: "Landing page" in d.find_element(By.TAG_NAME, "body").text,
             "ReDoc's list of operations")
    assert_nothing_fetched_off_the_server(browser, srv.url)
    # the search runs in a web worker started from a blob: URL, which the page's policy must allow
    visible(browser, "input.search-input", "ReDoc's search box").send_keys("conformance")
    results = visible(browser, "[data-role='search:results'] li", "a search result")
    assert results.get_attribute("aria-label") == "Conformance classes", results.get_attribute("outerHTML")
