"""A real browser (headless Chromium) on a checkout page from another origin calls /charge as the old front-end did:
JSON, cross-origin, so the browser sends a CORS preflight and enforces the answer's CORS headers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from local_mode.checkout_server import CheckoutServer
from local_mode.environment import LOCAL_STRIPE_KEY, LocalEnvironment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def checkout(local_env: LocalEnvironment, console_port: int) -> Iterator[CheckoutServer]:
    server = CheckoutServer(api_url=local_env.api_url, stripe_url=local_env.stripe_url, port=console_port).start()
    yield server
    server.stop()


def pay(browser: webdriver.Chrome, url: str) -> str:
    browser.get(url)
    browser.find_element(By.ID, "pay").click()
    result = browser.find_element(By.ID, "result")
    WebDriverWait(browser, 30).until(
        lambda _: result.get_attribute("data-charge-id") or result.get_attribute("data-error")
    )
    return result.get_attribute("data-charge-id") or f"error: {result.get_attribute('data-error')}"


def test_the_checkout_page_gets_a_charge_id_across_origins(
    browser: webdriver.Chrome, checkout: CheckoutServer, local_env: LocalEnvironment
) -> None:
    # Given the checkout page served from its own origin / When the customer pays
    charge_id = pay(browser, checkout.url)
    # Then the browser accepted the cross-origin answer and shows createdCharge.id ...
    assert charge_id.startswith("ch_"), charge_id
    assert browser.find_element(By.ID, "result").text == f"Authorised: {charge_id}"
    # ... and a hold, not a capture, exists at (local) Stripe
    charge = requests.get(f"{local_env.stripe_url}/v1/charges/{charge_id}", auth=(LOCAL_STRIPE_KEY, ""), timeout=10)
    assert charge.json()["captured"] is False
    assert charge.json()["amount"] == 12500


def test_a_page_from_an_origin_not_allowed_is_blocked_by_the_browser(
    browser: webdriver.Chrome, local_env: LocalEnvironment
) -> None:
    # Given the same page served from an origin CORS does not allow (another port)
    other = CheckoutServer(api_url=local_env.api_url, stripe_url=local_env.stripe_url, port=0).start()
    try:
        # When the customer pays / Then the browser refuses to hand over the answer
        assert pay(browser, other.url).startswith("error: TypeError")
    finally:
        other.stop()
