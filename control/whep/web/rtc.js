// WebRTC clients shared by every diemcau page (participant viewer, join
// page, operator console): a WHEP player and a WHIP publisher. Both speak
// the same exchange: OPTIONS for the ICE servers (Link headers), POST the
// offer, 201 with Location and the SDP answer, DELETE the Location to end.
// Both retry with back-off and come back by themselves after a network blip.
//
// States passed to onState: connecting, live, reconnecting, waiting, busy,
// notfound, unauthorized, unplayable, error (with a detail), idle.

// parseLinks reads the ICE servers from a WHIP/WHEP Link header.
export function parseLinks(header) {
  const servers = [];
  if (!header) return servers;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = part.match(/<([^>]+)>(.*)/);
    if (!m || !/rel="?ice-server"?/.test(m[2])) continue;
    const s = { urls: m[1] };
    const user = m[2].match(/username="([^"]*)"/);
    const cred = m[2].match(/credential="([^"]*)"/);
    if (user) s.username = user[1];
    if (cred) s.credential = cred[1];
    servers.push(s);
  }
  return servers;
}

// gathered resolves when ICE gathering is complete, or after ms: the
// server gets one offer with every candidate (no trickle).
function gathered(conn, ms) {
  if (conn.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, ms);
    conn.addEventListener('icegatheringstatechange', () => {
      if (conn.iceGatheringState === 'complete') done();
    });
  });
}

// Link is one offer/answer exchange with a WHIP or WHEP endpoint, kept up
// until stop(). Subclasses add their transceivers in setup(conn).
class Link {
  // token is a function returning the Bearer token (the console's changes
  // when the operator logs in again).
  constructor(endpoint, token, onState) {
    this.endpoint = endpoint;
    this.token = token;
    this.onState = onState || (() => {});
    this.pc = null;
    this.resource = null;
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
    this.watch = null;
    this.state = 'idle';
  }

  set(state, detail) {
    this.state = state;
    this.onState(state, detail || '');
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
    this.watch = setInterval(() => this.watchdog(), 2000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watch);
    this.teardown();
    this.set('idle');
  }

  auth() { return { Authorization: 'Bearer ' + this.token() }; }

  teardown() {
    if (this.resource) {
      // keepalive lets the DELETE finish while the page unloads.
      fetch(this.resource, { method: 'DELETE', keepalive: true, headers: this.auth() }).catch(() => {});
      this.resource = null;
    }
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
  }

  retry(state, detail, seconds) {
    this.teardown();
    if (this.stopped) return;
    this.set(state, detail);
    clearTimeout(this.timer);
    const wait = seconds !== undefined ? seconds : Math.min(10, 2 ** Math.min(this.attempt, 4)) / 2;
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), wait * 1000);
  }

  fail(state, detail) {
    this.teardown();
    this.stopped = true;
    clearInterval(this.watch);
    this.set(state, detail);
  }

  async connect() {
    clearTimeout(this.timer);
    this.teardown();
    if (this.stopped) return;
    if (!['reconnecting', 'waiting', 'busy'].includes(this.state)) this.set('connecting');
    let ice = [];
    try {
      ice = parseLinks((await fetch(this.endpoint, { method: 'OPTIONS', headers: this.auth() })).headers.get('Link'));
    } catch (e) { /* no ICE servers: host candidates only */ }
    if (this.stopped) return;
    const conn = new RTCPeerConnection({ iceServers: ice });
    this.pc = conn;
    this.setup(conn);
    conn.onconnectionstatechange = () => {
      if (this.pc !== conn) return;
      switch (conn.connectionState) {
        case 'connected': this.attempt = 0; this.set('live'); break;
        case 'disconnected':
          this.set('reconnecting');
          // ICE often recovers from a short blip by itself; give it a moment.
          setTimeout(() => { if (this.pc === conn && conn.connectionState === 'disconnected') this.retry('reconnecting'); }, 2500);
          break;
        case 'failed': case 'closed': this.retry('reconnecting'); break;
      }
    };
    let res;
    try {
      await conn.setLocalDescription(await conn.createOffer());
      await gathered(conn, 2000);
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/sdp' }, this.auth()),
        body: conn.localDescription.sdp,
      });
    } catch (e) {
      if (this.pc === conn) this.retry('reconnecting');
      return;
    }
    if (this.pc !== conn) return;
    if (res.status !== 201) {
      let why = res.statusText;
      try { why = (await res.json()).error.message || why; } catch (e) { /* not JSON */ }
      const after = parseInt(res.headers.get('Retry-After') || '', 10);
      switch (res.status) {
        case 401: case 403: return this.fail('unauthorized', why);
        case 404: return this.retry('notfound', why, 10);
        case 409: return this.retry('waiting', why, after || 3);
        case 400: case 415: case 422: return this.fail('unplayable', why);
        case 429: case 503: return this.retry('busy', '', after || 3);
        default: return this.retry('error', why);
      }
    }
    this.resource = new URL(res.headers.get('Location'), location.href).toString();
    try {
      await conn.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    } catch (e) {
      this.retry('error', String(e));
    }
  }

  // progress is a counter that rises while media flows (frames decoded or
  // sent); the watchdog reconnects when it stands still for 8 s.
  async progress() { return 0; }

  async watchdog() {
    if (!this.pc || this.state !== 'live') { this.stalled = 0; return; }
    let n;
    try { n = await this.progress(); } catch (e) { return; }
    this.stalled = n === this.last ? (this.stalled || 0) + 2 : 0;
    this.last = n;
    if (this.stalled >= 8) { this.stalled = 0; this.retry('reconnecting'); }
  }

  // quality sums what the connection's statistics say, for a words-only
  // indicator: round-trip time, loss and bitrate of the media.
  async quality(kind) {
    const q = { rtt: null, lost: 0, packets: 0, bytes: 0, frames: 0, samples: 0 };
    if (!this.pc) return q;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime !== undefined) q.rtt = r.currentRoundTripTime;
      if (r.type === 'remote-inbound-rtp' && r.roundTripTime !== undefined) q.rtt = r.roundTripTime;
      if (r.type === kind + '-rtp') {
        q.packets += (r.packetsReceived || r.packetsSent || 0);
        q.bytes += (r.bytesReceived || r.bytesSent || 0);
        if (r.kind === 'video') q.frames += (r.framesDecoded || r.framesEncoded || 0);
        if (r.kind === 'audio') q.samples += (r.totalSamplesReceived || 0);
      }
      if (r.type === 'inbound-rtp') q.lost += r.packetsLost || 0;
      if (r.type === 'remote-inbound-rtp') q.lost += r.packetsLost || 0;
    });
    return q;
  }
}

