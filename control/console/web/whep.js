// A small WHEP player (after control/whep/web/watch.js): offer, 201 with
// Location and the SDP answer, DELETE the Location to stop; retries with
// back-off and reconnects when pictures stop arriving.
import { token } from './api.js';

function parseLinks(header) {
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

// WhepPlayer plays one WHEP endpoint into a <video>; onState receives
// connecting, live, reconnecting, waiting, busy, notfound, unauthorized,
// unplayable or error (with a detail).
export class WhepPlayer {
  constructor(video, endpoint, onState) {
    this.video = video;
    this.endpoint = endpoint;
    this.onState = onState || (() => {});
    this.pc = null;
    this.resource = null;
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
    this.watch = null;
    this.lastFrames = -1;
    this.stalled = 0;
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
    this.video.srcObject = null;
    this.set('idle');
  }

  teardown() {
    if (this.resource) {
      // keepalive lets the DELETE finish while the page unloads.
      fetch(this.resource, { method: 'DELETE', keepalive: true, headers: { Authorization: 'Bearer ' + token() } }).catch(() => {});
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
    const auth = { Authorization: 'Bearer ' + token() };
    let ice = [];
    try {
      ice = parseLinks((await fetch(this.endpoint, { method: 'OPTIONS', headers: auth })).headers.get('Link'));
    } catch (e) { /* no ICE servers: host candidates only */ }
    if (this.stopped) return;
    const conn = new RTCPeerConnection({ iceServers: ice });
    this.pc = conn;
    conn.addTransceiver('video', { direction: 'recvonly' });
    conn.addTransceiver('audio', { direction: 'recvonly' });
    const media = new MediaStream();
    conn.ontrack = (ev) => {
      media.addTrack(ev.track);
      if (this.video.srcObject !== media) this.video.srcObject = media;
      this.video.play().catch(() => {});
    };
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
        headers: Object.assign({ 'Content-Type': 'application/sdp' }, auth),
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
        case 409: return this.retry('waiting', '', after || 3);
        case 415: case 422: return this.fail('unplayable', why);
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

  // framesDecoded of the video, for the watchdog and for tests.
  async frames() {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0;
    });
    return n;
  }

  // A connection can stay up while pictures stop (the stream restarted);
  // reconnect when no frame has been decoded for 8 s.
  async watchdog() {
    if (!this.pc || this.state !== 'live') { this.stalled = 0; return; }
    let n;
    try { n = await this.frames(); } catch (e) { return; }
    this.stalled = n === this.lastFrames ? this.stalled + 2 : 0;
    this.lastFrames = n;
    if (this.stalled >= 8) { this.stalled = 0; this.retry('reconnecting'); }
  }
}
