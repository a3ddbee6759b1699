// Participant viewer: plays a session's composite over WHEP.
// The invite token comes from the URL fragment (#token=…), which browsers
// never send to the server, so it stays out of access logs.
import { WhepPlayer } from './rtc.js';

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
    // A 409 before the session starts says why; the words say it already.
    detail = s === 'waiting' ? '' : (d || '');
    render();
  }

  const player = new WhepPlayer(video, endpoint, setState, () => token);

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
  window.addEventListener('online', () => { if (state !== 'live' && !player.stopped) player.connect(); });
  window.addEventListener('pagehide', () => player.teardown());

  // For tests and for technicians at the browser console.
  window.diemcau = { get pc() { return player.pc; }, get state() { return state; } };

  render();
  if (!token) {
    setState('notoken');
  } else {
    player.start();
  }
})();
