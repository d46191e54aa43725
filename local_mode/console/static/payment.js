// Payment (#/payment/<id>): the ledger's record, Stripe's object and the bus's events side by side.

import { isAbort, requestJson } from "./api.js";
import { $, dataTable, factRows, h, isBusy, link, payloadBlock, setBusy, setPageTitle, setStatus } from "./dom.js";
import { booleanText, clockTime, dateTime, moneyWithMinor } from "./format.js";

let currentPaymentId = null; // what the Refresh button reloads

export async function showPayment(paymentId, signal) {
  setPageTitle(`Payment ${paymentId}`);
  currentPaymentId = paymentId;
  $("payment-id").textContent = paymentId;
  for (const id of ["payment-ledger", "payment-history", "payment-stripe", "payment-events"]) $(id).replaceChildren();
  $("payment-ledger-error").hidden = true;
  $("payment-stripe-error").hidden = true;
  await loadPayment(paymentId, signal);
}

/** The Refresh button's click handler. */
export function refreshPayment(signal) {
  return loadPayment(currentPaymentId, signal);
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
