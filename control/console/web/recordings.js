// Recordings: a session's archived runs with their segments and verify
// state. Files need the Bearer header, which neither <video src> nor a
// plain link can carry, so a segment is fetched whole into a Blob (with
// progress) and played or saved from an object URL.
import { api, fetchBlob, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, changed, badge, fmtTime, fmtBytes, fmtClock, notify, busy } from './dom.js';
import { session } from './state.js';

let runs = [];
let visible = false;
let objectURL = '';
// Which stream lists the operator opened or closed survive a refresh.
const opened = new Map();

const filePath = (run, file) => '/recordings/' + run.id.split('/').map(encodeURIComponent).join('/') + '/' +
  file.split('/').map(encodeURIComponent).join('/');

async function load() {
  const sess = session();
  if (!sess) { runs = []; return render(); }
  try {
    runs = (await api('GET', '/sessions/' + encodeURIComponent(sess.id) + '/recordings')).runs || [];
  } catch (e) {
    notify(describeError(e), true);
  }
  render();
}

async function fetchFile(run, file, button) {
  const name = file.split('/').pop();
  const title = $('#player-title');
  $('#player').hidden = false;
  return busy(button, async () => {
    try {
      const blob = await fetchBlob(filePath(run, file), (p) => {
        title.textContent = t('loading', { name: file, pct: Math.round(p * 100) + '%' });
      });
      return { blob, name };
    } catch (e) {
      title.textContent = describeError(e);
      return null;
    }
  });
}

async function play(run, seg, button) {
  const got = await fetchFile(run, seg.file, button);
  if (!got) return;
  const video = $('#player-video');
  if (objectURL) URL.revokeObjectURL(objectURL);
  objectURL = URL.createObjectURL(got.blob);
  video.src = objectURL;
  video.play().catch(() => {});
  $('#player-title').textContent = t('playing', { name: run.id + '/' + seg.file });
  video.focus();
}

async function download(run, file, button) {
  const got = await fetchFile(run, file, button);
  if (!got) return;
  const url = URL.createObjectURL(got.blob);
  const a = h('a', { href: url, download: run.id.replace('/', '_') + '_' + file.replace(/\//g, '_') });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  $('#player-title').textContent = t('saved') + ': ' + got.name;
}

function runCard(run) {
  const v = run.verify || {};
  const byStream = {};
  for (const s of run.segments) (byStream[s.stream] = byStream[s.stream] || []).push(s);
  return h('section', { class: 'card run', dataset: { run: run.id } },
    h('div', { class: 'check-head' },
      h('h3', null, t('run') + ' ' + fmtTime(run.started)),
      run.live ? badge('ss', 'live', t('live')) : null,
      run.sealed ? badge('v', 'pass', t('sealed') + (run.seal_reason ? ' (' + run.seal_reason + ')' : '')) : null,
      run.signed ? badge('v', 'pass', t('signed')) : null,
      badge('vs', v.state, t('verify') + ': ' + t('vs_' + v.state)),
      h('span', { class: 'muted' }, fmtBytes(run.bytes)),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', dataset: { key: 'man-' + run.id }, onclick: (ev) => download(run, 'manifest.jsonl', ev.target) }, t('manifest'))),
    v.problems && v.problems.length ? h('ul', { class: 'reasons error-text' }, v.problems.map((p) => h('li', null, p))) : null,
    run.gaps && run.gaps.length ? h('p', { class: 'warn-text' }, t('gaps') + ': ',
      run.gaps.map((g) => g.stream + ' ' + fmtTime(g.from) + ' → ' + fmtTime(g.to)).join('; ')) : null,
    run.interruptions && run.interruptions.length ? h('p', { class: 'warn-text' }, t('interruptions') + ': ' + run.interruptions.length) : null,
    Object.entries(byStream).map(([stream, segs]) => h('details', {
      open: opened.has(run.id + stream) ? opened.get(run.id + stream) : stream === 'composite',
      ontoggle: (ev) => opened.set(run.id + stream, ev.target.open) },
      h('summary', null, stream + ' — ' + segs.length + ' ' + t('segments')),
      h('table', { class: 'data compact' },
        h('thead', null, h('tr', null, ['file', 'start', 'duration', 'size', 'actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, segs.map((s) => h('tr', null,
          h('td', { class: 'mono', title: 'sha256 ' + s.sha256 }, s.file),
          h('td', null, fmtTime(s.start)),
          h('td', { class: 'num' }, fmtClock(s.duration_ms / 1000)),
          h('td', { class: 'num' }, fmtBytes(s.bytes)),
          h('td', { class: 'actions' },
            h('button', { type: 'button', dataset: { key: 'play-' + run.id + s.file }, onclick: (ev) => play(run, s, ev.target) }, t('play')),
            h('button', { type: 'button', dataset: { key: 'dl-' + run.id + s.file }, onclick: (ev) => download(run, s.file, ev.target) }, t('download'))))))))));
}

export function render() {
  const box = $('#runs');
  const sess = session();
  if (!sess) return mount(box, h('p', { class: 'empty' }, t('noSession')));
  if (!changed(box, [sess.id, runs])) return;
  mount(box, runs.length ? runs.map(runCard) : h('p', { class: 'empty' }, t('noRuns')));
}

export function show() { visible = true; load(); }
export function hide() {
  visible = false;
  const video = $('#player-video');
  video.pause();
}
export function sessionChanged() { if (visible) load(); }

export function init() {
  setInterval(() => { if (visible) load(); }, 5000);
}
