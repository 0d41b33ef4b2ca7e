// The WebSocket to the gateway (docs/protocol.md): JSON text frames with a `type`. The browser
// sends the HttpOnly accessToken cookie with the handshake (cookies ignore the port).

const HEARTBEAT_MS = 20000;
// A handshake (and the server's sign-in check) that has not produced `connected` by then is
// given up: a silent network would otherwise leave the page waiting for ever.
export const CONNECT_TIMEOUT_MS = 10000;

/** Close codes the gateway uses (RFC 6455 §7.4 and the 4000 range for the application). */
export const CLOSE = { NORMAL: 1000, GOING_AWAY: 1001, POLICY: 1008, TOO_BIG: 1009, SERVER_ERROR: 1011, TRY_LATER: 1013, UNAUTHENTICATED: 4001 };

export class Signaling extends EventTarget {
  /** @param {string} url absolute ws(s) URL or a path on this origin */
  constructor(url) {
    super();
    this.url = absoluteWsUrl(url);
    this.ws = null;
    this.address = null;
    this.heartbeat = null;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.address !== null;
  }

  /**
   * Open the socket; resolves with the `connected` message, rejects if it closes first or
   * `connected` does not come within CONNECT_TIMEOUT_MS.
   */
  connect() {
    this.close();
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.ws = null;
        ws.close(CLOSE.NORMAL, "connect timeout");
        reject(Object.assign(new Error("The chat server did not answer in time"), { code: 0, timeout: true }));
      }, CONNECT_TIMEOUT_MS);
      ws.onmessage = (event) => {
        let msg;
        try { msg = JSON.parse(event.data); } catch { return; }
        if (!msg || typeof msg.type !== "string") return;
        if (msg.type === "connected" && !settled) {
          settled = true;
          clearTimeout(timer);
          this.address = msg.address;
          this.startHeartbeat();
          resolve(msg);
        }
        this.dispatchEvent(new CustomEvent("message", { detail: msg }));
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.stopHeartbeat();
        this.ws = null;
        const wasConnected = this.address !== null;
        this.address = null;
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(Object.assign(new Error("WebSocket closed before it was accepted"), { code: event.code }));
          return;
        }
        this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason: event.reason, wasConnected } }));
      };
    });
  }

  /** Send one message; returns false when the socket is not open. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  close() {
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    this.address = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(CLOSE.NORMAL, "bye");
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => this.send({ type: "heartbeat" }), HEARTBEAT_MS);
  }

  stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function absoluteWsUrl(url) {
  if (/^wss?:\/\//.test(url)) return url;
  const base = new URL(url || "/ws", location.href);
  base.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return base.href;
}
