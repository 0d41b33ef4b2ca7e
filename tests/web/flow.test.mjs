// Unit tests of the page's pure flow rules (Node's built-in test runner).
import assert from "node:assert/strict";
import { test } from "node:test";

import { mayBeSignedIn, queueWhileJoining, refusesJoin } from "../../web/js/flow.js";

test("a first visit does not ask who is signed in", () => {
  assert.equal(mayBeSignedIn(null), false);
  assert.equal(mayBeSignedIn(""), false);
  assert.equal(mayBeSignedIn("0xabc"), true);
});

test("a refused re-join returns to the lobby like a refused first join", () => {
  const queue = queueWhileJoining();
  assert.equal(refusesJoin(queue, false), true);
  assert.equal(refusesJoin("queued", false), false);
  assert.equal(refusesJoin(queue, true), false);
});
