// The operator console: sign-in, tabs, the poll that keeps every view
// current (every 1.5 s), the alert banner and the language toggle.
import { api, describeError, token, setToken, clearToken, whenUnauthorized } from './api.js';
import { t, getLang, setLang, applyStatic } from './i18n.js';
import { $, h, mount, showFormError } from './dom.js';
import { S, onRefresh, select, session, source, isRunning, titleOf } from './state.js';
import * as sources from './sources.js';
import * as sessions from './sessions.js';
import * as run from './run.js';
import * as checks from './checks.js';
import * as invites from './invites.js';
import * as recordings from './recordings.js';
import * as audit from './audit.js';

const POLL_MS = 1500;
const views = { sources, sessions, run, checks, invites, recordings, audit };
// Tabs that work on one session show the session picker.
const perSession = new Set(['run', 'checks', 'invites', 'recordings']);
let tab = '';
let pollTimer = null;
let polling = null;

function currentTab() {
  const want = location.hash.slice(1);
  return views[want] ? want : 'sources';
}

function go(name) {
  if (location.hash !== '#' + name) location.hash = name; // hashchange calls showTab
  else showTab();
}

function showTab() {
  const name = currentTab();
  if (name === tab) return;
  if (tab && views[tab].hide) views[tab].hide();
  tab = name;
  for (const [n] of Object.entries(views)) $('#view-' + n).hidden = n !== name;
  for (const a of document.querySelectorAll('[data-tab]')) {
    if (a.dataset.tab === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('#pick-wrap').hidden = !perSession.has(name);
  if (views[name].show) views[name].show();
  else views[name].render();
}

function startedAgo(sess) {
  return sess.started_at ? (Date.now() - new Date(sess.started_at).getTime()) / 1000 : Infinity;
}

// alerts lists what an operator must act on at once, for every running
// session: a point without signal or without sound, recording that
// stopped, a mixer error.
function alerts() {
  const out = [];
  for (const sess of S.sessions) {
    if (!isRunning(sess)) continue;
    const name = titleOf(sess);
    for (const p of sess.points) {
      // A live picture without sound: the text stays put while the
      // seconds count, so the banner is not read out again and again.
      if (p.state === 'online' && p.silent) out.push(t('alertSilent', { session: name, label: p.label || p.id }));
      if (p.state === 'online') continue;
      const src = source(p.source);
      out.push(t('alertPoint', { session: name, label: p.label || p.id, state: t('st_' + p.state).toLowerCase(),
        why: src && src.error ? ': ' + src.error : '' }));
    }
    const r = sess.recording || {};
    if (r.disk_stopped) out.push(t('alertDisk', { session: name, why: r.error ? ': ' + r.error : '' }));
    // The archive opens a moment after a live start: no alarm before then.
    else if (sess.state === 'live' && sess.record && !r.active && startedAgo(sess) > 5) out.push(t('alertRecStopped', { session: name, why: r.error ? ': ' + r.error : '' }));
    if (sess.error) out.push(t('alertSession', { session: name, why: sess.error }));
  }
  return out;
}

function renderChrome() {
  const st = $('#server-state');
  st.textContent = S.online ? t('serverOk') : t('serverLost');
  st.className = 'server-state ' + (S.online ? 'ok' : 'bad');
  const enc = S.info && S.info.encoder;
  $('#encoder').textContent = enc && enc.element ? t('encoder') + ': ' + enc.element + ' (' + (enc.hardware ? t('hardware') : t('software')) + ')' : '';
  const box = $('#alerts');
  const list = alerts();
  // Only rewrite on change: screen readers announce every rewrite.
  const sig = list.join('\n');
  if (box._sig !== sig) {
    box._sig = sig;
    box.hidden = !list.length;
    mount(box, list.map((a) => h('p', null, a)));
  }
  const pick = $('#session-pick');
  const opts = S.sessions.map((s) => [s.id, titleOf(s) + ' — ' + t('ss_' + s.state)]);
  const psig = JSON.stringify([opts, S.selected]);
  if (pick._sig !== psig) {
    pick._sig = psig;
    pick.replaceChildren(...opts.map(([id, label]) => h('option', { value: id, selected: id === S.selected }, label)));
  }
}

function chooseSession() {
  if (session()) return;
  const first = S.sessions.find(isRunning) || S.sessions[0];
  if (first) { select(first.id); sessionChanged(); }
}

function sessionChanged() {
  for (const v of Object.values(views)) if (v.sessionChanged) v.sessionChanged();
}

async function pollOnce() {
  try {
    const [src, sess] = await Promise.all([api('GET', '/sources'), api('GET', '/sessions')]);
    S.sources = src.sources || [];
    S.sessions = sess.sessions || [];
    S.online = true;
  } catch (e) {
    if (e.status === 401) return;
    S.online = e.status !== 0;
    if (e.status !== 0) $('#notice').textContent = describeError(e);
  }
  chooseSession();
  renderChrome();
  if (tab) views[tab].render();
}

// refresh polls now; a call during a poll waits for it and polls again, so
// the caller sees the state after its own action.
async function refresh() {
  clearTimeout(pollTimer);
  if (polling) await polling.catch(() => {});
  polling = pollOnce();
  try { await polling; } finally {
    polling = null;
    if (token()) pollTimer = setTimeout(refresh, POLL_MS);
  }
}

function showSignIn(msg) {
  clearTimeout(pollTimer);
  for (const v of Object.values(views)) if (v.hide) v.hide();
  tab = '';
  $('#app').hidden = true;
  $('#signin').hidden = false;
  const form = $('#signin-form');
  showFormError(form, msg || '');
  $('#token').value = '';
  $('#token').focus();
}

async function enter() {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  api('GET', '/info').then((info) => { S.info = info; renderChrome(); }).catch(() => {});
  await refresh();
  showTab();
}

async function signIn(ev) {
  ev.preventDefault();
  const form = ev.target;
  const tok = $('#token').value.trim();
  if (!tok) return;
  setToken(tok);
  try {
    // Sources need the operator role: a viewer token is refused here.
    await api('GET', '/sources', undefined, { quiet401: true });
  } catch (e) {
    clearToken();
    $('#token').value = '';
    showFormError(form, describeError(e));
    $('#token').focus();
    return;
  }
  $('#token').value = '';
  enter();
}

function signOut(msg) {
  clearToken();
  showSignIn(msg);
}

function toggleLang() {
  setLang(getLang() === 'vi' ? 'en' : 'vi');
  applyStatic(document);
  for (const b of document.querySelectorAll('.lang-toggle')) b.lang = getLang() === 'vi' ? 'en' : 'vi';
  if (!$('#app').hidden) {
    renderChrome();
    if (tab) views[tab].render();
  }
}

function clock() {
  $('#clock').textContent = new Date().toLocaleTimeString(getLang() === 'vi' ? 'vi-VN' : 'en-GB');
}

function start() {
  applyStatic(document);
  for (const b of document.querySelectorAll('.lang-toggle')) {
    b.lang = getLang() === 'vi' ? 'en' : 'vi';
    b.addEventListener('click', toggleLang);
  }
  const ctx = { go };
  for (const v of Object.values(views)) if (v.init) v.init(ctx);
  onRefresh(refresh);
  whenUnauthorized(() => signOut(t('e_401')));
  $('#signin-form').addEventListener('submit', signIn);
  $('#signout').addEventListener('click', () => signOut(''));
  $('#session-pick').addEventListener('change', (ev) => {
    select(ev.target.value);
    sessionChanged();
    renderChrome();
    views[tab].render();
  });
  window.addEventListener('hashchange', () => { if (!$('#app').hidden) showTab(); });
  // Every dialog's cancel button closes it.
  for (const b of document.querySelectorAll('dialog .cancel')) b.addEventListener('click', () => b.closest('dialog').close());
  setInterval(clock, 1000);
  clock();
  if (token()) enter();
  else showSignIn('');
}

start();
