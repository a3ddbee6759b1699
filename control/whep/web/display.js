// The studio screen of a point node: its return feed from the hub (the
// source "hub", or ?source=ID), full screen, no controls, sound on. While
// no picture arrives it shows a slate — "MẤT KẾT NỐI TỈNH" (the link to
// the province is lost) — rather than a frozen frame. The token comes from
// the URL fragment (#token=…), which survives reloads and never reaches
// the server's logs.
import { WhepPlayer } from './rtc.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const source = query.get('source') || 'hub';
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
const video = $('video');
let state = 'connecting';
let frames = -1;
let stalledSince = performance.now();
let showing = true;

const DETAIL = {
  connecting: 'Đang kết nối…',
  reconnecting: 'Đang kết nối lại…',
  waiting: 'Đang chờ tín hiệu…',
  busy: 'Máy chủ đang bận, sẽ thử lại…',
  notfound: 'Không có nguồn "' + source + '" trên máy này',
  unauthorized: 'Mã truy cập không hợp lệ',
  notoken: 'Liên kết thiếu mã truy cập (#token=…)',
  stalled: 'Không nhận được hình từ tỉnh',
};

function slate(show, detail) {
  showing = show;
  $('slate').hidden = !show;
  $('slate-detail').textContent = detail || '';
}

const player = new WhepPlayer(video, '/whep/sources/' + encodeURIComponent(source), (s) => {
  state = s;
  if (s !== 'live') slate(true, DETAIL[s] || s);
}, () => token);

// The connection can stay up while the hub is gone (the local source is
// offline): the picture stops. Show the slate after 1.5 s without a new
// frame, and take it down at the first new one.
async function watch() {
  if (state !== 'live') return;
  let n = 0;
  try { n = await player.frames(); } catch (e) { return; }
  const now = performance.now();
  if (n !== frames) {
    frames = n;
    stalledSince = now;
    if (showing) slate(false);
  } else if (!showing && now - stalledSince > 1500) {
    slate(true, DETAIL.stalled);
  }
}

// For tests and for technicians at the browser console.
window.diemcau = { get pc() { return player.pc; }, get state() { return state; }, get slate() { return showing; } };

if (!token) {
  slate(true, DETAIL.notoken);
} else {
  player.start();
  setInterval(watch, 250);
}
window.addEventListener('pagehide', () => player.teardown());
