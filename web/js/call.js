// One WebRTC call: the RTCPeerConnection, offer/answer (the initiator offers), trickle ICE
// through the signaling socket, and a connection-quality sample from getStats every 2 s.

const STATS_MS = 2000;

export class Call extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.sessionId
   * @param {boolean} opts.isInitiator exactly one side of the pair offers
   * @param {RTCIceServer[]} opts.iceServers (with per-session TURN credentials when offered)
   * @param {RTCIceTransportPolicy} [opts.iceTransportPolicy] "relay": never reveal our IP to the peer
   * @param {MediaStream|null} opts.localStream null when the camera is unavailable
   * @param {(msg: object) => boolean} opts.send sends a signaling message
   */
  constructor({ sessionId, isInitiator, iceServers, iceTransportPolicy, localStream, send }) {
    super();
    this.sessionId = sessionId;
    this.isInitiator = isInitiator;
    this.send = send;
    this.remoteStream = new MediaStream();
    this.pendingCandidates = [];
    this.closed = false;
    this.lastSample = null;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [], iceTransportPolicy: iceTransportPolicy || "all" });
    this.attachLocal(localStream);
    this.pc.onicecandidate = (e) => {
      // A null candidate is end-of-candidates; the peer needs nothing for it.
      if (e.candidate) this.signal("ice-candidate", e.candidate.toJSON());
    };
    this.pc.ontrack = (e) => {
      if (!this.remoteStream.getTracks().includes(e.track)) this.remoteStream.addTrack(e.track);
      this.dispatchEvent(new CustomEvent("track", { detail: { track: e.track, streams: e.streams } }));
    };
    this.pc.onconnectionstatechange = () => {
      this.dispatchEvent(new CustomEvent("state", { detail: this.pc.connectionState }));
    };
    this.statsTimer = setInterval(() => this.sample(), STATS_MS);
  }

  attachLocal(stream) {
    const kinds = new Set();
    if (stream) {
      for (const track of stream.getTracks()) {
        this.pc.addTrack(track, stream);
        kinds.add(track.kind);
      }
    }
    // Without a camera or microphone we still want to see and hear the peer.
    for (const kind of ["audio", "video"]) {
      if (!kinds.has(kind)) this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }

  signal(type, data) {
    if (!this.closed) this.send({ type, sessionId: this.sessionId, data });
  }

  async start() {
    if (!this.isInitiator) return;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.signal("offer", { type: offer.type, sdp: offer.sdp });
  }

  /** Restart ICE after the peer's socket came back (the initiator makes a new offer). */
  async restart() {
    if (!this.isInitiator || this.closed) return;
    const offer = await this.pc.createOffer({ iceRestart: true });
    await this.pc.setLocalDescription(offer);
    this.signal("offer", { type: offer.type, sdp: offer.sdp });
  }

  /** Apply a relayed `offer`, `answer` or `ice-candidate`. */
  async handleSignal(type, data) {
    if (this.closed || !data) return;
    if (type === "offer") {
      await this.pc.setRemoteDescription(data);
      await this.flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.signal("answer", { type: answer.type, sdp: answer.sdp });
    } else if (type === "answer") {
      await this.pc.setRemoteDescription(data);
      await this.flushCandidates();
    } else if (type === "ice-candidate") {
      // Candidates can overtake the description they belong to; keep them until it is set.
      if (!this.pc.remoteDescription) this.pendingCandidates.push(data);
      else await this.addCandidate(data);
    }
  }

  async flushCandidates() {
    const queued = this.pendingCandidates.splice(0);
    for (const candidate of queued) await this.addCandidate(candidate);
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      console.warn("ignored ICE candidate", err);
    }
  }

  /** Round-trip time, packet loss since the last sample and decoded frames, from getStats. */
  async sample() {
    if (this.closed) return;
    let report;
    try { report = await this.pc.getStats(); } catch { return; }
    let rtt = null;
    let selectedPair = null;
    let lost = 0;
    let received = 0;
    let framesDecoded = 0;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === "candidate-pair" && (s.id === selectedPair || (!selectedPair && s.nominated && s.state === "succeeded"))) {
        if (typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime * 1000;
      } else if (s.type === "inbound-rtp") {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
        if (s.kind === "video") framesDecoded += s.framesDecoded || 0;
      }
    });
    const prev = this.lastSample;
    this.lastSample = { lost, received };
    const dLost = prev ? lost - prev.lost : lost;
    const dTotal = dLost + (prev ? received - prev.received : received);
    const loss = dTotal > 0 ? Math.max(0, dLost) / dTotal : null;
    this.dispatchEvent(new CustomEvent("quality", { detail: { rtt, loss, framesDecoded, level: qualityLevel(rtt, loss, this.pc.connectionState) } }));
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statsTimer);
    this.pc.onicecandidate = this.pc.ontrack = this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.remoteStream.getTracks().forEach((t) => t.stop());
  }
}

/** good / fair / poor from RTT (ms) and loss (0..1); unknown before the link is up. */
export function qualityLevel(rtt, loss, state) {
  if (state !== "connected" || rtt === null) return "unknown";
  const l = loss ?? 0;
  if (rtt < 150 && l < 0.02) return "good";
  if (rtt < 400 && l < 0.08) return "fair";
  return "poor";
}
