// The running session: the composite playing over WHEP, layout and focus,
// per-point mute, gain and sound meter (meters.js), points joining and
// leaving (runpoints.js), recording, viewers and mixer status.
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, changed, badge, fmtBytes, fmtClock, fmtNum, notify, busy } from './dom.js';
import { S, session, source, isRunning, titleOf, startSession, stopSession, refresh } from './state.js';
import { WhepPlayer } from './whep.js';
import * as points from './runpoints.js';
import * as meters from './meters.js';

let player = null;
let playing = '';
let visible = false;
let lastCheck = null; // the newest check report of the selected session, for disk free

const path = (sess) => '/sessions/' + encodeURIComponent(sess.id);

// syncPlayer plays the composite of the selected session while it runs and
// this view is shown; it stops otherwise (no viewer left behind).
function syncPlayer(sess) {
  const want = visible && isRunning(sess) ? sess.id : '';
  if (want === playing) return;
  if (player) player.stop();
  player = null;
  playing = want;
  if (!want) {
    $('#composite-state').textContent = '';
    return;
  }
  player = new WhepPlayer($('#composite'), '/whep/sessions/' + encodeURIComponent(want), (st, why) => {
    $('#composite-state').textContent = t('p_' + st) + (why ? ': ' + why : '');
    $('#composite').dataset.state = st;
  });
  player.start();
}

async function setLayout(sess, layout, focus, button) {
  await busy(button, async () => {
    try {
      await api('PUT', path(sess) + '/layout', { layout, focus: focus || '' });
      await refresh();
    } catch (e) {
      notify(describeError(e), true);
    }
  });
}

async function patchPoint(sess, point, change, control) {
  await busy(control, async () => {
    try {
      await api('PATCH', path(sess) + '/points/' + encodeURIComponent(point.id), change);
      await refresh();
    } catch (e) {
      notify(describeError(e), true);
    }
  });
}

function head(sess) {
  const running = isRunning(sess);
  return [
    h('h2', null, titleOf(sess)),
    badge('ss', sess.state, t('ss_' + sess.state)),
    sess.case_ref ? h('span', { class: 'muted' }, sess.case_ref) : null,
    h('span', { class: 'spacer' }),
    !running && sess.state !== 'ended' ? h('button', { type: 'button', id: 'run-rehearsal', dataset: { key: 'run-reh' },
      onclick: (ev) => startSession(sess, 'rehearsal', ev.target) }, t('startRehearsal')) : null,
    !running && sess.state !== 'ended' ? h('button', { type: 'button', id: 'run-live', class: 'danger', dataset: { key: 'run-live' },
      onclick: (ev) => startSession(sess, 'live', ev.target) }, t('startLive')) : null,
    running ? h('button', { type: 'button', id: 'run-stop', class: 'danger', dataset: { key: 'run-stop' },
      onclick: (ev) => stopSession(sess, ev.target) }, t('stop')) : null,
  ];
}

function elapsed(sess) {
  return sess.started_at ? (Date.now() - new Date(sess.started_at).getTime()) / 1000 : 0;
}

