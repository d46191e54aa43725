// Talking to the console's JSON API, the payment API and the Booking API, and waiting between polls.

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export const isAbort = (error) => error?.name === "AbortError";

/**
 * fetch() for JSON: resolves with the answer's body, or throws an ApiError saying "<status> <code>: <message>".
 * A body is sent as JSON with Content-Type application/json and no other header, as the old front-end did.
 */
export async function requestJson(url, { method = "GET", body, signal } = {}) {
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
export function sleep(ms, signal) {
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
