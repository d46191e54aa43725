"""The local console in a real browser (Debian's headless Chromium): a customer picks a flight, pays with Stripe.js
Elements (localstripe's Stripe.js, bridged by local mode where it lacks a call), and follows the booking live to its
end; the payment's page then tells its story. Each test saves a screenshot under ``test-output/console/``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local_mode.console.wiring import Console, start_console
from local_mode.environment import PROJECT_ROOT, LocalEnvironment
from tests.support.browser import headless_chromium

SCREENSHOTS = PROJECT_ROOT / "test-output" / "console"
FARE = 14900
CARD = "4242424242424242"
THREE_D_SECURE_CARD = "4000002500003155"
BOOKING_SECONDS = 90


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium("--window-size=1280,1800")
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser: webdriver.Chrome, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where this test's screenshot goes; it is taken at the end, pass or fail."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{request.node.name}.png"
    yield path
    browser.save_screenshot(str(path))


def add_flight(console: Console, seats: int) -> str:
    flight_id = f"BR-{uuid.uuid4().hex[:6]}"
    answer = requests.post(
        f"{console.url}console/flights",
        json={"id": flight_id, "seatCapacity": seats, "ticketPrice": FARE, "ticketCurrency": "EUR"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return flight_id


def wait_for(browser: webdriver.Chrome, css: str, *, seconds: float = 30) -> WebElement:
    try:
        return WebDriverWait(browser, seconds).until(lambda b: b.find_element(By.CSS_SELECTOR, css))
    except TimeoutException:
        page = browser.find_element(By.TAG_NAME, "main").text
        raise AssertionError(f"{css} never appeared; the page says: {page}") from None


def choose_flight(browser: webdriver.Chrome, console: Console, flight_id: str) -> None:
    browser.get(console.url)
    row = WebDriverWait(browser, 30).until(
        lambda b: b.find_element(By.XPATH, f"//tr[.//*[normalize-space(text())='{flight_id}']]")
    )
    row.find_element(By.TAG_NAME, "button").click()
    wait_for(browser, "#card-element input")


def pay(browser: webdriver.Chrome, card: str, *, method: str = "payment_method") -> None:
    """Type the card into the Stripe.js card Element, as a customer would, and press Pay."""
    values = {"number": card, "exp_month": "12", "exp_year": "34", "cvc": "123", "postal_code": "10115"}
    for placeholder, value in values.items():
        browser.find_element(By.CSS_SELECTOR, f"#card-element input[placeholder='{placeholder}']").send_keys(value)
    browser.find_element(By.CSS_SELECTOR, f"input[name='stripe-method'][value='{method}']").click()
    browser.find_element(By.ID, "pay-button").click()


def booking_end(browser: webdriver.Chrome) -> WebElement:
    """The booking page's status once the execution ended (the page follows it live until then)."""
    WebDriverWait(browser, 30).until(lambda b: "#/booking/" in b.current_url)
    status = browser.find_element(By.ID, "booking-status")
    WebDriverWait(browser, BOOKING_SECONDS).until(
        lambda _: status.get_attribute("data-status") not in (None, "", "RUNNING")
    )
    return status


def timeline(browser: webdriver.Chrome) -> dict[str, WebElement]:
    return {
        item.get_attribute("data-state") or "": item for item in browser.find_elements(By.CSS_SELECTOR, "#timeline li")
    }


def open_payment(browser: webdriver.Chrome) -> tuple[str, str]:
    """Follow the booking page's link to the payment's page: (ledger status, localstripe status)."""
    browser.find_element(By.CSS_SELECTOR, "#booking-charge a").click()
    ledger = wait_for(browser, "#payment-ledger-status")
    stripe_status = wait_for(browser, "#payment-stripe-status")
    return ledger.text, stripe_status.text


def test_a_customer_pays_with_elements_and_follows_the_booking_to_its_confirmation(
    browser: webdriver.Chrome, console: Console, local_env: LocalEnvironment, screenshot: Path
) -> None:
    # Given a flight with seats and its fare, chosen in the console
    flight_id = add_flight(console, seats=3)
    choose_flight(browser, console, flight_id)
    # Then the amount is the flight's fare, shown, not a field the customer edits
    assert "149" in browser.find_element(By.ID, "checkout-fare").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#checkout-form input[type='number']")
    # When the customer pays with the card Element (a PaymentMethod) and the booking starts
    pay(browser, CARD)
    status = booking_end(browser)
    # Then the timeline ends confirmed, with the booking's reference, every state succeeded
    assert status.get_attribute("data-status") == "SUCCEEDED"
    assert "CONFIRMED" in status.text
    assert browser.find_element(By.ID, "booking-reference").text.strip()
    states = timeline(browser)
    assert states["Collect Payment"].get_attribute("data-status") == "succeeded"
    assert not browser.find_elements(By.CSS_SELECTOR, "#timeline li.compensation")
    browser.save_screenshot(str(screenshot.with_name(f"{screenshot.stem}-booking.png")))  # the README's picture
    # And the payment's page shows it captured, in the ledger and at localstripe, for exactly the fare
    ledger_status, stripe_status = open_payment(browser)
    assert (ledger_status, stripe_status) == ("captured", "succeeded")
    assert "14900" in browser.find_element(By.ID, "payment-ledger").text.replace(",", "").replace(" ", "")


