// Checks: run the pre-session check now, read its report per point
// (pass/warn/fail with reasons), and the history with the automatic
// T-24 h and T-2 h checks that Decision 354 asks for.
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, changed, badge, fmtTime, fmtBytes, fmtNum, notify, busy } from './dom.js';
import { session } from './state.js';

let list = [];
let shownN = 0;
let loadedFor = '';
let visible = false;

const path = (id) => '/sessions/' + encodeURIComponent(id) + '/checks';

async function load() {
  const sess = session();
  if (!sess) { list = []; loadedFor = ''; return render(); }
  try {
    const got = (await api('GET', path(sess.id))).checks || [];
    if (loadedFor !== sess.id) shownN = 0;
    loadedFor = sess.id;
    list = got;
  } catch (e) {
    notify(describeError(e), true);
  }
  render();
}

function schedule(sess) {
  if (!sess.scheduled_at) return t('noSchedule');
  const at = new Date(sess.scheduled_at).getTime();
  return t('autoChecks', { a: fmtTime(new Date(at - 24 * 3600e3).toISOString()), b: fmtTime(new Date(at - 2 * 3600e3).toISOString()) });
}

function serverPart(s) {
  if (!s) return null;
  return h('div', { class: 'check-point', dataset: { verdict: s.verdict } },
    h('div', { class: 'check-head' }, h('strong', null, t('server')), badge('v', s.verdict, t('v_' + s.verdict))),
    h('dl', { class: 'kv-inline' },
      h('dt', null, t('encoder')), h('dd', null, (s.encoder || '—') + ' (' + (s.hardware ? t('hardware') : t('software')) + ')'),
      h('dt', null, t('disk')), h('dd', null, fmtBytes(s.disk_free_bytes) + (s.disk_needed_bytes ? ' / ' + t('needed') + ' ' + fmtBytes(s.disk_needed_bytes) : '')),
      h('dt', null, t('load')), h('dd', null, fmtNum(s.load1, 2) + ' / ' + s.cores + ' ' + t('cores')),
      s.webrtc ? [h('dt', null, t('webrtc')), h('dd', null, s.webrtc)] : null),
    reasons(s.reasons));
}

function reasons(rs) {
  return rs && rs.length ? h('ul', { class: 'reasons' }, rs.map((r) => h('li', null, r))) : null;
}

function probeLine(p) {
  if (!p || !p.video) return null;
  const v = p.video;
  return h('p', { class: 'muted small' }, (v.codec || '').toUpperCase() + ' ' + v.width + '×' + v.height + ' · ' +
    fmtNum(v.fps, 1) + ' fps · GOP ' + fmtNum(v.gop_s, 1) + ' s · ' + fmtNum(p.bitrate_kbps) + ' kbps');
}

function report(rep) {
  return h('section', { class: 'card report', 'aria-label': t('report') + ' ' + rep.n, dataset: { n: rep.n } },
    h('div', { class: 'check-head' },
      h('h3', null, t('report') + ' #' + rep.n + ' — ' + t('k_' + rep.kind)),
      badge('v', rep.verdict, t('v_' + rep.verdict)),
      h('span', { class: 'muted' }, fmtTime(rep.started_at))),
    h('div', { class: 'check-grid' },
      (rep.points || []).map((p) => h('div', { class: 'check-point', dataset: { verdict: p.verdict, point: p.point_id } },
        h('div', { class: 'check-head' }, h('strong', null, p.point_id), h('span', { class: 'muted' }, p.source),
          badge('v', p.verdict, t('v_' + p.verdict))),
        probeLine(p.probe),
        reasons(p.reasons))),
      serverPart(rep.server)));
}

export function render() {
  const sess = session();
  if (!sess) {
    mount($('#check-schedule'), t('noSession'));
    mount($('#check-report'));
    mount($('#check-history'));
    return;
  }
  const box = $('#check-history');
  if (!changed(box, [sess.id, sess.scheduled_at, list.map((c) => c.n), shownN])) return;
  $('#check-schedule').textContent = schedule(sess);
  const shown = list.find((c) => c.n === shownN) || list[list.length - 1];
  mount($('#check-report'), shown ? report(shown) : h('p', { class: 'empty' }, t('noChecks')));
  mount(box, list.length ? h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['report', 'kind', 'at', 'verdict', 'actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, list.slice().reverse().map((c) => h('tr', { 'aria-current': shown && c.n === shown.n ? 'true' : null },
      h('td', null, '#' + c.n), h('td', null, t('k_' + c.kind)), h('td', null, fmtTime(c.started_at)),
      h('td', null, badge('v', c.verdict, t('v_' + c.verdict))),
      h('td', null, h('button', { type: 'button', dataset: { key: 'check-' + c.n }, onclick: () => { shownN = c.n; render(); } }, t('open'))))))) : null);
}

async function runCheck(button) {
  const sess = session();
  if (!sess) return;
  mount($('#check-report'), h('p', { class: 'big' }, t('checking')));
  await busy(button, async () => {
    try {
      const rep = await api('POST', path(sess.id));
      shownN = rep.n;
    } catch (e) {
      notify(describeError(e), true);
    }
    $('#check-history')._sig = '';
    await load();
  });
}

export function show() { visible = true; load(); }
export function hide() { visible = false; }
export function sessionChanged() { if (visible) load(); }

export function init() {
  $('#run-check').addEventListener('click', (ev) => runCheck(ev.target));
  setInterval(() => { if (visible) load(); }, 10000);
}
