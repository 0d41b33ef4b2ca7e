// The call view for one matched session: videos, chat, Next / End / Block / Report, mute and
// camera toggles, the quality indicator and the timer against the session's limit.
import { ApiError, postJSON } from "./api.js";
import { Call } from "./call.js";
import { setTracksEnabled } from "./media.js";
import { nextWait } from "./timings.js";
import { $, apiErrorText, displayName, formatClock, toast } from "./ui.js";

// The gateway's `next` interval and the reconnect grace come from GET /config (app.timings()):
// waiting out the interval keeps a quick double-click from failing.
const CONNECT_HINT_MS = 20000;
let lastNextAt = 0;

const STATE_BANNERS = {
  disconnected: ["The connection to your partner is unstable; trying to recover…", "warning"],
  failed: ["Could not connect to your partner: your networks may block direct connections (a TURN relay would be needed). Press Next to meet someone else.", "error"],
};

export class Session {
  /**
   * @param {object} msg the `match-found` message
   * @param {object} app {send, localStream, iceServers, me} from main.js
   */
  constructor(msg, app) {
    this.id = msg.sessionId;
    this.peerId = msg.peerId;
    this.peerName = msg.peerName || null;
    this.isInitiator = msg.isInitiator === true;
    const limit = typeof msg.maxSeconds === "number" ? msg.maxSeconds : app.maxSeconds();
    this.maxSeconds = limit > 0 ? limit : null;
    this.resumeToken = msg.resumeToken || null;
    this.app = app;
    this.startedAt = performance.now();
    this.endedByMe = false;
    this.blocked = false;
    this.leaving = false;
    this.resuming = false;
    this.nextTimer = null;
    this.graceTimer = null;
    const iceServers = (msg.webrtcConfig && msg.webrtcConfig.iceServers) || app.iceServers();
    this.call = new Call({ sessionId: this.id, isInitiator: this.isInitiator, iceServers, localStream: app.localStream(), send: app.send });
    this.call.addEventListener("track", (e) => this.onTrack(e.detail));
    this.call.addEventListener("state", (e) => this.onState(e.detail));
    this.call.addEventListener("quality", (e) => this.onQuality(e.detail));
    this.render();
    this.timer = setInterval(() => this.tick(), 1000);
    this.connectHint = setTimeout(() => {
      if (this.call.pc.connectionState !== "connected") {
        this.setBanner("Still connecting to your partner… If this takes long, your networks may block direct connections; press Next to try someone else.", "warning");
      }
    }, CONNECT_HINT_MS);
    this.call.start().catch((err) => this.setBanner(`Could not start the call: ${err.message}`, "error"));
  }

  get peerLabel() {
    return displayName(this.peerId, this.peerName);
  }

  render() {
    document.body.dataset.pcState = "new";
    $("peer-label").textContent = this.peerLabel;
    $("peer-label").title = this.peerId;
    $("chat-log").replaceChildren();
    this.appendChat("system", `You are talking with ${this.peerLabel}. Say hi!`);
    this.setBanner("");
    $("remote-placeholder").hidden = false;
    $("remote-placeholder").textContent = "Connecting video…";
    $("remote-video").onplaying = () => { $("remote-placeholder").hidden = true; };
    this.setLocalStream(this.app.localStream());
    this.renderQuality({ level: "unknown", rtt: null, loss: null, framesDecoded: 0 });
    this.tick();
    this.wireControls();
  }

  wireControls() {
    const stream = this.app.localStream();
    const hasAudio = Boolean(stream && stream.getAudioTracks().length);
    const hasVideo = Boolean(stream && stream.getVideoTracks().length);
    this.setToggle("mute-btn", hasAudio && !stream.getAudioTracks()[0].enabled, hasAudio, "Unmute", "Mute");
    this.setToggle("camera-btn", hasVideo && !stream.getVideoTracks()[0].enabled, hasVideo, "Camera on", "Camera off");
    $("mute-btn").onclick = () => this.toggle("audio", "mute-btn", "Unmute", "Mute");
    $("camera-btn").onclick = () => this.toggle("video", "camera-btn", "Camera on", "Camera off");
    $("next-btn").onclick = () => this.requestNext();
    $("end-btn").onclick = () => this.end();
    $("block-btn").onclick = () => this.confirmBlock();
    $("report-btn").onclick = () => Session.openReport(this.target(), this);
    $("chat-form").onsubmit = (e) => { e.preventDefault(); this.sendChat(); };
    this.setControlsDisabled(false);
  }

