// The local console: flights and a checkout that pays exactly as a production front-end does with Stripe.js, then
// a booking's saga timeline, a payment seen from the ledger, Stripe and the event bus, and recent activity.
//
// Everything the servers send may be hostile: it reaches the page only as text (textContent, text nodes) or as
// attribute values this file chooses, never as markup.

const POLL_INTERVAL_MS = 500;
const SITE_TITLE = "Airline payments — local console";

// The timeline's status words; "entered" is what a state is before anything else happened to it.
const STATUS_WORDS = { entered: "running", running: "running", succeeded: "succeeded", failed: "failed", caught: "caught" };
const EXECUTION_WORDS = {
  RUNNING: "Execution running…",
  SUCCEEDED: "Execution succeeded",
  FAILED: "Execution failed",
  TIMED_OUT: "Execution timed out",
  ABORTED: "Execution aborted",
};
const AUTHENTICATION_FAILED = "Authentication failed: nothing was charged (the hold is released by the service)";

let config = null; // GET /console/config, read once before anything is shown
let routeController = null; // aborted when the route changes, which stops the previous view's fetches and polling

// ---------------------------------------------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

/** h("a", {href: "#/"}, "text", node): an element whose children are nodes or text (never parsed as HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

/** Shown text for a value that may be missing: a dash says "nothing" more clearly than an empty cell. */
function orDash(value) {
  return value === null || value === undefined || value === "" ? "—" : value;
}

/** Sets a status region's text; an unchanged message is left alone so screen readers do not hear it again. */
function setStatus(element, message, { error = false } = {}) {
  if (element.textContent !== message) element.textContent = message;
  element.classList.toggle("error", error);
}

/**
 * Marks a button busy with aria-disabled rather than disabled: a disabled button drops keyboard focus to the page's
 * start, while this one keeps it. Handlers check isBusy() to ignore clicks meanwhile.
 */
function setBusy(button, busy) {
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

const isBusy = (button) => button.getAttribute("aria-disabled") === "true";

function link(kind, id, text = id) {
  return h("a", { href: `#/${kind}/${encodeURIComponent(id)}` }, text);
}

/**
 * A table with a caption, column headers, and its first column heading each row.
 * columns: [{label, cell: (row) => text or node}]. An empty list still shows the table, saying so in one row.
 */
function dataTable(caption, columns, rows, { rowAttributes = () => ({}), empty = "None yet." } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column.label))));
  const bodyRows = rows.map((row) => h("tr", rowAttributes(row), columns.map((column, index) => {
    const content = orDash(column.cell(row));
    return index === 0 ? h("th", { scope: "row" }, content) : h("td", {}, content);
  })));
  if (bodyRows.length === 0) {
    bodyRows.push(h("tr", {}, h("td", { colspan: columns.length, className: "empty" }, empty)));
  }
  return h("div", { className: "table-scroll" }, h("table", {}, h("caption", {}, caption), head, h("tbody", {}, bodyRows)));
}

/** <dl> rows from [label, value, ddAttributes?] triples. */
function factRows(facts) {
  return facts.map(([label, value, attributes = {}]) => h("div", {}, h("dt", {}, label), h("dd", attributes, orDash(value))));
}

