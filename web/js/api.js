// HTTP client for the service's JSON API (docs/protocol.md). Cookies carry the session; on a
// 401 the client rotates its tokens with POST /auth/refresh once and repeats the request.

/** A failed API call: the HTTP status and the service's `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || (status >= 500 ? "server_error" : "http_" + status);
  }
}

let refreshing = null;

/** POST /auth/refresh, shared by concurrent callers; resolves to true when new cookies came. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch("/auth/refresh", { method: "POST", credentials: "same-origin" })
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function send(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
  }
}

async function decode(response) {
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (response.ok) return data ?? {};
  const err = (data && data.error) || {};
  const detail = typeof err === "string" ? err : err.message;
  throw new ApiError(response.status, err.code, detail);
}

/**
 * Call the API and decode its JSON answer.
 * @param {string} method HTTP method
 * @param {string} path path on this origin
 * @param {object} [body] JSON body
 * @param {{retry?: boolean}} [options] retry=false skips the refresh-and-retry on 401
 */
export async function api(method, path, body, { retry = true } = {}) {
  let response = await send(method, path, body);
  if (response.status === 401 && retry && (await refreshSession())) {
    response = await send(method, path, body);
  }
  return decode(response);
}

export const getJSON = (path, options) => api("GET", path, undefined, options);
export const postJSON = (path, body, options) => api("POST", path, body ?? {}, options);
