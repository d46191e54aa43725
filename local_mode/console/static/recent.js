// Recent (#/recent): the latest booking executions, the ledger's payments and the dead-letter queue.

import { isAbort, requestJson } from "./api.js";
import { $, dataTable, h, link, orDash, payloadBlock, setPageTitle, setStatus } from "./dom.js";
import { dateTime, moneyWithMinor } from "./format.js";

export async function showRecent(_id, signal) {
  setPageTitle("Recent");
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
