// Participant viewer: plays a session's composite over WHEP.
// The invite token comes from the URL fragment (#token=…), which browsers
// never send to the server, so it stays out of access logs.
'use strict';
(function () {
  const TEXT = {
    vi: {
      title: 'Điểm cầu — Xem trực tiếp',
      connecting: 'Đang kết nối…',
      live: 'Đang phát trực tiếp',
      reconnecting: 'Mất kết nối, đang kết nối lại…',
      waiting: 'Phiên chưa bắt đầu, đang chờ…',
      busy: 'Máy chủ đang bận, sẽ thử lại…',
      notfound: 'Không tìm thấy phiên này',
      unauthorized: 'Mã mời không hợp lệ hoặc đã hết hạn',
      notoken: 'Liên kết thiếu mã mời (#token=…)',
      unplayable: 'Không phát được luồng này',
      error: 'Lỗi',
      unmute: 'Bật tiếng', mute: 'Tắt tiếng',
      fullscreen: 'Toàn màn hình', exitfullscreen: 'Thoát toàn màn hình',
      lang: 'English',
      session: 'Phiên', point: 'Điểm cầu', returnFeed: 'tín hiệu trả về',
    },
    en: {
      title: 'Điểm cầu — Live view',
      connecting: 'Connecting…',
      live: 'Live',
      reconnecting: 'Connection lost, reconnecting…',
      waiting: 'The session has not started yet, waiting…',
      busy: 'The server is busy, retrying…',
      notfound: 'No such session',
      unauthorized: 'The invite link is invalid or has expired',
      notoken: 'The link has no invite token (#token=…)',
      unplayable: 'This stream cannot be played',
      error: 'Error',
      unmute: 'Unmute', mute: 'Mute',
      fullscreen: 'Full screen', exitfullscreen: 'Exit full screen',
      lang: 'Tiếng Việt',
      session: 'Session', point: 'Point', returnFeed: 'return feed',
    },
  };

  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const session = decodeURIComponent(location.pathname.split('/')[2] || '');
  const query = new URLSearchParams(location.search);
  const point = query.get('point') || '';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const endpoint = '/whep/sessions/' + encodeURIComponent(session) +
    (point ? '/points/' + encodeURIComponent(point) : '');

  let lang = query.get('lang') || localStorage.getItem('diemcau.lang') || 'vi';
  if (!TEXT[lang]) lang = 'vi';
  let state = 'connecting';
  let detail = '';
  let pc = null;
  let resource = null;
  let retryTimer = null;
  let attempt = 0;
  let stopped = false;
  let lastFrames = -1;
  let stalledFor = 0;

  function t(key) { return TEXT[lang][key]; }

  function render() {
    document.documentElement.lang = lang;
    document.title = t('title');
    let msg = t(state) || state;
    if (detail) msg += ': ' + detail;
    $('state').textContent = msg;
    $('dot').className = 'dot' + (state === 'live' ? ' live' :
      ['unauthorized', 'notfound', 'unplayable', 'error', 'notoken'].includes(state) ? ' bad' : '');
    $('unmute').textContent = video.muted ? t('unmute') : t('mute');
    $('unmute').classList.toggle('attention', video.muted && state === 'live');
    $('fullscreen').textContent = document.fullscreenElement ? t('exitfullscreen') : t('fullscreen');
    $('lang').textContent = t('lang');
    $('lang').lang = lang === 'vi' ? 'en' : 'vi';
    $('what').textContent = t('session') + ': ' + session +
      (point ? ' · ' + t('point') + ': ' + point + ' (' + t('returnFeed') + ')' : '');
  }

  function setState(s, d) {
    state = s;
    detail = d || '';
    render();
  }

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

  async function iceServers() {
    try {
      const res = await fetch(endpoint, { method: 'OPTIONS', headers: { Authorization: 'Bearer ' + token } });
      return parseLinks(res.headers.get('Link'));
    } catch (e) {
      return [];
    }
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

  function teardown() {
    if (resource) {
      // keepalive lets the DELETE finish while the page unloads.
      fetch(resource, { method: 'DELETE', keepalive: true, headers: { Authorization: 'Bearer ' + token } }).catch(() => {});
      resource = null;
    }
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.close();
      pc = null;
    }
  }

  function retry(s, d, seconds) {
    teardown();
    if (stopped) return;
    setState(s, d);
    clearTimeout(retryTimer);
    const wait = seconds !== undefined ? seconds : Math.min(10, 2 ** Math.min(attempt, 4)) / 2;
    attempt++;
    retryTimer = setTimeout(connect, wait * 1000);
  }

  function fail(s, d) {
    teardown();
    stopped = true;
    setState(s, d);
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      return (body.error && body.error.message) || res.statusText;
    } catch (e) {
      return res.statusText;
    }
  }

  async function connect() {
    clearTimeout(retryTimer);
    teardown();
    if (state !== 'reconnecting' && state !== 'waiting' && state !== 'busy') setState('connecting');
    const conn = new RTCPeerConnection({ iceServers: await iceServers() });
    pc = conn;
    conn.addTransceiver('video', { direction: 'recvonly' });
    conn.addTransceiver('audio', { direction: 'recvonly' });
    const media = new MediaStream();
    conn.ontrack = (ev) => {
      media.addTrack(ev.track);
      if (video.srcObject !== media) video.srcObject = media;
      video.play().catch(() => {});
    };
    conn.onconnectionstatechange = () => {
      if (pc !== conn) return;
      switch (conn.connectionState) {
        case 'connected':
          attempt = 0;
          setState('live');
          break;
        case 'disconnected':
          setState('reconnecting');
          // ICE often recovers from a short blip by itself; give it a moment.
          setTimeout(() => { if (pc === conn && conn.connectionState === 'disconnected') retry('reconnecting'); }, 2500);
          break;
        case 'failed':
        case 'closed':
          retry('reconnecting');
          break;
      }
    };
    let res;
    try {
      await conn.setLocalDescription(await conn.createOffer());
      await gathered(conn, 2000);
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + token },
        body: conn.localDescription.sdp,
      });
    } catch (e) {
      if (pc === conn) retry('reconnecting');
      return;
    }
    if (pc !== conn) return;
    if (res.status !== 201) {
      const why = await errorText(res);
      const after = parseInt(res.headers.get('Retry-After') || '', 10);
      switch (res.status) {
        case 401: case 403: return fail('unauthorized');
        case 404: return retry('notfound', '', 10);
        case 409: return retry('waiting', '', after || 5);
        case 415: case 422: return fail('unplayable', why);
        case 429: case 503: return retry('busy', '', after || 3);
        default: return retry('error', why);
      }
    }
    resource = new URL(res.headers.get('Location'), location.href).toString();
    try {
      await conn.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    } catch (e) {
      retry('error', String(e));
    }
  }

  // A connection can stay up while pictures stop (the server restarted the
  // stream); reconnect when no frame has been decoded for 8 s.
  async function watchdog() {
    if (!pc || state !== 'live') { stalledFor = 0; return; }
    let frames = 0;
    try {
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
      });
    } catch (e) { return; }
    stalledFor = frames === lastFrames ? stalledFor + 2 : 0;
    lastFrames = frames;
    if (stalledFor >= 8) { stalledFor = 0; retry('reconnecting'); }
  }

  $('unmute').addEventListener('click', () => {
    video.muted = !video.muted;
    video.play().catch(() => {});
    render();
  });
  $('fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else $('stage').requestFullscreen().catch(() => {});
  });
  document.addEventListener('fullscreenchange', render);
  video.addEventListener('volumechange', render);
  $('lang').addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('diemcau.lang', lang);
    render();
  });
  window.addEventListener('online', () => { if (state !== 'live' && !stopped) connect(); });
  window.addEventListener('pagehide', teardown);

  // For tests and for technicians at the browser console.
  window.diemcau = { get pc() { return pc; }, get state() { return state; } };

  render();
  if (!token) {
    setState('notoken');
  } else {
    connect();
    setInterval(watchdog, 2000);
  }
})();