// WhepPlayer plays one WHEP endpoint into a <video>.
export class WhepPlayer extends Link {
  constructor(video, endpoint, onState, token) {
    super(endpoint, token, onState);
    this.video = video;
  }

  setup(conn) {
    conn.addTransceiver('video', { direction: 'recvonly' });
    conn.addTransceiver('audio', { direction: 'recvonly' });
    const media = new MediaStream();
    conn.ontrack = (ev) => {
      media.addTrack(ev.track);
      if (this.video.srcObject !== media) this.video.srcObject = media;
      this.video.play().catch(() => {});
    };
  }

  stop() {
    super.stop();
    this.video.srcObject = null;
  }

  // frames is the video's framesDecoded, for the watchdog and for tests.
  async frames() {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0;
    });
    return n;
  }

  progress() { return this.frames(); }
}

// WhipPublisher sends a camera and microphone (a MediaStream) to one WHIP
// endpoint. H.264 is offered first: the server passes it to the archive
// and the mixer without transcoding.
export class WhipPublisher extends Link {
  constructor(stream, endpoint, onState, token) {
    super(endpoint, token, onState);
    this.stream = stream;
  }

  setup(conn) {
    for (const track of this.stream.getTracks()) {
      const tr = conn.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] });
      if (track.kind === 'video') preferH264(tr);
    }
  }

  // replace swaps the tracks of a new device choice into the running
  // connection, without a new offer.
  async replace(stream) {
    this.stream = stream;
    if (!this.pc) return;
    for (const sender of this.pc.getSenders()) {
      const next = stream.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
      if (next) await sender.replaceTrack(next);
    }
  }

  async progress() {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp') n += r.packetsSent || 0;
    });
    return n;
  }
}

function preferH264(transceiver) {
  if (!transceiver.setCodecPreferences || !window.RTCRtpSender || !RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities('video');
  if (!caps) return;
  // Constrained baseline with packetization-mode 1 first: every browser
  // encodes it and it carries no B-frames.
  const rank = (c) => {
    if (c.mimeType.toLowerCase() !== 'video/h264') return 3;
    const fmtp = c.sdpFmtpLine || '';
    if (/packetization-mode=1/.test(fmtp) && /profile-level-id=42e0/.test(fmtp)) return 0;
    if (/packetization-mode=1/.test(fmtp)) return 1;
    return 2;
  };
  const codecs = caps.codecs.slice().sort((a, b) => rank(a) - rank(b));
  try { transceiver.setCodecPreferences(codecs); } catch (e) { /* keep the browser's order */ }
}
