// Join page of a point: sends this computer's camera and microphone to the
// point's source over WHIP and plays the point's return feed (the
// composite with everyone's sound but this point's own) over WHEP.
// The invite token comes from the URL fragment (#token=…), which browsers
// never send to the server, so it stays out of access logs.
import { WhepPlayer, WhipPublisher } from './rtc.js';

const TEXT = {
  vi: {
    title: 'Điểm cầu — Tham gia',
    notoken: 'Liên kết thiếu mã mời (#token=…)',
    unauthorized: 'Mã mời không hợp lệ hoặc đã hết hạn',
    nopoint: 'Mã mời này chỉ để xem, không gửi hình được',
    devices: 'Đang xin quyền dùng máy quay và micrô…',
    nodevices: 'Không mở được máy quay hoặc micrô',
    insecure: 'Trình duyệt chỉ cho dùng máy quay qua https:// (hoặc localhost): hãy mở liên kết https của máy chủ',
    ready: 'Sẵn sàng, bấm "Tham gia"',
    idle: 'Chưa kết nối', connecting: 'Đang kết nối…', live: 'Đang truyền',
    reconnecting: 'Mất kết nối, đang kết nối lại…', waiting: 'Phiên chưa bắt đầu, đang chờ…',
    busy: 'Máy chủ đang bận, sẽ thử lại…', notfound: 'Không tìm thấy', unplayable: 'Không truyền được',
    error: 'Lỗi',
    sending: 'Gửi đi', receiving: 'Nhận về',
    returnTitle: 'Tín hiệu từ phiên', selfTitle: 'Hình của điểm cầu',
    camera: 'Máy quay', mic: 'Micrô', mute: 'Tắt micrô', unmute: 'Bật micrô',
    join: 'Tham gia', leave: 'Rời phiên', lang: 'English',
    good: 'Kết nối tốt', fair: 'Kết nối trung bình', poor: 'Kết nối kém', none: '',
    rtt: 'trễ', loss: 'mất gói', rate: 'tốc độ',
  },
  en: {
    title: 'Điểm cầu — Join',
    notoken: 'The link has no invite token (#token=…)',
    unauthorized: 'The invite link is invalid or has expired',
    nopoint: 'This invite is for watching only; it cannot send a picture',
    devices: 'Asking to use the camera and microphone…',
    nodevices: 'Cannot open the camera or microphone',
    insecure: 'Browsers give the camera only to https:// pages (or localhost): open the server\'s https link',
    ready: 'Ready: press "Join"',
    idle: 'Not connected', connecting: 'Connecting…', live: 'Live',
    reconnecting: 'Connection lost, reconnecting…', waiting: 'The session has not started, waiting…',
    busy: 'The server is busy, retrying…', notfound: 'Not found', unplayable: 'Cannot send',
    error: 'Error',
    sending: 'Sending', receiving: 'Receiving',
    returnTitle: 'From the session', selfTitle: 'This point\'s picture',
    camera: 'Camera', mic: 'Microphone', mute: 'Mute microphone', unmute: 'Unmute microphone',
    join: 'Join', leave: 'Leave', lang: 'Tiếng Việt',
    good: 'Good connection', fair: 'Fair connection', poor: 'Poor connection', none: '',
    rtt: 'delay', loss: 'loss', rate: 'rate',
  },
};

const $ = (id) => document.getElementById(id);
const session = decodeURIComponent(location.pathname.split('/')[2] || '');
const query = new URLSearchParams(location.search);
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
let lang = query.get('lang') || localStorage.getItem('diemcau.lang') || 'vi';
if (!TEXT[lang]) lang = 'vi';

let me = null; // the invite's own view: session, point, source, labels
let stream = null;
let publisher = null;
let player = null;
let page = 'devices'; // the page's own state, before and around the links
let sendState = 'idle', sendDetail = '';
let recvState = 'idle', recvDetail = '';
let quality = { level: 'none', text: '' };
let last = null; // previous outbound statistics, for the bitrate

const t = (k) => TEXT[lang][k] || k;

function render() {
  document.documentElement.lang = lang;
  document.title = t('title');
  $('what').textContent = me ? (me.title || me.session) + ' · ' + (me.point_label || me.point) : session;
  $('lang').textContent = t('lang');
  $('lang').lang = lang === 'vi' ? 'en' : 'vi';
  $('camera-label').textContent = t('camera');
  $('mic-label').textContent = t('mic');
  $('return-title').textContent = t('returnTitle');
  $('self-title').textContent = t('selfTitle');
  $('join').textContent = t('join');
  $('leave').textContent = t('leave');
  const audio = stream && stream.getAudioTracks()[0];
  $('mute').textContent = audio && !audio.enabled ? t('unmute') : t('mute');
  $('mute').classList.toggle('attention', !!audio && !audio.enabled);
  const joined = !!publisher;
  $('join').hidden = joined;
  $('leave').hidden = !joined;
  $('join').disabled = page !== 'ready';
  const pageWords = page === 'ready' || page === 'joined' ? '' : t(page);
  const words = (s, d) => t(s) + (d ? ': ' + d : '');
  $('send-state').textContent = pageWords || t('sending') + ': ' + words(sendState, sendDetail);
  $('return-state').textContent = pageWords || t('receiving') + ': ' + words(recvState, recvDetail);
  $('quality').textContent = joined ? quality.text : '';
  $('quality').className = joined ? quality.level : '';
  const bad = ['notoken', 'unauthorized', 'nopoint', 'nodevices', 'insecure'].includes(page) ||
    ['unauthorized', 'unplayable', 'error'].includes(sendState);
  $('dot').className = 'dot' + (bad ? ' bad' : sendState === 'live' && recvState === 'live' ? ' live' : '');
}

