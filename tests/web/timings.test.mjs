// Unit tests of the client's pure timing rules (Node's built-in test runner: node --test tests/web).
import assert from "node:assert/strict";
import { test } from "node:test";

import { nextWait, timings } from "../../web/js/timings.js";

test("the service's timings come from GET /config", () => {
  assert.deepEqual(timings({ reconnectGraceSeconds: 0, nextIntervalSeconds: 5 }), { graceMs: 0, nextIntervalMs: 5100 });
});

test("an older server without the fields gets the service's defaults", () => {
  assert.deepEqual(timings(null), { graceMs: 30000, nextIntervalMs: 2100 });
  assert.deepEqual(timings({ reconnectGraceSeconds: "x", nextIntervalSeconds: -1 }), { graceMs: 30000, nextIntervalMs: 2100 });
});

test("next waits out only what is left of the interval", () => {
  assert.equal(nextWait(1000, 1500, 2100), 1600);
  assert.equal(nextWait(1000, 9000, 2100), 0);
  assert.equal(nextWait(0, 0, 2100), 2100);
});
