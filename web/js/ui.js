// DOM helpers and the words the page says: views, notices, toasts, names, failure messages.

export const $ = (id) => document.getElementById(id);

const VIEWS = ["loading", "welcome", "lobby", "call"];

export function showView(name) {
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  document.body.dataset.view = name;
}

/** A persistent message at the top of the page (errors the user should read). */
export function showNotice(text, kind = "error") {
  $("notice-text").textContent = text;
  $("notice").dataset.kind = kind;
  $("notice").hidden = false;
}

export function clearNotice() {
  $("notice").hidden = true;
  $("notice-text").textContent = "";
}

/** A short message that goes away by itself. */
export function toast(text, kind = "info", ms = 5000) {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = text;
  $("toasts").append(el);
  setTimeout(() => el.remove(), ms);
}

export function shortAddress(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "";
}

/** The peer's ENS name when the service gave one, else the short address. */
export function displayName(address, name) {
  return name || shortAddress(address);
}

/** A stable colour from an address, for the little avatar dot. */
export function addressHue(address) {
  return address ? parseInt(address.slice(2, 8), 16) % 360 : 0;
}

export const CHAIN_NAMES = {
  1: "Ethereum", 10: "Optimism", 56: "BNB Chain", 100: "Gnosis", 137: "Polygon", 324: "zkSync Era",
  8453: "Base", 42161: "Arbitrum One", 43114: "Avalanche", 59144: "Linea", 534352: "Scroll",
  17000: "Holesky", 11155111: "Sepolia", 31337: "Local devnet",
};

export const chainName = (id) => CHAIN_NAMES[id] ? `${CHAIN_NAMES[id]} (${id})` : `Chain ${id}`;

/** Why a session ended, in words; `mine` is true when this user pressed End. */
export function sessionEndedText(reason, { mine = false, maxSeconds = null } = {}) {
  switch (reason) {
    case "next":
      return "You skipped to the next person.";
    case "peer-next":
      return "Your partner moved on to someone new.";
    case "ended":
    case "end-session":
      return mine ? "You ended the call." : "Your partner ended the call.";
    case "peer-ended":
      return "Your partner ended the call.";
    case "time-limit":
      return maxSeconds
        ? `Time's up: calls last at most ${durationText(maxSeconds)}.`
        : "Time's up: the call reached its time limit.";
    case "peer-disconnected":
    case "disconnected":
    case "timeout":
    case "peer-timeout":
    case "peer-left":
      return "Your partner left: their connection dropped.";
    case "blocked":
      return "The call ended because of a block.";
    case "banned":
      return "The call ended: one of the accounts was banned.";
    case "shutdown":
    case "server-shutdown":
      return "The call ended because the server is restarting. Join again in a moment.";
    default:
      return `The call ended (${reason || "no reason given"}).`;
  }
}

/** A server `error {code, message}` in words. */
export function serverErrorText(code, message) {
  switch (code) {
    case "rate_limited":
      return "You're going too fast. Wait a couple of seconds and try again.";
    case "unauthenticated":
    case "unauthorized":
      return "Your sign-in has expired. Sign in again.";
    case "banned":
      return "This wallet is banned from the service." + (message ? ` (${message})` : "");
    case "forbidden":
      return message || "That is not allowed.";
    case "unavailable":
    case "server_error":
    case "internal_error":
      return "The server had a problem. Try again in a moment.";
    default:
      return message || `The server refused that (${code}).`;
  }
}

/** An HTTP ApiError in words. */
export function apiErrorText(err, what) {
  if (err.code === "network") return err.message;
  if (err.status === 429 || err.code === "rate_limited") return `${what}: too many requests. Wait a little and try again.`;
  if (err.status >= 500) return `${what}: the server had a problem (${err.code}). Try again in a moment.`;
  return `${what}: ${err.message}`;
}

/** "30 minutes", "1 minute", "90 seconds". */
export function durationText(seconds) {
  const s = Math.round(seconds);
  if (s % 60 !== 0 || s < 60) return s === 1 ? "1 second" : `${s} seconds`;
  const m = s / 60;
  return m === 1 ? "1 minute" : `${m} minutes`;
}

export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
