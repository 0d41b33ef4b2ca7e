// The Node.js `ws` reference for benchmarks/: pairs sockets in arrival order and forwards
// every message to the partner, untouched. On pairing each side gets one match-found JSON
// line so the benchmark's client code is the same as against roulette.
// Usage: node relay.js PORT [HOST]; prints "listening PORT" once ready.
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 0);
const host = process.argv[3] || "127.0.0.1";
const server = new WebSocketServer({ port, host, maxPayload: 65536, perMessageDeflate: false });
let waiting = null;
let pairs = 0;

server.on("connection", (socket) => {
  socket.on("error", () => socket.terminate());
  socket.on("close", () => {
    if (waiting === socket) waiting = null;
    if (socket.partner) socket.partner.close(1001);
  });
  if (waiting === null) {
    waiting = socket;
    return;
  }
  const first = waiting;
  waiting = null;
  first.partner = socket;
  socket.partner = first;
  const sessionId = "n" + ++pairs;
  first.send(JSON.stringify({ type: "match-found", sessionId, isInitiator: true }));
  socket.send(JSON.stringify({ type: "match-found", sessionId, isInitiator: false }));
  first.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("message", (data, isBinary) => first.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(`listening ${server.address().port}`));