def test_a_sold_out_flight_ends_compensated_with_the_hold_released(
    browser: webdriver.Chrome, console: Console, screenshot: Path
) -> None:
    # Given a flight with no seat left / When the customer pays and books it
    choose_flight(browser, console, add_flight(console, seats=0))
    pay(browser, CARD)
    status = booking_end(browser)
    # Then the booking failed: the seat's failure was caught and the compensation ran, marked as such
    assert status.get_attribute("data-status") == "FAILED"
    states = timeline(browser)
    assert states["Reserve Flight"].get_attribute("data-status") == "caught"
    assert "compensation" in (states["Refund Payment"].get_attribute("class") or "")
    assert states["Refund Payment"].get_attribute("data-status") == "succeeded"
    # And the hold was released: in the ledger and at localstripe
    assert open_payment(browser) == ("released", "canceled")


def authentication_button(browser: webdriver.Chrome, console: Console, label: str) -> WebElement:
    """Pay for a new flight with the 3-D Secure card; localstripe's Stripe.js dialog button ``label``, once shown."""
    choose_flight(browser, console, add_flight(console, seats=3))
    pay(browser, THREE_D_SECURE_CARD)
    button: WebElement = WebDriverWait(browser, 30).until(
        lambda b: b.find_element(By.XPATH, f"//button[normalize-space(text())='{label}']")
    )
    return button


def test_a_3d_secure_card_is_confirmed_by_the_customer_then_booked(
    browser: webdriver.Chrome, console: Console, screenshot: Path
) -> None:
    # Given a flight, and a card whose bank asks for 3-D Secure
    # When Stripe.js asks the customer to authenticate (localstripe's dialog) and they complete it
    complete = authentication_button(browser, console, "Complete authentication")
    assert browser.find_element(By.ID, "checkout-status").get_attribute("data-state") == "authenticating"
    complete.click()
    # Then the booking runs and is confirmed, and the payment was captured
    status = booking_end(browser)
    assert status.get_attribute("data-status") == "SUCCEEDED"
    assert open_payment(browser) == ("captured", "succeeded")


def test_a_failed_3d_secure_authentication_books_nothing(
    browser: webdriver.Chrome, console: Console, screenshot: Path
) -> None:
    # Given a 3-D Secure card / When the customer fails the authentication
    authentication_button(browser, console, "Fail authentication").click()
    # Then the checkout says so and no booking starts
    checkout_status = browser.find_element(By.ID, "checkout-status")
    WebDriverWait(browser, 30).until(lambda _: checkout_status.get_attribute("data-state") == "failed")
    assert "Authentication failed" in checkout_status.text
    assert "#/booking/" not in browser.current_url


def test_the_old_front_ends_token_call_still_books(
    browser: webdriver.Chrome, console: Console, screenshot: Path
) -> None:
    # Given the old front-end's Stripe.js call (createToken: a tok_, so a Charge with capture=false)
    choose_flight(browser, console, add_flight(console, seats=3))
    pay(browser, CARD, method="token")
    # Then the booking is confirmed and the Charge captured
    status = booking_end(browser)
    assert status.get_attribute("data-status") == "SUCCEEDED"
    assert browser.find_element(By.CSS_SELECTOR, "#booking-charge a").text.startswith("ch_")
    assert open_payment(browser)[0] == "captured"


def test_a_console_on_an_origin_cors_does_not_allow_cannot_charge(
    browser: webdriver.Chrome, local_env: LocalEnvironment, console: Console, screenshot: Path
) -> None:
    # Given the same console served from an origin the API's CORS does not allow (another port)
    flight_id = add_flight(console, seats=3)
    other = start_console(local_env, port=0)
    try:
        choose_flight(browser, other, flight_id)
        pay(browser, CARD)
        # Then the browser refuses to hand over /charge's answer: the checkout fails and nothing is booked
        checkout_status = browser.find_element(By.ID, "checkout-status")
        WebDriverWait(browser, 30).until(lambda _: checkout_status.get_attribute("data-state") == "failed")
        assert "#/booking/" not in browser.current_url
    finally:
        other.stop()
