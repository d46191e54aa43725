"""Local mode's localstripe gives a checkout page Stripe.js's createPaymentMethod: the served script creates a
PaymentMethod with the publishable key, as Stripe.js does, and the server accepts that key there and nowhere new."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.payment_api import TEST_STRIPE_KEY
from tests.support import localstripe
from tests.support.browser import headless_chromium

PUBLISHABLE_KEY = "pk_test_x"


def card(number: str) -> dict[str, str]:
    """The form body Stripe.js posts for a card PaymentMethod (the key aside)."""
    return {
        "type": "card",
        "card[number]": number,
        "card[exp_month]": "12",
        "card[exp_year]": "2034",
        "card[cvc]": "123",
        "billing_details[email]": "jane@example.com",
    }


def create_payment_method(localstripe_url: str, body: dict[str, str]) -> requests.Response:
    return requests.post(f"{localstripe_url}/v1/payment_methods", data=body, timeout=5)


def confirm_hold(localstripe_url: str, payment_method: str) -> dict[str, Any]:
    """What the service does with the PaymentMethod: a confirmed, manually captured PaymentIntent."""
    response = localstripe.post(
        localstripe_url,
        "payment_intents",
        {
            "payment_method": payment_method,
            "amount": "12500",
            "currency": "eur",
            "capture_method": "manual",
            "confirm": "true",
        },
        key=TEST_STRIPE_KEY,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_served_script_is_localstripes_own_followed_by_the_bridge(localstripe_url: str) -> None:
    # Given local mode's localstripe / When a page loads Stripe.js from it
    response = requests.get(f"{localstripe_url}/js.stripe.com/v3/", timeout=5)
    # Then it is JavaScript: localstripe's stand-in, then a createPaymentMethod that posts to /v1/payment_methods
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    script = response.text
    assert "confirmCardPayment" in script
    assert "stripe.createPaymentMethod = async" in script
    assert script.index("confirmCardPayment") < script.index("stripe.createPaymentMethod = async")
    assert "/v1/payment_methods" in script


@pytest.mark.parametrize(
    ("number", "status"), [("4242424242424242", "requires_capture"), ("4000002500003155", "requires_action")]
)
def test_a_publishable_key_creates_a_usable_payment_method(localstripe_url: str, number: str, status: str) -> None:
    # Given a card PaymentMethod posted as Stripe.js posts it: the publishable key in the body, no Authorization
    response = create_payment_method(localstripe_url, {"key": PUBLISHABLE_KEY, **card(number)})
    # Then localstripe created it (without the key among its fields) ...
    assert response.status_code == 200, response.text
    payment_method = response.json()
    assert payment_method["id"].startswith("pm_")
    assert payment_method["card"]["last4"] == number[-4:]
    assert payment_method["billing_details"] == {"email": "jane@example.com"}
    # ... and the service's hold with it is authorised, or waits for 3-D Secure
    assert confirm_hold(localstripe_url, payment_method["id"])["status"] == status


@pytest.mark.parametrize("body", [{}, {"key": "nope"}], ids=["no key", "not a publishable key"])
def test_a_payment_method_without_a_publishable_key_is_unauthorised(localstripe_url: str, body: dict[str, str]) -> None:
    # Given a card PaymentMethod without any key, or with one that is not publishable / When it is posted
    response = create_payment_method(localstripe_url, {**body, **card("4242424242424242")})
    # Then it is refused as Stripe refuses it
    assert response.status_code == 401, response.text


def test_a_publishable_key_still_opens_nothing_else(localstripe_url: str) -> None:
    # Given a charge posted with only the publishable key / When localstripe answers
    response = requests.post(
        f"{localstripe_url}/v1/charges",
        data={"key": PUBLISHABLE_KEY, "amount": "12500", "currency": "eur", "source": "tok_visa"},
        timeout=5,
    )
    # Then it is refused, as before the bridge
    assert response.status_code == 401, response.text


CHECKOUT_PAGE = """<!doctype html>
<html><body>
<div id="card"></div><button id="pay">Pay</button><button id="pay-positional">Pay (older call)</button>
<p id="result"></p>
<script src="{stripe_url}/js.stripe.com/v3/"></script>
<script>
  const stripe = Stripe("{publishable_key}");
  const card = stripe.elements().create("card");
  card.mount("#card");
  const billing_details = {{email: "jane@example.com"}};
  const show = ({{paymentMethod, error}}) => {{
    const result = document.getElementById("result");
    result.setAttribute(paymentMethod ? "data-id" : "data-error", paymentMethod ? paymentMethod.id : error.message);
  }};
  document.getElementById("pay").addEventListener("click", async () => {{
    show(await stripe.createPaymentMethod({{type: "card", card, billing_details}}));
  }});
  document.getElementById("pay-positional").addEventListener("click", async () => {{
    show(await stripe.createPaymentMethod("card", card, {{billing_details}}));
  }});
</script>
</body></html>
"""


@pytest.fixture
def checkout_page(localstripe_url: str, tmp_path: Path) -> Iterator[str]:
    """A page from another origin that uses Stripe.js as the production checkout does. Threaded: the browser keeps
    idle connections open, which would hold a single-threaded server's shutdown until it drops them."""
    (tmp_path / "index.html").write_text(
        CHECKOUT_PAGE.format(stripe_url=localstripe_url, publishable_key=PUBLISHABLE_KEY), encoding="utf-8"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium()
    yield driver
    driver.quit()


def pay(browser: webdriver.Chrome, button: str) -> str:
    """Clicks ``button`` and answers the PaymentMethod id the page shows, or ``error: <message>``."""
    browser.find_element(By.ID, button).click()
    result = browser.find_element(By.ID, "result")
    WebDriverWait(browser, 30).until(lambda _: result.get_attribute("data-id") or result.get_attribute("data-error"))
    return result.get_attribute("data-id") or f"error: {result.get_attribute('data-error')}"


@pytest.mark.parametrize("button", ["pay", "pay-positional"])
def test_a_real_browser_creates_a_payment_method_through_the_served_script(
    browser: webdriver.Chrome, checkout_page: str, localstripe_url: str, button: str
) -> None:
    # Given the page with the card element mounted, and a card typed into it
    browser.get(checkout_page)
    typed = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123", "postal_code": "12345"}
    for placeholder, text in typed.items():
        browser.find_element(By.CSS_SELECTOR, f"#card input[placeholder='{placeholder}']").send_keys(text)
    # When the customer pays (the page calling createPaymentMethod as Stripe.js documents it, or its older form)
    payment_method_id = pay(browser, button)
    # Then Stripe.js's createPaymentMethod answered a PaymentMethod for that card, postal code and email included
    assert payment_method_id.startswith("pm_"), payment_method_id
    created = localstripe.get(localstripe_url, f"payment_methods/{payment_method_id}", key=TEST_STRIPE_KEY).json()
    assert created["card"]["last4"] == "4242"
    assert created["card"]["exp_year"] == 2034
    assert created["billing_details"] == {"email": "jane@example.com", "address": {"postal_code": "12345"}}


def test_a_real_browser_gets_stripe_js_error_for_an_empty_card(browser: webdriver.Chrome, checkout_page: str) -> None:
    # Given the page with nothing typed into the card element / When the customer pays
    browser.get(checkout_page)
    # Then createPaymentMethod answers Stripe.js's validation error instead of throwing
    assert pay(browser, "pay") == "error: Your card number is incomplete."