function setPage(p) { page = p; render(); }

async function whoAmI() {
  const res = await fetch('/api/v1/invite', { headers: { Authorization: 'Bearer ' + token } });
  if (res.status === 401 || res.status === 403) return null;
  if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
  return res.json();
}

// openDevices asks for the chosen (or default) camera and microphone and
// shows the picture in the self-view.
async function openDevices() {
  const cam = $('camera').value, mic = $('mic').value;
  const next = await navigator.mediaDevices.getUserMedia({
    video: Object.assign({ width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
      cam ? { deviceId: { exact: cam } } : {}),
    audio: Object.assign({ echoCancellation: true, noiseSuppression: true }, mic ? { deviceId: { exact: mic } } : {}),
  });
  const muted = stream && stream.getAudioTracks()[0] && !stream.getAudioTracks()[0].enabled;
  if (muted) next.getAudioTracks().forEach((a) => { a.enabled = false; });
  const old = stream;
  stream = next;
  $('self').srcObject = stream;
  if (publisher) await publisher.replace(stream);
  if (old) old.getTracks().forEach((tr) => tr.stop());
  await listDevices();
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select, kind, current) => {
    select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || kind + ' ' + (i + 1);
      o.selected = d.deviceId === current;
      return o;
    }));
  };
  const settings = (kind) => {
    const tr = stream && (kind === 'video' ? stream.getVideoTracks() : stream.getAudioTracks())[0];
    return tr ? tr.getSettings().deviceId : '';
  };
  fill($('camera'), 'videoinput', settings('video'));
  fill($('mic'), 'audioinput', settings('audio'));
}

function join() {
  if (publisher || !me || !stream) return;
  const auth = () => token;
  publisher = new WhipPublisher(stream, me.whip, (s, d) => { sendState = s; sendDetail = d; render(); }, auth);
  player = new WhepPlayer($('return'), me.whep, (s, d) => { recvState = s; recvDetail = d; render(); }, auth);
  publisher.start();
  player.start();
  setPage('joined');
}

function leave() {
  if (publisher) publisher.stop();
  if (player) player.stop();
  publisher = player = null;
  sendState = recvState = 'idle';
  setPage('ready');
}

// rate describes the outbound link in words a technician can act on,
// from the browser's own statistics: round-trip time, loss, bitrate.
async function rate() {
  if (!publisher || !publisher.pc) return;
  let rtt = null, lost = 0, sent = 0, bytes = 0;
  try {
    (await publisher.pc.getStats()).forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime !== undefined) rtt = r.currentRoundTripTime;
      if (r.type === 'remote-inbound-rtp') lost += r.packetsLost || 0;
      if (r.type === 'outbound-rtp') { sent += r.packetsSent || 0; bytes += r.bytesSent || 0; }
    });
  } catch (e) { return; }
  const now = performance.now();
  let kbps = 0, loss = 0;
  if (last) {
    const dt = (now - last.at) / 1000;
    kbps = dt > 0 ? Math.max(0, (bytes - last.bytes) * 8 / dt / 1000) : 0;
    const dSent = sent - last.sent, dLost = lost - last.lost;
    loss = dSent + dLost > 0 ? Math.max(0, dLost / (dSent + dLost)) : 0;
  }
  last = { at: now, bytes, sent, lost };
  const ms = rtt === null ? null : Math.round(rtt * 1000);
  const level = loss > 0.05 || (ms !== null && ms > 400) ? 'poor' : loss > 0.01 || (ms !== null && ms > 150) ? 'fair' : 'good';
  quality = {
    level,
    text: t(level) + ' (' + (ms === null ? '' : t('rtt') + ' ' + ms + ' ms, ') +
      t('loss') + ' ' + (loss * 100).toFixed(1) + ' %, ' + t('rate') + ' ' + Math.round(kbps) + ' kbit/s)',
  };
  render();
}

$('lang').addEventListener('click', () => {
  lang = lang === 'vi' ? 'en' : 'vi';
  localStorage.setItem('diemcau.lang', lang);
  render();
});
$('mute').addEventListener('click', () => {
  if (!stream) return;
  stream.getAudioTracks().forEach((a) => { a.enabled = !a.enabled; });
  render();
});
$('camera').addEventListener('change', () => openDevices().catch(() => setPage('nodevices')));
$('mic').addEventListener('change', () => openDevices().catch(() => setPage('nodevices')));
$('join').addEventListener('click', join);
$('leave').addEventListener('click', leave);
window.addEventListener('online', () => {
  for (const l of [publisher, player]) if (l && l.state !== 'live' && !l.stopped) l.connect();
});
window.addEventListener('pagehide', () => {
  for (const l of [publisher, player]) if (l) l.teardown();
});

// For tests and for technicians at the browser console.
window.diemcau = {
  get page() { return page; },
  get sending() { return sendState; },
  get receiving() { return recvState; },
  get publisher() { return publisher && publisher.pc; },
  get pc() { return player && player.pc; },
  get me() { return me; },
  join,
};

async function main() {
  render();
  if (!token) return setPage('notoken');
  try {
    me = await whoAmI();
  } catch (e) {
    sendDetail = String(e);
    return setPage('error');
  }
  if (!me) return setPage('unauthorized');
  if (!me.point || !me.whip) return setPage('nopoint');
  render();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return setPage('insecure');
  try {
    await openDevices();
  } catch (e) {
    return setPage('nodevices');
  }
  setPage('ready');
  if (query.get('autojoin') === '1') join();
  setInterval(rate, 2000);
}

main();
