// Each point's sound as the composite hears it (before the operator's gain
// and mute): a meter on its card, refreshed four times a second from
// GET …/levels while the control view shows a running session, and the
// alert for a point whose picture is live but whose sound has stopped (a
// muted microphone at a commune is the commonest fault of a session).
import { api } from './api.js';
import { t } from './i18n.js';
import { h, fmtNum } from './dom.js';

const POLL_MS = 250;
// The meter's scale, in dBFS: below -60 reads as nothing (the silence
// alert's threshold), 0 is full scale. Speech sits around -30 to -15 RMS.
const FLOOR = -60;
const FRESH_MS = 2000; // a fast reading older than this gives way to the status

let sessID = '';
let timer = null;
let onChange = () => {};
let latest = { at: 0, points: new Map() }; // from the fast poll

// sound is a point's reading: the fast poll's while it is fresh, else the
// session status's.
export function sound(sess, p) {
  if (sess && sess.id === sessID && Date.now() - latest.at < FRESH_MS) {
    const q = latest.points.get(p.id);
    if (q) return q;
  }
  return { level: p.level, silent: !!p.silent, silent_for_s: p.silent_for_s };
}

// meter builds a point's meter: a <meter> on the RMS (green; yellow from the
// -18 dBFS alignment level; red from -6) and the figure beside it, the peak
// in its tooltip. No inline styles: the page's CSP refuses them. data-meter
// names the point so the fast poll can move it between renders.
export function meter(sess, p) {
  const el = h('div', { class: 'meter', dataset: { meter: p.id, key: 'meter-' + p.id } },
    h('meter', { min: String(FLOOR), max: '0', low: '-18', high: '-6', optimum: '-40' }),
    h('span', { class: 'meter-text small' }));
  paint(el, sound(sess, p), p.label || p.id);
  return el;
}

function paint(el, s, label) {
  const lvl = s.level;
  const bar = el.querySelector('meter');
  const words = lvl ? fmtNum(lvl.rms_dbfs, 0) + ' dBFS' : t('noAudio');
  bar.value = lvl ? Math.max(FLOOR, lvl.rms_dbfs) : FLOOR;
  bar.setAttribute('aria-label', t('soundLevel', { label }));
  bar.setAttribute('aria-valuetext', words);
  el.dataset.zone = !lvl || lvl.rms_dbfs < FLOOR ? 'none' : 'sound';
  el.title = lvl ? t('peak') + ' ' + fmtNum(lvl.peak_dbfs, 0) + ' dBFS' : '';
  el.querySelector('.meter-text').textContent = words;
}

// silentAlert is the card's alert line while the point is silent.
export function silentAlert(s) {
  if (!s.silent) return null;
  // No live region here: the seconds count, and the banner (app.js) has
  // already said it once.
  return h('span', { class: 'reason silent-alert' }, t('silentFor', { s: fmtNum(s.silent_for_s || 0) }));
}

let gen = 0; // one poll loop at a time: a loop of an older follow stops

async function pollOnce(id) {
  try {
    const res = await api('GET', '/sessions/' + encodeURIComponent(id) + '/levels');
    if (id !== sessID) return;
    const points = new Map((res.points || []).map((q) => [q.id, q]));
    const alerts = (m) => [...m.values()].map((q) => q.id + q.silent + ':' + (q.silent_for_s || 0)).join();
    const before = alerts(latest.points);
    latest = { at: Date.now(), points };
    for (const el of document.querySelectorAll('[data-meter]')) {
      const q = points.get(el.dataset.meter);
      const card = el.closest('[data-point]');
      const label = card && card.querySelector('.point-label');
      if (q) paint(el, q, label ? label.textContent : q.id);
    }
    // The alert's text and the card's colour come with a render.
    if (alerts(points) !== before) onChange();
  } catch (e) { /* the main poll reports a lost server */ }
}

async function loop(id, g) {
  await pollOnce(id);
  if (g === gen) timer = setTimeout(() => loop(id, g), POLL_MS);
}

// follow polls the levels of session id (empty: stop). changed is called
// when a point's silence alert changes, to render the cards again.
export function follow(id, changed) {
  onChange = changed || (() => {});
  if (id === sessID) return;
  clearTimeout(timer);
  gen++;
  sessID = id;
  latest = { at: 0, points: new Map() };
  if (id) loop(id, gen);
}