  setToggle(id, pressed, available, onLabel, offLabel) {
    const b = $(id);
    b.disabled = !available;
    b.setAttribute("aria-pressed", String(pressed));
    b.textContent = pressed ? onLabel : offLabel;
    if (!available) b.title = "No camera or microphone available";
  }

  toggle(kind, id, onLabel, offLabel) {
    const stream = this.app.localStream();
    const pressed = $(id).getAttribute("aria-pressed") === "true";
    setTracksEnabled(stream, kind, pressed); // pressed (muted) -> enable again
    this.setToggle(id, !pressed, true, onLabel, offLabel);
  }

  setControlsDisabled(disabled) {
    for (const id of ["next-btn", "end-btn", "block-btn"]) $(id).disabled = disabled;
  }

  setLocalStream(stream) {
    $("local-video").srcObject = stream;
    $("local-video").parentElement.dataset.empty = stream ? "" : "yes";
  }

  target() {
    return { address: this.peerId, name: this.peerName, sessionId: this.id };
  }

  /** Messages for this session (signals, chat, peer presence) routed here by main.js. */
  handle(msg) {
    if (msg.sessionId !== this.id) return;
    switch (msg.type) {
      case "offer":
      case "answer":
      case "ice-candidate":
        this.call.handleSignal(msg.type, msg.data).catch((err) => this.setBanner(`Could not set up the video link: ${err.message}`, "error"));
        return;
      case "chat":
        this.appendChat("peer", msg.text);
        return;
      case "peer-disconnected":
        this.setBanner("Your partner's connection dropped. Waiting for them to come back… or press Next to meet someone else.", "warning");
        clearTimeout(this.graceTimer);
        this.graceTimer = setTimeout(() => {
          // Our wait is over: end it on the server too, so joining again is not refused.
          this.app.send({ type: "end-session", sessionId: this.id });
          this.app.peerLeft(this);
        }, this.app.timings().graceMs);
        return;
      case "session-resumed":
        this.onResumed();
        return;
      default:
    }
  }

  onResumed() {
    clearTimeout(this.graceTimer);
    toast(this.resuming ? "Reconnected to the server." : "Your partner is back.", "success");
    this.resuming = false;
    this.setBanner("");
    if (this.call.pc.connectionState !== "connected") this.call.restart().catch(() => {});
  }

  onTrack({ track, streams }) {
    const video = $("remote-video");
    const stream = streams && streams[0] ? streams[0] : this.call.remoteStream;
    if (video.srcObject !== stream) video.srcObject = stream;
    if (track.kind === "video") $("remote-placeholder").textContent = "Waiting for video…";
    video.play().catch(() => {});
  }

  onState(state) {
    document.body.dataset.pcState = state;
    if (state === "connected") {
      clearTimeout(this.connectHint);
      if (!this.leaving) this.setBanner("");
    } else if (STATE_BANNERS[state] && !this.leaving) {
      this.setBanner(...STATE_BANNERS[state]);
    }
  }

  onQuality(q) {
    this.renderQuality(q);
  }

  renderQuality({ level, rtt, loss, framesDecoded }) {
    const el = $("quality");
    el.dataset.level = level;
    el.dataset.framesDecoded = String(framesDecoded || 0);
    const parts = [];
    if (rtt !== null && rtt !== undefined) parts.push(rtt < 1 ? "<1 ms" : `${Math.round(rtt)} ms`);
    if (loss !== null && loss !== undefined) parts.push(`${(loss * 100).toFixed(1)}% loss`);
    const words = { good: "Good", fair: "Fair", poor: "Poor", unknown: "…" };
    $("quality-text").textContent = parts.length ? `${words[level]} · ${parts.join(" · ")}` : words[level];
  }

  tick() {
    const elapsed = (performance.now() - this.startedAt) / 1000;
    const el = $("call-timer");
    if (this.maxSeconds) {
      const remaining = this.maxSeconds - elapsed;
      el.textContent = `${formatClock(elapsed)} / ${formatClock(this.maxSeconds)}`;
      el.dataset.warn = remaining <= 60 ? "yes" : "";
      el.title = `${formatClock(remaining)} left in this call`;
    } else {
      el.textContent = formatClock(elapsed);
    }
  }

