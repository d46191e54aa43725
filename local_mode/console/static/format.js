// Money, times and flags as people read them.

import { h, orDash } from "./dom.js";

/** Minor units (cents) as money in the reader's locale; the currency decides how many minor digits there are. */
export function formatMoney(minor, currency) {
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
export function moneyWithMinor(minor, currency) {
  if (typeof minor !== "number") return orDash(minor);
  const money = formatMoney(minor, currency);
  return money.includes("minor units") ? money : `${money} (${minor})`;
}

export function fareText(flight) {
  return flight.ticketPrice === null || flight.ticketPrice === undefined
    ? "no fare"
    : formatMoney(flight.ticketPrice, flight.ticketCurrency);
}

function parseDate(iso) {
  const date = typeof iso === "string" ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

/** HH:MM:SS.mmm in local time: the timeline's steps are milliseconds apart. */
export function clockTime(iso) {
  const date = parseDate(iso);
  if (!date) return orDash(iso);
  const pad = (number, width = 2) => String(number).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function timeElement(iso, text) {
  return iso ? h("time", { datetime: iso }, text) : "—";
}

export function dateTime(iso) {
  const date = parseDate(iso);
  return timeElement(iso, date ? `${date.toLocaleDateString()} ${clockTime(iso)}` : orDash(iso));
}

export function booleanText(value) {
  return typeof value === "boolean" ? (value ? "yes" : "no") : orDash(value);
}
