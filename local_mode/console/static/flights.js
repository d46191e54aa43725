// Flights (#/): the list to choose from for the checkout, and adding a flight.

import { isAbort, requestJson } from "./api.js";
import { chosenFlightId, openCheckout, refreshChosenFlight, setChosenFlight } from "./checkout.js";
import { $, dataTable, h, isBusy, setBusy, setPageTitle, setStatus } from "./dom.js";
import { fareText } from "./format.js";

let flights = []; // the server's latest list

export async function showFlights(_id, signal) {
  setPageTitle("Flights & checkout");
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
  refreshChosenFlight(flights);
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
      className: chosenFlightId() === flight.id ? "chosen" : null,
      "aria-current": chosenFlightId() === flight.id ? "true" : null,
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
  setChosenFlight(flight);
  renderFlights();
  openCheckout();
}

/**
 * The add-flight form's submit handler. currentSignal() is read once the flight is added, so the list is reloaded
 * for whichever view is shown by then.
 */
export async function addFlight(event, currentSignal) {
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
    await loadFlights(currentSignal());
  } catch (error) {
    setStatus(status, `Could not add the flight: ${error.message}`, { error: true });
  } finally {
    setBusy(button, false);
  }
}

function numberOrNull(text) {
  return text.trim() === "" ? null : Number(text);
}
