// The page: boot from GET /config, sign in with a wallet, the lobby and the queue, and the
// WebSocket that carries them. The call itself is in session.js.
import { ApiError, getJSON, postJSON, refreshSession } from "./api.js";
import { ensureSafetyAccepted, getChainId, getInterests, setupChains, setupInterests } from "./lobby.js";
import { openCamera } from "./media.js";
import { Session } from "./session.js";
import { CLOSE, Signaling } from "./signaling.js";
import { mayBeSignedIn, queueWhileJoining, refusesJoin } from "./flow.js";
import { createTestWallet, forgetTestWallet } from "./testwallet.js";
import { timings } from "./timings.js";
import {
  $, addressHue, apiErrorText, clearNotice, displayName, serverErrorText, sessionEndedText,
  showNotice, showView, toast,
} from "./ui.js";
import { discoverWallets, onWalletsChanged, requestWallets, signIn, WalletError } from "./wallets.js";

const ADDRESS_KEY = "roulette.address";
const RECONNECT_DELAYS_MS = [500, 1500, 4000];

const state = {
  config: null,
  me: null, // {address, name, chainId}
  provider: null,
  signaling: null,
  camera: { stream: null, problem: null, tried: false },
  queue: "idle", // idle | joining | queued
  session: null,
  lastPeer: null, // {address, name, sessionId}
};

// ------------------------------------------------------------------ boot

async function boot() {
  wireControls();
  requestWallets();
  try {
    state.config = await getJSON("/config", { retry: false });
  } catch (err) {
    showView("welcome");
    $("connect-btn").disabled = true;
    showNotice(`Cannot load the service configuration. ${err.message} Reload the page to try again.`);
    return;
  }
  state.signaling = new Signaling(state.config.websocketUrl);
  state.signaling.addEventListener("message", (e) => onServerMessage(e.detail));
  state.signaling.addEventListener("close", (e) => onSocketClosed(e.detail));
  warnAboutSiweDomain(state.config.siweDomain);
  const testMode = state.config.testWalletMode === true;
  $("test-wallet-btn").hidden = !testMode;
  $("test-wallet-hint").hidden = !testMode;
  setupInterests();
  // Only a visitor who signed in before can have a cookie worth trying: a first visit makes
  // no request at all (it would only fail with 401).
  if (!mayBeSignedIn(localStorage.getItem(ADDRESS_KEY))) {
    showView("welcome");
    return;
  }
  try {
    const me = await getJSON("/auth/me", { retry: true });
    await enterLobby(me);
  } catch {
    showView("welcome");
  }
}

/** Sign-in only works on the origin the server signs people in for (its SIWE_DOMAIN). */
function warnAboutSiweDomain(domain) {
  if (!domain || domain === location.host) return;
  showNotice(`This server signs people in at ${location.protocol}//${domain}/ — open the page there; signing in from ${location.host} will be refused.`, "warning");
}

function wireControls() {
  $("connect-btn").onclick = onConnect;
  $("test-wallet-btn").onclick = () => signInWith({ name: "Test wallet", provider: createTestWallet(chainIds()[0] ?? 1) });
  $("signout-btn").onclick = signOut;
  $("notice-close").onclick = clearNotice;
  $("join-btn").onclick = joinQueue;
  $("cancel-btn").onclick = leaveQueue;
  $("camera-retry-btn").onclick = () => initCamera(true);
  $("last-report-btn").onclick = () => state.lastPeer && Session.openReport(state.lastPeer);
  onWalletsChanged((wallets) => { if (!$("wallet-picker").hidden) renderWalletPicker(wallets); });
  window.addEventListener("storage", onOtherTabSignedIn);
}

const chainIds = () => (state.config && Array.isArray(state.config.chainIds) ? state.config.chainIds.map(Number) : [1]);

// ------------------------------------------------------------------ sign-in