function recBlock(sess) {
  const r = sess.recording || {};
  if (sess.state === 'rehearsal') return h('div', { class: 'rec off' }, t('recRehearsal'));
  if (sess.state !== 'live') return h('div', { class: 'rec off' }, t('recOff'));
  const on = r.active && !r.disk_stopped;
  let disk = on ? t('diskOk') : r.disk_stopped ? t('diskStopped') : t('recOff');
  if (r.error) disk += ': ' + r.error;
  const srv = lastCheck && lastCheck.server;
  return h('div', { class: 'rec' + (on ? ' on' : ' bad') },
    h('div', { class: 'rec-head' }, h('span', { class: 'rec-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'rec-word' }, on ? t('rec') : t('recOff')),
      h('span', { class: 'rec-clock', id: 'rec-clock' }, fmtClock(elapsed(sess)))),
    h('dl', { class: 'kv-inline' },
      h('dt', null, t('bytes')), h('dd', null, fmtBytes(r.bytes)),
      h('dt', null, t('segments')), h('dd', null, fmtNum(r.segments)),
      h('dt', null, t('disk')), h('dd', { class: on ? '' : 'error-text' }, disk),
      srv && srv.disk_free_bytes ? [h('dt', null, t('diskFree')), h('dd', null, fmtBytes(srv.disk_free_bytes))] : null));
}

function status(sess) {
  const m = sess.mixer;
  return [
    recBlock(sess),
    h('dl', { class: 'stats' },
      h('dt', null, t('elapsed')), h('dd', { id: 'run-elapsed' }, isRunning(sess) ? fmtClock(elapsed(sess)) : '—'),
      h('dt', null, t('viewers')), h('dd', { id: 'run-viewers' }, fmtNum(sess.viewers)),
      sess.renditions ? [h('dt', null, t('renditions')), h('dd', { id: 'run-renditions' }, renditions(sess.renditions))] : null,
      h('dt', null, t('mixerFps')), h('dd', null, m ? fmtNum(m.fps, 1) : '—'),
      h('dt', null, t('encoder')), h('dd', null, m && m.encoder ? m.encoder : '—'),
      h('dt', null, t('dropped')), h('dd', null, m ? fmtNum(m.dropped) : '—'),
      h('dt', null, t('latency')), h('dd', null, m && m.latency_p50_ms ? fmtNum(m.latency_p50_ms) + ' / ' + fmtNum(m.latency_p95_ms) + ' ms' : '—')),
    sess.error ? h('p', { class: 'error-text' }, sess.error) : null,
  ];
}

// renditions is how many viewers are on each rendition: "main 3 · low 1".
function renditions(r) {
  return ['main', 'low'].filter((k) => r[k]).map((k) => t('rendition_' + k) + ' ' + fmtNum(r[k])).join(' · ') || '—';
}

function pointCard(sess, p) {
  const isFocus = sess.focus === p.id;
  const src = source(p.source);
  const gainId = 'gain-' + p.id;
  const snd = meters.sound(sess, p);
  const cls = 'point' + (isFocus ? ' focus' : '') + (p.state !== 'online' ? ' lost' : snd.silent ? ' silent' : '');
  return h('div', { class: cls, dataset: { point: p.id } },
    h('button', { type: 'button', class: 'point-main', dataset: { key: 'focus-' + p.id }, 'aria-pressed': String(isFocus),
      title: t('setFocus'), onclick: (ev) => setLayout(sess, sess.layout, p.id, ev.currentTarget) },
      h('span', { class: 'point-label' }, p.label || p.id),
      h('span', { class: 'muted small' }, t('r_' + p.role) + ' · ' + p.source + (isFocus ? ' · ' + t('focus') : '') +
        (p.muted ? ' · ' + t('muted') : '')),
      badge('st', p.state, t('st_' + p.state)),
      p.state !== 'online' && src && src.error ? h('span', { class: 'reason' }, src.error) : null,
      meters.silentAlert(snd)),
    isRunning(sess) ? meters.meter(sess, p) : null,
    h('div', { class: 'point-audio' },
      // A toggle with a fixed name: aria-pressed (and red) says it is muted.
      h('button', { type: 'button', dataset: { key: 'mute-' + p.id }, 'aria-pressed': String(!!p.muted),
        onclick: (ev) => patchPoint(sess, p, { muted: !p.muted }, ev.currentTarget) }, t('mute')),
      h('label', { for: gainId, class: 'small' }, t('gain')),
      h('input', { id: gainId, type: 'range', min: '0', max: '4', step: '0.05', value: String(p.gain), dataset: { key: gainId },
        'aria-valuetext': fmtNum(p.gain, 2),
        oninput: (ev) => { ev.target.nextSibling.textContent = fmtNum(+ev.target.value, 2); },
        onchange: (ev) => patchPoint(sess, p, { gain: +ev.target.value }, null) }),
      h('output', { for: gainId }, fmtNum(p.gain, 2)),
      points.canEdit(sess) ? points.removeButton(sess, p) : null));
}

export function render() {
  const sess = session();
  const view = $('#view-run');
  points.render(sess);
  if (!sess) {
    syncPlayer(null);
    meters.follow('');
    mount($('#run-head'), h('p', { class: 'empty' }, t('noSession')));
    mount($('#run-status'));
    mount($('#run-points'));
    view.classList.add('no-session');
    return;
  }
  view.classList.remove('no-session');
  view.classList.toggle('stopped', !isRunning(sess));
  syncPlayer(sess);
  meters.follow(visible && isRunning(sess) ? sess.id : '', render);
  if (changed($('#run-head'), [sess.id, sess.title, sess.state, sess.case_ref])) mount($('#run-head'), head(sess));
  mount($('#run-status'), status(sess));
  if (changed($('#run-points'), [sess.id, sess.state, sess.focus, sess.layout, sess.points, sess.points.map((p) => (source(p.source) || {}).error),
    sess.points.map((p) => { const s = meters.sound(sess, p); return [s.silent, s.silent_for_s]; })])) {
    mount($('#run-points'), sess.points.map((p) => pointCard(sess, p)));
  }
  for (const b of $('#layouts').querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.dataset.layout === sess.layout));
    b.disabled = sess.state === 'ended';
  }
  if (!isRunning(sess)) $('#composite-state').textContent = t('notRunning');
}

// tick moves the clocks between polls.
function tick() {
  const sess = session();
  if (!visible || !isRunning(sess)) return;
  for (const id of ['#run-elapsed', '#rec-clock']) {
    const el = $(id);
    if (el) el.textContent = fmtClock(elapsed(sess));
  }
}

async function loadLastCheck() {
  const sess = session();
  lastCheck = null;
  if (!sess) return;
  try {
    const list = (await api('GET', path(sess) + '/checks')).checks || [];
    if (list.length) lastCheck = list[list.length - 1];
  } catch (e) { /* checks are optional here */ }
}

export function show() { visible = true; loadLastCheck(); render(); }
export function hide() { visible = false; syncPlayer(null); meters.follow(''); }
export function sessionChanged() { loadLastCheck(); points.closeAdd(); }

export function init() {
  for (const b of $('#layouts').querySelectorAll('button')) {
    b.addEventListener('click', () => {
      const sess = session();
      if (sess) setLayout(sess, b.dataset.layout, sess.focus, b);
    });
  }
  const video = $('#composite');
  $('#composite-sound').addEventListener('click', (ev) => {
    video.muted = !video.muted;
    video.play().catch(() => {});
    ev.target.textContent = video.muted ? t('unmuteVideo') : t('muteVideo');
    ev.target.setAttribute('aria-pressed', String(!video.muted));
  });
  points.init();
  setInterval(tick, 1000);
  // For tests and for technicians at the browser console.
  window.diemcauConsole = { get player() { return player; } };
}
