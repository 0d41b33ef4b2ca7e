// The service's timings, from GET /config, with the service's defaults for an older server.
// Pure: no DOM, no network (unit-tested with Node's test runner, tests/web/).

const DEFAULT_GRACE_SECONDS = 30;
const DEFAULT_NEXT_INTERVAL_SECONDS = 2;
// A little over the gateway's interval, so a `next` sent on the dot is never refused.
const NEXT_MARGIN_MS = 100;

function seconds(value, fallback) {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * @param {object|null} config the body of GET /config
 * @returns {{graceMs: number, nextIntervalMs: number}}
 */
export function timings(config) {
  const c = config || {};
  return {
    graceMs: seconds(c.reconnectGraceSeconds, DEFAULT_GRACE_SECONDS) * 1000,
    nextIntervalMs: seconds(c.nextIntervalSeconds, DEFAULT_NEXT_INTERVAL_SECONDS) * 1000 + NEXT_MARGIN_MS,
  };
}

/** How long to wait before sending `next`, given when the last one went out (ms clocks). */
export function nextWait(lastNextAt, now, nextIntervalMs) {
  return Math.max(0, lastNextAt + nextIntervalMs - now);
}