async function onConnect() {
  clearNotice();
  const wallets = await discoverWallets();
  if (!wallets.length) {
    const testHint = state.config.testWalletMode ? " For local development you can also use a throwaway test wallet." : "";
    showNotice("No Ethereum wallet found in this browser. Install a wallet extension (for example MetaMask, Rabby or Coinbase Wallet) and reload this page." + testHint);
    return;
  }
  if (wallets.length === 1) {
    await signInWith(wallets[0]);
  } else {
    renderWalletPicker(wallets);
  }
}

function renderWalletPicker(wallets) {
  $("wallet-picker").hidden = false;
  $("wallet-list").replaceChildren(...wallets.map((wallet) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "wallet";
    b.dataset.walletId = wallet.id;
    if (wallet.icon) {
      const img = document.createElement("img");
      img.src = wallet.icon;
      img.alt = "";
      b.append(img);
    }
    b.append(document.createTextNode(wallet.name));
    b.onclick = () => signInWith(wallet);
    li.append(b);
    return li;
  }));
}

async function signInWith(wallet) {
  clearNotice();
  const status = $("signin-status");
  const buttons = [$("connect-btn"), $("test-wallet-btn"), ...document.querySelectorAll("#wallet-list button")];
  buttons.forEach((b) => { b.disabled = true; });
  status.textContent = `Waiting for ${wallet.name}: approve the connection, then sign the message…`;
  try {
    const result = await signIn(wallet.provider, chainIds());
    state.provider = wallet.provider;
    watchWallet(wallet.provider);
    localStorage.setItem(ADDRESS_KEY, result.address);
    $("wallet-picker").hidden = true;
    status.textContent = "";
    await enterLobby(result);
  } catch (err) {
    status.textContent = "";
    showNotice(signInErrorText(err));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function signInErrorText(err) {
  if (err instanceof WalletError) return err.message;
  if (err instanceof ApiError && err.status === 401) {
    return `The server refused the sign-in: ${err.message} Check that your computer's clock is right and that you opened the site at its usual address, then try again.`;
  }
  if (err instanceof ApiError) return apiErrorText(err, "Sign-in failed");
  return `Sign-in failed: ${err.message || err}`;
}

function watchWallet(provider) {
  if (typeof provider.on !== "function") return;
  provider.on("accountsChanged", (accounts) => {
    if (state.me && accounts && accounts[0] && accounts[0].toLowerCase() !== state.me.address.toLowerCase()) {
      showNotice("Your wallet switched to another account. You are still signed in as " + state.me.address + "; sign out and in again to use the new one.", "warning");
    }
  });
}

function onOtherTabSignedIn(event) {
  if (event.key !== ADDRESS_KEY || !event.newValue || !state.me) return;
  if (event.newValue.toLowerCase() === state.me.address.toLowerCase()) return;
  showNotice(`Another tab of this browser signed in as ${event.newValue}. Tabs share the sign-in cookie, so this tab now acts as that wallet as well. To run two wallets at once, use a private window or another browser profile for the second one.`, "warning");
}

async function signOut() {
  try { await postJSON("/auth/logout", {}, { retry: false }); } catch { /* signed out locally anyway */ }
  state.signaling.close();
  endSessionLocally();
  forgetTestWallet();
  localStorage.removeItem(ADDRESS_KEY);
  state.me = null;
  state.queue = "idle";
  $("me").hidden = true;
  showView("welcome");
}

async function signedOutByServer() {
  state.signaling.close();
  endSessionLocally();
  state.me = null;
  state.queue = "idle";
  $("me").hidden = true;
  showView("welcome");
  showNotice("Your sign-in has expired. Connect your wallet to sign in again.", "warning");
}

// ------------------------------------------------------------------ lobby

async function enterLobby(me) {
  state.me = { address: me.address, name: me.ensName || me.name || null, chainId: me.chainId };
  $("me").hidden = false;
  $("me-address").textContent = me.address;
  $("me-address").title = me.address;
  $("me-name").textContent = state.me.name || "";
  $("me-avatar").style.setProperty("--hue", addressHue(me.address));
  setupChains(chainIds(), Number(me.chainId));
  renderQueue();
  showView("lobby");
  if (!state.camera.tried) await initCamera(false);
}

async function initCamera(retry) {
  if (retry && state.camera.stream) return;
  $("camera-status").textContent = "Starting camera…";
  const { stream, problem } = await openCamera();
  state.camera = { stream, problem, tried: true };
  $("preview-video").srcObject = stream;
  $("preview-placeholder").hidden = Boolean(stream);
  $("camera-status").textContent = problem || "";
  $("camera-status").dataset.kind = problem ? "warning" : "";
  $("camera-retry-btn").hidden = !problem;
  if (state.session) state.session.setLocalStream(stream);
}

function setQueue(next) {
  state.queue = next;
  renderQueue();
}

function renderQueue() {
  document.body.dataset.queue = state.queue;
  $("queue-idle").hidden = state.queue !== "idle";
  $("queue-waiting").hidden = state.queue === "idle";
  if (state.queue === "joining") $("queue-position").textContent = "Joining the queue…";
}

async function joinQueue() {
  clearNotice();
  if (!(await ensureSafetyAccepted())) return;
  setQueue("joining");
  if (!state.camera.tried) await initCamera(false);
  try {
    await ensureSocket();
  } catch (err) {
    setQueue("idle");
    if (err.message !== "signed-out") showNotice(err.message);
    return;
  }
  sendJoin();
}

function sendJoin() {
  state.signaling.send({ type: "join-queue", chainId: getChainId(), preferences: { interests: getInterests() } });
}

/** Join again after the service lost our place: a refusal then returns to the lobby. */
function rejoin() {
  setQueue(queueWhileJoining());
  sendJoin();
}

function leaveQueue() {
  if (!state.signaling.send({ type: "leave-queue" })) setQueue("idle");
}

function showLastCall(text) {
  $("last-call").hidden = !text;
  $("last-call-text").textContent = text || "";
  $("last-report-btn").hidden = !state.lastPeer;
}

// ------------------------------------------------------------------ socket

/** Open the socket if needed; a refused handshake is retried once after a token refresh. */
async function ensureSocket() {
  if (state.signaling.isOpen) return;
  try {
    await state.signaling.connect();
  } catch {
    const refreshed = await refreshSession();
    try {
      await state.signaling.connect();
    } catch {
      if (!refreshed && (await isSignedOut())) {
        await signedOutByServer();
        throw new Error("signed-out");
      }
      throw new Error("Cannot connect to the chat server. Check your connection and try again in a moment.");
    }
  }
  checkSocketIdentity();
}

async function isSignedOut() {
  try {
    await getJSON("/auth/me", { retry: false });
    return false;
  } catch (err) {
    return err instanceof ApiError && err.status === 401;
  }
}

function checkSocketIdentity() {
  const address = state.signaling.address;
  if (state.me && address && address.toLowerCase() !== state.me.address.toLowerCase()) {
    showNotice(`This browser is now signed in as ${address} (from another tab). Tabs share the sign-in cookie; use a private window or another browser profile for a second wallet.`, "warning");
  }
}

async function onSocketClosed({ code }) {
  if (!state.me) return;
  if (code === CLOSE.UNAUTHENTICATED && !(await refreshSession())) {
    await signedOutByServer();
    return;
  }
  if (code === CLOSE.POLICY || code === CLOSE.TOO_BIG) {
    endSessionLocally("The server closed the connection because this page sent too much, too fast.");
    setQueue("idle");
    showNotice("Disconnected by the server for sending too many messages. Wait a moment, then join again.");
    return;
  }
  if (!state.session && state.queue === "idle") return; // reconnect lazily on the next join
  await reconnect(code);
}

/** After a dropped socket: reconnect, then resume the call or rejoin the queue. */
async function reconnect(code) {
  const banner = code === CLOSE.SERVER_ERROR ? "The server had a problem; reconnecting…" : "Connection to the server lost; reconnecting…";
  if (state.session) state.session.setBanner(banner, "warning");
  for (const delay of RECONNECT_DELAYS_MS) {
    await new Promise((r) => setTimeout(r, delay));
    if (!state.me) return;
    try {
      await ensureSocket();
    } catch (err) {
      if (err.message === "signed-out") return;
      continue;
    }
    if (state.session && state.session.resumeToken) {
      state.session.resuming = true;
      state.signaling.send({ type: "reconnect", sessionId: state.session.id, resumeToken: state.session.resumeToken });
    } else if (state.session) {
      endSessionLocally("Lost the connection to the server, so the call ended.");
    } else if (state.queue !== "idle") {
      rejoin();
    }
    return;
  }
  endSessionLocally("Lost the connection to the server, so the call ended.");
  setQueue("idle");
  showNotice("Lost the connection to the chat server. Check your connection, then join again.");
}

function onServerMessage(msg) {
  switch (msg.type) {
    case "queue-joined":
      if (state.session) return;
      setQueue("queued");
      $("queue-position").textContent = `Position ${msg.position} in the queue`;
      return;
    case "queue-left":
      if (!state.session) setQueue("idle");
      return;
    case "queue-reset":
      // The service lost our place (a failover of its shared state): take a new one.
      if (!state.session && state.queue !== "idle") rejoin();
      return;
    case "match-found":
      startSession(msg);
      return;
    case "session-ended":
      onSessionEnded(msg);
      return;
    case "peer-disconnected":
      // Without a resume token the service cannot bring the peer back: the call is over.
      // With one, the peer may reconnect within the grace period (session.js waits).
      if (state.session && msg.sessionId === state.session.id && !state.session.resumeToken) {
        onSessionEnded({ sessionId: msg.sessionId, reason: "peer-disconnected" });
      } else if (state.session) {
        state.session.handle(msg);
      }
      return;
    case "error":
      onServerError(msg);
      return;
    default:
      if (state.session) state.session.handle(msg);
  }
}

function onServerError({ code, message }) {
  const text = serverErrorText(code, message);
  if (refusesJoin(state.queue, Boolean(state.session))) {
    setQueue("idle");
    showNotice(`Could not join the queue: ${text}`);
    return;
  }
  if (state.session && state.session.leaving && code === "rate_limited") {
    state.session.cancelLeaving(text);
    return;
  }
  if (state.session && state.session.resuming) {
    endSessionLocally("The call could not be resumed after the connection dropped.");
    return;
  }
  toast(text, code === "rate_limited" ? "warning" : "error");
}

// ------------------------------------------------------------------ sessions

function api() {
  return {
    send: (m) => state.signaling.send(m),
    localStream: () => state.camera.stream,
    iceServers: () => (state.config && state.config.iceServers) || [],
    maxSeconds: () => (state.config && state.config.sessionMaxSeconds) || null,
    timings: () => timings(state.config),
    peerLeft: (session) => {
      if (state.session === session) onSessionEnded({ sessionId: session.id, reason: "peer-disconnected" });
    },
    me: () => state.me,
  };
}

function startSession(msg) {
  if (state.session) state.session.close();
  setQueue("idle");
  showLastCall("");
  state.session = new Session(msg, api());
  state.lastPeer = { address: msg.peerId, name: msg.peerName || null, sessionId: msg.sessionId };
  showView("call");
}

function onSessionEnded(msg) {
  const session = state.session;
  if (!session || msg.sessionId !== session.id) return;
  session.close();
  state.session = null;
  const name = displayName(session.peerId, session.peerName);
  let text = sessionEndedText(msg.reason, { mine: session.endedByMe, maxSeconds: session.maxSeconds });
  if (session.blocked) text = `You blocked ${name}; you will not be matched again.`;
  if (msg.reason === "next") {
    setQueue("joining");
    $("queue-position").textContent = "Looking for someone new…";
  } else {
    setQueue("idle");
  }
  showLastCall(text);
  showView("lobby");
}

/** Drop the call on this side only (the server already considers it over). */
function endSessionLocally(reasonText) {
  if (!state.session) return;
  state.session.close();
  state.session = null;
  showLastCall(reasonText || "");
  if (state.me) showView("lobby");
}

boot();
