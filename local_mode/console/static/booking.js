// Booking (#/booking/<id>): the saga's timeline, polled until its execution has ended.

import { isAbort, requestJson, sleep } from "./api.js";
import { $, h, link, nodes, orDash, payloadBlock, setPageTitle, setStatus } from "./dom.js";
import { clockTime, dateTime } from "./format.js";

const POLL_INTERVAL_MS = 500;

// The timeline's status words; "entered" is what a state is before anything else happened to it.
const STATUS_WORDS = { entered: "running", running: "running", succeeded: "succeeded", failed: "failed", caught: "caught" };
const EXECUTION_WORDS = {
  RUNNING: "Execution running…",
  SUCCEEDED: "Execution succeeded",
  FAILED: "Execution failed",
  TIMED_OUT: "Execution timed out",
  ABORTED: "Execution aborted",
};

let lastBookingStatusKey = null; // the status line is rewritten (and announced) only when it changes
let lastTimelineKey = null;

export async function showBooking(bookingId, signal) {
  setPageTitle(`Booking ${bookingId}`);
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
