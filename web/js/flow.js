// Small decisions of the page's flow, pure (no DOM, no network), so Node's test runner can
// check them (tests/web/).

/**
 * Whether a first look at GET /auth/me is worth making: only a browser that signed in before
 * can hold a session cookie (the cookie is HttpOnly, so the stored address is the only trace).
 * A first visit then makes no request that fails with 401.
 */
export function mayBeSignedIn(storedAddress) {
  return typeof storedAddress === "string" && storedAddress.length > 0;
}

/**
 * What the queue view shows while a join is on its way: a first join, a re-join after a
 * reconnect and a re-join after `queue-reset` all wait as "joining", so a refusal of any of them
 * returns to the lobby with the reason instead of leaving a stale queue position on screen.
 */
export function queueWhileJoining() {
  return "joining";
}

/** True when a server `error` answers our pending join (and the page must go back to the lobby). */
export function refusesJoin(queue, hasSession) {
  return queue === "joining" && !hasSession;
}