  setBanner(text, kind = "info") {
    const el = $("call-banner");
    el.hidden = !text;
    el.textContent = text;
    el.dataset.kind = kind;
  }

  appendChat(who, text) {
    const li = document.createElement("li");
    li.className = `msg ${who}`;
    li.textContent = text;
    const log = $("chat-log");
    log.append(li);
    log.scrollTop = log.scrollHeight;
  }

  sendChat() {
    const input = $("chat-input");
    const text = input.value.trim().slice(0, 2000);
    if (!text) return;
    if (!this.app.send({ type: "chat", sessionId: this.id, text })) {
      toast("Not connected to the server; the message was not sent.", "error");
      return;
    }
    this.appendChat("me", text);
    input.value = "";
  }

  /** Send `next`, waiting out the gateway's interval if the last one was recent. */
  requestNext() {
    if (this.leaving) return;
    this.leaving = true;
    this.setControlsDisabled(true);
    this.setBanner("Finding someone new…", "info");
    const wait = nextWait(lastNextAt, Date.now(), this.app.timings().nextIntervalMs);
    this.nextTimer = setTimeout(() => {
      lastNextAt = Date.now();
      if (!this.app.send({ type: "next" })) this.cancelLeaving("Not connected to the server. Try again in a moment.");
    }, wait);
  }

  /** The server refused the last `next`/`end-session` (e.g. rate_limited): allow another try. */
  cancelLeaving(text) {
    this.leaving = false;
    this.endedByMe = false;
    this.setControlsDisabled(false);
    this.setBanner(text || "", "warning");
  }

  end() {
    if (this.leaving) return;
    this.leaving = true;
    this.endedByMe = true;
    this.setControlsDisabled(true);
    if (!this.app.send({ type: "end-session", sessionId: this.id })) this.cancelLeaving("Not connected to the server. Try again in a moment.");
  }

  confirmBlock() {
    const dialog = $("block-dialog");
    $("block-target").textContent = this.peerLabel;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "block") this.blockAndSkip();
    }, { once: true });
    dialog.showModal();
  }

  async blockAndSkip() {
    try {
      await blockAddress(this.peerId);
    } catch (err) {
      toast(apiErrorText(err, "Could not block"), "error");
      return;
    }
    this.blocked = true;
    toast(`Blocked ${this.peerLabel}. You will not be matched again.`, "success");
    this.requestNext();
  }

  close() {
    clearInterval(this.timer);
    clearTimeout(this.connectHint);
    clearTimeout(this.nextTimer);
    clearTimeout(this.graceTimer);
    this.call.close();
    $("remote-video").srcObject = null;
    $("remote-video").onplaying = null;
    document.body.dataset.pcState = "";
    this.setBanner("");
  }

  /**
   * Open the report form for `target` ({address, name, sessionId}); `session` is the live call
   * when the target is the current partner (so "also block" can skip to the next person).
   */
  static openReport(target, session = null) {
    const dialog = $("report-dialog");
    const form = $("report-form");
    form.reset();
    $("report-status").textContent = "";
    $("report-target").textContent = displayName(target.address, target.name);
    form.onsubmit = async (e) => {
      if (!e.submitter || e.submitter.value !== "send") return;
      e.preventDefault();
      await submitReport(target, session, form, dialog);
    };
    dialog.showModal();
  }
}

async function submitReport(target, session, form, dialog) {
  const send = $("report-send");
  const notes = $("report-notes").value.trim();
  const body = { targetAddr: target.address, reason: form.elements.reason.value, sessionId: target.sessionId };
  if (notes) body.notes = notes;
  send.disabled = true;
  $("report-status").textContent = "Sending…";
  try {
    await postJSON("/reports", body);
  } catch (err) {
    $("report-status").textContent = apiErrorText(err, "Could not send the report");
    return;
  } finally {
    send.disabled = false;
  }
  dialog.close("sent");
  toast("Report sent. Thank you: moderators will review it.", "success");
  if (!$("report-block").checked) return;
  if (session && !session.leaving && session.peerId === target.address) {
    await session.blockAndSkip();
  } else {
    try {
      await blockAddress(target.address);
      toast(`Blocked ${displayName(target.address, target.name)}.`, "success");
    } catch (err) {
      toast(apiErrorText(err, "Could not block"), "error");
    }
  }
}

async function blockAddress(address) {
  try {
    await postJSON("/blocks", { targetAddr: address });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err; // already blocked is fine
  }
}
