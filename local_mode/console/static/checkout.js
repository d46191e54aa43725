// The checkout: pays for the chosen flight exactly as a production front-end does with Stripe.js (a card Element,
// createPaymentMethod or the old createToken, 3-D Secure when the bank asks), then starts the booking.

import { requestJson } from "./api.js";
import { $, h, isBusy, setBusy, setStatus } from "./dom.js";
import { fareText } from "./format.js";

const AUTHENTICATION_FAILED = "Authentication failed: nothing was charged (the hold is released by the service)";

let config = null; // the console's configuration, given by startCheckout()
let chosenFlight = null; // what the checkout charges for: the same object its text shows
let stripeReady = null; // Promise of the Stripe object; Stripe.js is loaded once, at startup
let cardElement = null;

/** Called once the console's configuration is known: it says where Stripe.js and the APIs are. */
export function startCheckout(consoleConfig) {
  config = consoleConfig;
  renderTestCards(config.testCards);
  startStripe();
}

export function chosenFlightId() {
  return chosenFlight?.id;
}

export function setChosenFlight(flight) {
  chosenFlight = flight;
  showChosenFlight();
}

/** Swaps the chosen flight for its copy in a newer list, if it has one, so the fare shown is the one charged. */
export function refreshChosenFlight(flights) {
  if (!chosenFlight) return;
  chosenFlight = flights.find((flight) => flight.id === chosenFlight.id) ?? chosenFlight;
  showChosenFlight();
}

/** Shows the checkout for the chosen flight, with a fresh status line. */
export function openCheckout() {
  const status = $("checkout-status");
  setStatus(status, "");
  delete status.dataset.state;
  delete status.dataset.chargeId;
  $("checkout").hidden = false;
  $("checkout-heading").focus();
  cardReady().catch((error) => setCheckoutState("failed", `Stripe.js is not available: ${error.message}`));
}

function showChosenFlight() {
  $("checkout-flight-id").textContent = chosenFlight.id;
  $("checkout-fare").textContent = fareText(chosenFlight);
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error(`could not load ${url}`)));
    document.head.append(script);
  });
}

function startStripe() {
  stripeReady = loadScript(config.stripeJsUrl).then(() => {
    if (typeof window.Stripe !== "function") throw new Error(`${config.stripeJsUrl} did not define Stripe`);
    return window.Stripe(config.publishableKey);
  });
  stripeReady.catch(() => {}); // reported where it is used, not as an unhandled rejection
}

/** The card Element is created and mounted once, when the checkout is first shown (Stripe wants a visible home). */
async function cardReady() {
  const stripe = await stripeReady;
  if (!cardElement) {
    cardElement = stripe.elements().create("card");
    cardElement.mount("#card-element");
  }
  return { stripe, card: cardElement };
}

function renderTestCards(cards) {
  const items = (Array.isArray(cards) ? cards : []).map((card) => {
    const digits = String(card.number ?? "");
    const grouped = /^\d+$/.test(digits) ? digits.replace(/(\d{4})(?=\d)/g, "$1 ") : digits;
    return h("li", {}, h("code", {}, grouped), ` — ${card.label ?? ""}`);
  });
  $("test-cards").replaceChildren(...items);
}

/** The checkout's status line; data-state and data-charge-id are what browser tests wait on. */
function setCheckoutState(state, message, { chargeId } = {}) {
  const status = $("checkout-status");
  status.dataset.state = state;
  if (chargeId) status.dataset.chargeId = chargeId;
  setStatus(status, message, { error: state === "failed" });
}

/** The checkout form's submit handler. */
export async function pay(event) {
  event.preventDefault();
  const flight = chosenFlight;
  const button = $("pay-button");
  if (!flight || isBusy(button)) return;
  if (typeof flight.ticketPrice !== "number" || typeof flight.ticketCurrency !== "string") {
    setCheckoutState("failed", `Flight ${flight.id} has no fare: it cannot be paid for.`);
    return;
  }
  const email = $("checkout-email").value.trim();
  const method = new FormData(event.target).get("stripe-method");
  setBusy(button, true);
  delete $("checkout-status").dataset.chargeId;
  try {
    setCheckoutState("paying", "Sending the card to Stripe…");
    const { stripe, card } = await cardReady();
    const stripeToken = await createStripeToken(stripe, card, method, email);

    setCheckoutState("paying", "Authorising the payment…");
    const charge = await createCharge(flight, stripeToken, email);

    if (charge.requires_action) {
      setCheckoutState("authenticating", "Your bank asks you to confirm this payment…", { chargeId: charge.id });
      if (!(await authenticate(stripe, charge.client_secret))) {
        setCheckoutState("failed", AUTHENTICATION_FAILED);
        return;
      }
    }

    setCheckoutState("booking", "Payment authorised; starting the booking…", { chargeId: charge.id });
    const booking = await requestJson(`${config.bookingApiUrl}processBooking`, {
      method: "POST",
      body: { paymentToken: charge.id, outboundFlightId: flight.id },
    });
    setCheckoutState("booked", `Booking ${booking.bookingId} started.`);
    location.hash = `#/booking/${encodeURIComponent(booking.bookingId)}`;
  } catch (error) {
    setCheckoutState("failed", error.message);
  } finally {
    setBusy(button, false);
    // Stripe's 3-D Secure dialog takes focus and leaves it nowhere when it closes: give it back, next to the status.
    if ($("checkout-status").dataset.state === "failed" && !$("checkout").contains(document.activeElement)) button.focus();
  }
}

/** The id the payment API takes as stripeToken: a PaymentMethod (pm_...) or, as the old front-end did, a Token. */
async function createStripeToken(stripe, card, method, email) {
  let result;
  try {
    result = method === "token"
      ? await stripe.createToken(card)
      : await stripe.createPaymentMethod({ type: "card", card, billing_details: { email } });
  } catch (error) {
    // Stripe.js reports problems as `error`; only a stand-in throws (e.g. on an untouched card Element).
    throw new Error(`Stripe.js failed: ${error.message}`);
  }
  const created = method === "token" ? result?.token : result?.paymentMethod;
  if (result?.error || !created?.id) {
    throw new Error(result?.error?.message ?? "Stripe.js returned neither a result nor an error");
  }
  return created.id;
}

async function createCharge(flight, stripeToken, email) {
  const answer = await requestJson(`${config.paymentApiUrl}charge`, {
    method: "POST",
    body: {
      amount: flight.ticketPrice,
      currency: flight.ticketCurrency.toLowerCase(),
      stripeToken,
      description: `Payment by ${email}`,
      email,
    },
  });
  const charge = answer.createdCharge;
  if (!charge || typeof charge.id !== "string") throw new Error("the payment API answered without a createdCharge");
  return charge;
}

/** 3-D Secure: true only when the bank's confirmation left the payment authorised and waiting for capture. */
async function authenticate(stripe, clientSecret) {
  try {
    const { paymentIntent, error } = await stripe.confirmCardPayment(clientSecret);
    return !error && paymentIntent?.status === "requires_capture";
  } catch {
    return false; // a throwing stand-in has not authenticated anything either
  }
}