/** A <pre> for a payload, pretty-printed when it is JSON (or a string holding JSON). */
function payloadBlock(value) {
  let text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  if (typeof value === "string") {
    try {
      text = JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      // not JSON: shown as it is
    }
  }
  return h("pre", { className: "payload" }, text ?? "");
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** Minor units (cents) as money in the reader's locale; the currency decides how many minor digits there are. */
function formatMoney(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  if (typeof minor !== "number") return String(minor);
  try {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(minor / 10 ** digits);
  } catch {
    // No currency, or one Intl does not know: the raw minor units are still the truth.
    return currency ? `${minor} ${currency} (minor units)` : `${minor} (minor units)`;
  }
}

/** Money as people read it, followed by the minor units the services actually store and compare. */
function moneyWithMinor(minor, currency) {
  if (typeof minor !== "number") return orDash(minor);
  const money = formatMoney(minor, currency);
  return money.includes("minor units") ? money : `${money} (${minor})`;
}

function fareText(flight) {
  return flight.ticketPrice === null || flight.ticketPrice === undefined
    ? "no fare"
    : formatMoney(flight.ticketPrice, flight.ticketCurrency);
}

function parseDate(iso) {
  const date = typeof iso === "string" ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

/** HH:MM:SS.mmm in local time: the timeline's steps are milliseconds apart. */
function clockTime(iso) {
  const date = parseDate(iso);
  if (!date) return orDash(iso);
  const pad = (number, width = 2) => String(number).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function timeElement(iso, text) {
  return iso ? h("time", { datetime: iso }, text) : "—";
}

function dateTime(iso) {
  const date = parseDate(iso);
  return timeElement(iso, date ? `${date.toLocaleDateString()} ${clockTime(iso)}` : orDash(iso));
}

function booleanText(value) {
  return typeof value === "boolean" ? (value ? "yes" : "no") : orDash(value);
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

const isAbort = (error) => error?.name === "AbortError";

/**
 * fetch() for JSON: resolves with the answer's body, or throws an ApiError saying "<status> <code>: <message>".
 * A body is sent as JSON with Content-Type application/json and no other header, as the old front-end did.
 */
async function requestJson(url, { method = "GET", body, signal } = {}) {
  const init = { method, signal };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(`could not reach ${url} (${error.message})`, 0);
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const code = answer?.code ?? "error";
    const message = answer?.message ?? (response.statusText || "no message");
    throw new ApiError(`${response.status} ${code}: ${message}`, response.status);
  }
  if (answer === null || typeof answer !== "object") {
    throw new ApiError(`${response.status}: the answer from ${url} is not a JSON object`, response.status);
  }
  return answer;
}

/** Waits, unless the view is left first (then resolves at once; the caller checks signal.aborted). */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener("abort", wake);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Routing: #/, #/recent, #/booking/<id>, #/payment/<id>

const views = {
  flights: showFlights,
  booking: showBooking,
  payment: showPayment,
  recent: showRecent,
  "not-found": () => { document.title = `Not found — ${SITE_TITLE}`; },
};

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/");
  if (parts.length === 1 && parts[0] === "") return { view: "flights" };
  if (parts.length === 1 && parts[0] === "recent") return { view: "recent" };
  if (parts.length === 2 && (parts[0] === "booking" || parts[0] === "payment") && parts[1] !== "") {
    try {
      return { view: parts[0], id: decodeURIComponent(parts[1]) };
    } catch {
      // a malformed %-escape: no such page
    }
  }
  return { view: "not-found" };
}

function showRoute({ moveFocus }) {
  routeController?.abort();
  routeController = new AbortController();
  const route = parseRoute(location.hash);
  for (const view of document.querySelectorAll(".view")) view.hidden = view.dataset.view !== route.view;
  for (const navLink of document.querySelectorAll("[data-nav]")) {
    if (navLink.dataset.nav === route.view) navLink.setAttribute("aria-current", "page");
    else navLink.removeAttribute("aria-current");
  }
  // Keyboard and screen reader users land on the new page's heading, not on the link they left behind.
  if (moveFocus) $(`${route.view}-heading`).focus();
  views[route.view](route.id, routeController.signal);
}

// ---------------------------------------------------------------------------------------------------------------
// Flights (#/)

let flights = []; // the server's latest list
let chosenFlight = null; // what the checkout charges for: the same object its text shows

async function showFlights(_id, signal) {
  document.title = `Flights & checkout — ${SITE_TITLE}`;
  await loadFlights(signal);
}

async function loadFlights(signal) {
  const status = $("flights-load-status");
  if (flights.length === 0) setStatus(status, "Loading flights…");
  try {
    const answer = await requestJson("/console/flights", { signal });
    flights = Array.isArray(answer.flights) ? answer.flights : [];
    setStatus(status, "");
  } catch (error) {
    if (isAbort(error)) return;
    setStatus(status, `Could not load the flights: ${error.message}`, { error: true });
    return;
  }
  // Seats and fares change: the checkout shows (and charges) what the server says now.
  if (chosenFlight) {
    chosenFlight = flights.find((flight) => flight.id === chosenFlight.id) ?? chosenFlight;
    showChosenFlight();
  }
  renderFlights();
}

function renderFlights() {
  const table = dataTable("Flights you can book", [
    { label: "Flight", cell: (flight) => flight.id },
    { label: "Seats left", cell: (flight) => flight.seatCapacity },
    { label: "Fare", cell: fareText },
    { label: "Checkout", cell: chooseButton },
  ], flights, {
    empty: "No flights yet: add one below.",
    rowAttributes: (flight) => ({
      dataset: { flightId: flight.id },
      className: chosenFlight?.id === flight.id ? "chosen" : null,
      "aria-current": chosenFlight?.id === flight.id ? "true" : null,
    }),
  });
  $("flights-table").replaceChildren(table);
}

/** Sold-out flights stay choosable on purpose: booking one is how the saga's compensation is seen. */
function chooseButton(flight) {
  const payable = typeof flight.ticketPrice === "number" && typeof flight.ticketCurrency === "string";
  const button = h("button", { type: "button", className: "choose", dataset: { flightId: flight.id }, disabled: !payable },
    "Choose", h("span", { className: "visually-hidden" }, ` flight ${flight.id}`));
  button.addEventListener("click", () => chooseFlight(flight));
  return button;
}

function chooseFlight(flight) {
  chosenFlight = flight;
  showChosenFlight();
  renderFlights();
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

async function addFlight(event) {
  event.preventDefault();
  const status = $("add-flight-status");
  const button = $("add-flight-button");
  if (isBusy(button)) return;
  const flight = {
    id: $("new-flight-id").value.trim(),
    seatCapacity: numberOrNull($("new-flight-seats").value),
    ticketPrice: numberOrNull($("new-flight-fare").value),
    ticketCurrency: $("new-flight-currency").value.trim().toUpperCase() || null,
  };
  setBusy(button, true);
  setStatus(status, `Adding flight ${flight.id}…`);
  try {
    const answer = await requestJson("/console/flights", { method: "POST", body: flight });
    setStatus(status, `Added flight ${answer.flight?.id ?? flight.id}.`);
    event.target.reset();
    await loadFlights(routeController?.signal);
  } catch (error) {
    setStatus(status, `Could not add the flight: ${error.message}`, { error: true });
  } finally {
    setBusy(button, false);
  }
}

function numberOrNull(text) {
  return text.trim() === "" ? null : Number(text);
}

// ---------------------------------------------------------------------------------------------------------------
// Stripe.js and the checkout

let stripeReady = null; // Promise of the Stripe object; Stripe.js is loaded once, at startup
let cardElement = null;

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

async function pay(event) {
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

// ---------------------------------------------------------------------------------------------------------------
// Booking (#/booking/<id>): polled until the saga's execution has ended

let lastBookingStatusKey = null; // the status line is rewritten (and announced) only when it changes
let lastTimelineKey = null;

async function showBooking(bookingId, signal) {
  document.title = `Booking ${bookingId} — ${SITE_TITLE}`;
  resetBookingView(bookingId);
  const status = $("booking-load-status");
  setStatus(status, "Loading the booking…");
  while (!signal.aborted) {
    let finished;
    try {
      const booking = await requestJson(`/console/bookings/${encodeURIComponent(bookingId)}`, { signal });
      if (signal.aborted) return;
      renderBooking(booking);
      setStatus(status, "");
      finished = booking.executionStatus !== "RUNNING";
    } catch (error) {
      if (isAbort(error)) return;
      setStatus(status, `Could not load the booking: ${error.message}`, { error: true });
      // Asking again will not make a 4xx (no such booking) go away; other failures may be local mode starting up.
      finished = error.status >= 400 && error.status < 500;
    }
    if (finished) return;
    await sleep(POLL_INTERVAL_MS, signal);
  }
}

function resetBookingView(bookingId) {
  lastBookingStatusKey = null;
  lastTimelineKey = null;
  $("booking-id").textContent = bookingId;
  for (const id of ["booking-flight", "booking-charge", "booking-started", "booking-stopped"]) $(id).replaceChildren("—");
  const status = $("booking-status");
  status.replaceChildren();
  delete status.dataset.status;
  delete status.dataset.bookingStatus;
  $("booking-result").replaceChildren();
  $("timeline").replaceChildren();
}

function renderBooking(booking) {
  $("booking-id").textContent = booking.bookingId;
  $("booking-flight").replaceChildren(orDash(booking.outboundFlightId));
  $("booking-charge").replaceChildren(booking.chargeId ? link("payment", booking.chargeId) : "—");
  $("booking-started").replaceChildren(dateTime(booking.startDate));
  $("booking-stopped").replaceChildren(dateTime(booking.stopDate));
  renderBookingStatus(booking);
  renderTimeline(booking);
}

function executionSentence(executionStatus) {
  return EXECUTION_WORDS[executionStatus] ?? `Execution ${String(executionStatus).toLowerCase()}`;
}

function renderBookingStatus({ executionStatus, booking, result }) {
  const key = JSON.stringify([executionStatus, booking?.status, booking?.bookingReference, result]);
  if (key === lastBookingStatusKey) return;
  lastBookingStatusKey = key;

  const status = $("booking-status");
  status.dataset.status = executionStatus;
  if (booking?.status) status.dataset.bookingStatus = booking.status;
  else delete status.dataset.bookingStatus;
  status.replaceChildren(...nodes([
    executionSentence(executionStatus),
    booking?.status && [": booking ", h("strong", { className: "booking-state" }, booking.status)],
    booking?.bookingReference && [", reference ", h("strong", { id: "booking-reference" }, booking.bookingReference)],
    ".",
  ]));

  $("booking-result").replaceChildren(...nodes([
    result?.error && h("p", { className: "error" }, "Error: ", h("code", {}, result.error)),
    result?.cause && h("details", {}, h("summary", {}, "Cause"), payloadBlock(result.cause)),
  ]));
}

function renderTimeline(booking) {
  const entries = Array.isArray(booking.timeline) ? booking.timeline : [];
  const ended = booking.executionStatus !== "RUNNING";
  // Rebuilt only when something changed, so an opened "cause" stays open while the page polls.
  const key = JSON.stringify([entries, ended && booking.executionStatus, booking.stopDate]);
  if (key === lastTimelineKey) return;
  lastTimelineKey = key;
  const items = entries.map(timelineItem);
  if (ended) items.push(finalTimelineItem(booking));
  $("timeline").replaceChildren(...items);
}

/** "ReserveFlight · succeeded · after 2 attempts · States.TaskFailed · 12:00:01.234", one per state visited. */
function timelineItem(entry) {
  const word = STATUS_WORDS[entry.status] ?? String(entry.status);
  const retried = typeof entry.attempts === "number" && entry.attempts > 1;
  const parts = [
    h("span", { className: `entry-status is-${STATUS_WORDS[entry.status] ?? "other"}` }, word),
    retried && h("span", { className: "entry-retried", title: "retried" }, `after ${entry.attempts} attempts`),
    entry.error && h("code", { className: "entry-error" }, entry.error),
    h("time", { className: "entry-time", datetime: entry.enteredAt ?? null }, clockTime(entry.enteredAt)),
  ].filter(Boolean);
  return h("li", {
    className: entry.compensation ? "timeline-entry compensation" : "timeline-entry",
    dataset: { state: entry.state, status: entry.status },
  },
  h("span", { className: "entry-state" }, entry.state),
  entry.compensation && [" ", h("span", { className: "badge compensation-badge" }, "compensation")],
  parts.map((part) => [h("span", { className: "separator", "aria-hidden": "true" }, " · "), part]),
  entry.cause && h("details", { className: "entry-cause" }, h("summary", {}, "Cause"), payloadBlock(entry.cause)));
}

function finalTimelineItem({ executionStatus, stopDate }) {
  const succeeded = executionStatus === "SUCCEEDED";
  return h("li", {
    className: `timeline-final ${succeeded ? "is-succeeded" : "is-failed"}`,
    dataset: { final: "true", status: executionStatus },
  },
  h("span", { className: "entry-state" }, executionSentence(executionStatus)),
  stopDate && [h("span", { className: "separator", "aria-hidden": "true" }, " · "),
    h("time", { className: "entry-time", datetime: stopDate }, clockTime(stopDate))]);
}

// ---------------------------------------------------------------------------------------------------------------
// Payment (#/payment/<id>): the ledger's record, Stripe's object and the bus's events side by side

let currentPaymentId = null;

async function showPayment(paymentId, signal) {
  document.title = `Payment ${paymentId} — ${SITE_TITLE}`;
  currentPaymentId = paymentId;
  $("payment-id").textContent = paymentId;
  for (const id of ["payment-ledger", "payment-history", "payment-stripe", "payment-events"]) $(id).replaceChildren();
  $("payment-ledger-error").hidden = true;
  $("payment-stripe-error").hidden = true;
  await loadPayment(paymentId, signal);
}

async function loadPayment(paymentId, signal) {
  const status = $("payment-load-status");
  const refresh = $("payment-refresh");
  if (isBusy(refresh)) return;
  setBusy(refresh, true);
  setStatus(status, "Loading the payment…");
  try {
    const payment = await requestJson(`/console/payments/${encodeURIComponent(paymentId)}`, { signal });
    if (signal.aborted) return;
    renderLedger(payment);
    renderStripe(payment.stripe);
    renderEvents(payment.events);
    setStatus(status, `Updated at ${clockTime(new Date().toISOString())}.`);
  } catch (error) {
    if (isAbort(error)) return;
    setStatus(status, `Could not load the payment: ${error.message}`, { error: true });
  } finally {
    setBusy(refresh, false);
  }
}

function renderLedger({ ledger, ledgerError }) {
  const error = $("payment-ledger-error");
  error.hidden = ledger !== null && ledger !== undefined;
  error.textContent = error.hidden ? "" : (ledgerError ?? "The ledger has no record of this payment.");
  if (!ledger) {
    $("payment-ledger").replaceChildren();
    $("payment-history").replaceChildren();
    return;
  }
  const money = (amount) => moneyWithMinor(amount, ledger.currency);
  $("payment-ledger").replaceChildren(...factRows([
    ["Status", ledger.status, { id: "payment-ledger-status", dataset: { status: ledger.status ?? "" } }],
    ["Amount", money(ledger.amount)],
    ["Authorized", money(ledger.authorizedAmount)],
    ["Captured", money(ledger.capturedAmount)],
    ["Refunded", money(ledger.refundedAmount)],
    ["Currency", ledger.currency],
    ["Booking", ledger.bookingId ? link("booking", ledger.bookingId) : null],
  ]));
  const history = Array.isArray(ledger.history) ? ledger.history : [];
  $("payment-history").replaceChildren(dataTable("Ledger history", [
    { label: "At", cell: (row) => dateTime(row.at) },
    { label: "Status", cell: (row) => row.status },
    { label: "Amount", cell: (row) => money(row.amount) },
    { label: "Source", cell: (row) => row.source },
    { label: "Reason", cell: (row) => row.reason },
  ], history, { empty: "No history." }));
}

function renderStripe(stripe) {
  $("payment-stripe-error").hidden = Boolean(stripe);
  if (!stripe) {
    $("payment-stripe").replaceChildren();
    return;
  }
  const money = (amount) => moneyWithMinor(amount, stripe.currency);
  $("payment-stripe").replaceChildren(...factRows([
    // Status first, as in the ledger above, so the two can be compared at a glance.
    ["Status", stripe.status, { id: "payment-stripe-status", dataset: { status: stripe.status ?? "" } }],
    ["Object", stripe.object],
    ["Id", stripe.id],
    ["Amount", money(stripe.amount)],
    ["Amount capturable", money(stripe.amount_capturable)],
    ["Amount received", money(stripe.amount_received)],
    ["Captured", booleanText(stripe.captured)],
    ["Refunded", booleanText(stripe.refunded)],
  ]));
}

function renderEvents(events) {
  const list = Array.isArray(events) ? events : [];
  $("payment-events").replaceChildren(dataTable("Events about this payment", [
    { label: "Time", cell: (event) => dateTime(event.time) },
    { label: "Detail type", cell: (event) => event.detailType },
    { label: "Status", cell: (event) => event.detail?.status },
    { label: "Amount", cell: (event) => moneyWithMinor(event.detail?.amount, event.detail?.currency) },
    { label: "Detail", cell: (event) => h("details", {}, h("summary", {}, "JSON"), payloadBlock(event.detail ?? null)) },
  ], list, { empty: "No events for this payment." }));
}

// ---------------------------------------------------------------------------------------------------------------
// Recent (#/recent)

async function showRecent(_id, signal) {
  document.title = `Recent — ${SITE_TITLE}`;
  await Promise.all([
    loadInto("recent-bookings-status", "/console/bookings", "bookings", renderRecentBookings, signal),
    loadInto("recent-payments-status", "/console/payments", "payments", renderRecentPayments, signal),
    loadInto("dead-letters-status", "/console/dead-letters", "dead letters", renderDeadLetters, signal),
  ]);
}

async function loadInto(statusId, url, what, render, signal) {
  const status = $(statusId);
  setStatus(status, `Loading ${what}…`);
  try {
    const answer = await requestJson(url, { signal });
    if (signal.aborted) return;
    render(answer);
    setStatus(status, "");
  } catch (error) {
    if (isAbort(error)) return;
    setStatus(status, `Could not load the ${what}: ${error.message}`, { error: true });
  }
}

function renderRecentBookings({ bookings }) {
  $("recent-bookings").replaceChildren(dataTable("Booking executions", [
    { label: "Booking", cell: (row) => link("booking", row.bookingId) },
    { label: "Execution", cell: (row) => row.executionStatus },
    { label: "Flight", cell: (row) => row.outboundFlightId },
    { label: "Charge", cell: (row) => (row.chargeId ? link("payment", row.chargeId) : null) },
    { label: "Started", cell: (row) => dateTime(row.startDate) },
    { label: "Stopped", cell: (row) => dateTime(row.stopDate) },
  ], Array.isArray(bookings) ? bookings : [], { empty: "No bookings yet." }));
}

function renderRecentPayments({ payments }) {
  $("recent-payments").replaceChildren(dataTable("Payments in the ledger", [
    { label: "Payment", cell: (row) => link("payment", row.paymentId) },
    { label: "Status", cell: (row) => row.status },
    { label: "Amount", cell: (row) => moneyWithMinor(row.amount, row.currency) },
    { label: "Booking", cell: (row) => (row.bookingId ? link("booking", row.bookingId) : null) },
    { label: "Updated", cell: (row) => dateTime(row.updatedAt) },
  ], Array.isArray(payments) ? payments : [], { empty: "No payments yet." }));
}

function renderDeadLetters({ messages }) {
  const list = Array.isArray(messages) ? messages : [];
  const container = $("dead-letters");
  container.dataset.count = String(list.length);
  if (list.length === 0) {
    container.replaceChildren(h("p", { className: "empty" }, "empty"));
    return;
  }
  container.replaceChildren(h("ol", { className: "dead-letters" }, list.map((message) =>
    h("li", { dataset: { messageId: message.id ?? "" } },
      h("p", {}, "Message ", h("code", {}, orDash(message.id))),
      payloadBlock(message.body)))));
}

// ---------------------------------------------------------------------------------------------------------------
// Startup: config first, then Stripe.js and the page

async function start() {
  // The skip link would otherwise be read as a route (#main).
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });
  $("add-flight-form").addEventListener("submit", addFlight);
  $("checkout-form").addEventListener("submit", pay);
  $("payment-refresh").addEventListener("click", () => loadPayment(currentPaymentId, routeController.signal));

  const appStatus = $("app-status");
  try {
    config = await requestJson("/console/config");
  } catch (error) {
    setStatus(appStatus, `Could not load the console's configuration: ${error.message}`, { error: true });
    return;
  }
  $("env-name").textContent = config.envName ?? "";
  renderTestCards(config.testCards);
  startStripe();
  setStatus(appStatus, "");
  window.addEventListener("hashchange", () => showRoute({ moveFocus: true }));
  showRoute({ moveFocus: false });
}

start();
