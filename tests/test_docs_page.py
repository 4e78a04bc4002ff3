"""The /api/v1/docs page: served by the server itself with no outside URL, and, in a real
headless Chromium (Debian's chromium + chromedriver; skipped when not installed), it lists every
endpoint and a request sent from it with a key returns data."""
import shutil
import tempfile

import pytest
from falcon import testing
from helpers import insert, make_key, serving

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_and_assets_are_served_locally(app):
    client = testing.TestClient(app)
    page = client.simulate_get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text and 'url: "openapi.json"' in page.text
    assert "http://" not in page.text and "https://" not in page.text     # no CDN, nothing outside
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        asset = client.simulate_get(f"/api/v1/docs/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"] and len(asset.content) > 10000
    missing = client.simulate_get("/api/v1/docs/..%2Fdb.py")
    assert missing.status_code == 404 and missing.json["success"] == "False"
    assert client.simulate_get("/api/v1/docs/index.html").status_code == 404  # only the listed files


@pytest.fixture
def live_server(app):
    with serving(app) as base:
        yield base


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    if not CHROMIUM or not shutil.which(CHROMEDRIVER):
        pytest.skip("no chromium/chromedriver installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="itflow-docs-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_in_a_real_browser_lists_endpoints_and_sends_a_request(live_server, browser, app, db, keys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    insert(db, "clients", client_name="Acme from the docs page")
    key = make_key(keys)
    wait = WebDriverWait(browser, 30)
    browser.get(f"{live_server}/api/v1/docs")

    # Every endpoint of the route table is listed on the page.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(app.routes))
    listed = {e.get_attribute("data-path") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert listed == set(app.routes) | {"/api/v1/batch.php"}
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # Swagger UI found nothing wrong

    # Authorize with the key, as a user does: the dialog's X-API-KEY field.
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    dialog = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container")))
    blocks = browser.find_elements(By.CSS_SELECTOR, ".auth-container")
    header_block = next(b for b in blocks if "X-API-KEY" in b.text)
    header_block.find_element(By.CSS_SELECTOR, "input").send_keys(key)
    header_block.find_element(By.CSS_SELECTOR, "button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".dialog-ux .close-modal").click()
    assert dialog is not None

    # Open clients/read.php and execute it from the page.
    block = browser.find_element(By.ID, "operations-clients-clients_read")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    execute = wait.until(ready.element_to_be_clickable(
        (By.CSS_SELECTOR, "#operations-clients-clients_read .execute")))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", execute)
    execute.click()
    body = wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#operations-clients-clients_read .live-responses-table .response-col_description pre"))
    wait.until(lambda d: "Acme from the docs page" in body[0].text)
    assert '"success": "True"' in body[0].text

    # Everything the page loaded came from this server.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(live_server) for url in loaded), loaded
