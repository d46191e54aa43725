// The local console: flights and a checkout that pays exactly as a production front-end does with Stripe.js, then
// a booking's saga timeline, a payment seen from the ledger, Stripe and the event bus, and recent activity.
// This module starts the page and routes between its views; each view has its own module.
//
// Everything the servers send may be hostile: it reaches the page only as text (textContent, text nodes) or as
// attribute values the console chooses, never as markup.

import { requestJson } from "./api.js";
import { showBooking } from "./booking.js";
import { pay, startCheckout } from "./checkout.js";
import { $, setPageTitle, setStatus } from "./dom.js";
import { addFlight, showFlights } from "./flights.js";
import { refreshPayment, showPayment } from "./payment.js";
import { showRecent } from "./recent.js";

let routeController = null; // aborted when the route changes, which stops the previous view's fetches and polling

const currentSignal = () => routeController?.signal;

// Routing: #/, #/recent, #/booking/<id>, #/payment/<id>

const views = {
  flights: showFlights,
  booking: showBooking,
  payment: showPayment,
  recent: showRecent,
  "not-found": () => setPageTitle("Not found"),
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

// Startup: config first, then Stripe.js and the page

async function start() {
  // The skip link would otherwise be read as a route (#main).
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });
  $("add-flight-form").addEventListener("submit", (event) => addFlight(event, currentSignal));
  $("checkout-form").addEventListener("submit", pay);
  $("payment-refresh").addEventListener("click", () => refreshPayment(routeController.signal));

  const appStatus = $("app-status");
  let config; // GET /console/config, read once before anything is shown
  try {
    config = await requestJson("/console/config");
  } catch (error) {
    setStatus(appStatus, `Could not load the console's configuration: ${error.message}`, { error: true });
    return;
  }
  $("env-name").textContent = config.envName ?? "";
  startCheckout(config);
  setStatus(appStatus, "");
  window.addEventListener("hashchange", () => showRoute({ moveFocus: true }));
  showRoute({ moveFocus: false });
}

start();
