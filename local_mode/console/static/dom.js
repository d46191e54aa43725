// Building the page's elements. Everything the servers send may be hostile: it reaches the page only as text (text
// nodes, textContent) or as attribute values the console chooses, never as markup; h() is how that holds.

const SITE_TITLE = "Airline payments — local console";

export const $ = (id) => document.getElementById(id);

/** The tab's title for a view: the view first, as it is what tells tabs and history entries apart. */
export function setPageTitle(view) {
  document.title = `${view} — ${SITE_TITLE}`;
}

/** h("a", {href: "#/"}, "text", node): an element whose children are nodes or text (never parsed as HTML). */
export function h(tag, attributes = {}, ...children) {
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

export function nodes(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

/** Shown text for a value that may be missing: a dash says "nothing" more clearly than an empty cell. */
export function orDash(value) {
  return value === null || value === undefined || value === "" ? "—" : value;
}

/** Sets a status region's text; an unchanged message is left alone so screen readers do not hear it again. */
export function setStatus(element, message, { error = false } = {}) {
  if (element.textContent !== message) element.textContent = message;
  element.classList.toggle("error", error);
}

/**
 * Marks a button busy with aria-disabled rather than disabled: a disabled button drops keyboard focus to the page's
 * start, while this one keeps it. Handlers check isBusy() to ignore clicks meanwhile.
 */
export function setBusy(button, busy) {
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

export const isBusy = (button) => button.getAttribute("aria-disabled") === "true";

export function link(kind, id, text = id) {
  return h("a", { href: `#/${kind}/${encodeURIComponent(id)}` }, text);
}

/**
 * A table with a caption, column headers, and its first column heading each row.
 * columns: [{label, cell: (row) => text or node}]. An empty list still shows the table, saying so in one row.
 */
export function dataTable(caption, columns, rows, { rowAttributes = () => ({}), empty = "None yet." } = {}) {
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
export function factRows(facts) {
  return facts.map(([label, value, attributes = {}]) => h("div", {}, h("dt", {}, label), h("dd", attributes, orDash(value))));
}

/** A <pre> for a payload, pretty-printed when it is JSON (or a string holding JSON). */
export function payloadBlock(value) {
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
