// What the console knows of the server, refreshed by the poll in app.js,
// and the session actions that more than one view offers.
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { confirmAction, notify, busy } from './dom.js';

export const S = {
  sources: [],
  sessions: [],
  info: null,
  selected: sessionStorage.getItem('diemcau.session') || '',
  online: true,
};

let refreshFn = async () => {};
export function onRefresh(fn) { refreshFn = fn; }
// refresh polls the server now (after an action) instead of waiting.
export function refresh() { return refreshFn(); }

export function session(id) {
  const want = id === undefined ? S.selected : id;
  return S.sessions.find((s) => s.id === want);
}

export function source(id) { return S.sources.find((s) => s.id === id); }

export function isRunning(sess) { return !!sess && (sess.state === 'rehearsal' || sess.state === 'live'); }

export function select(id) {
  S.selected = id;
  sessionStorage.setItem('diemcau.session', id);
}

export const titleOf = (sess) => sess.title || sess.id;

// startSession starts a rehearsal at once; going live asks first, since it
// opens the official record.
export async function startSession(sess, mode, button) {
  if (mode === 'live' && !(await confirmAction(t('confirmLive', { title: titleOf(sess) }), true))) return false;
  return busy(button, async () => {
    try {
      await api('POST', '/sessions/' + encodeURIComponent(sess.id) + '/start', { mode });
      notify(t('started', { title: titleOf(sess) }));
      await refresh();
      return true;
    } catch (e) {
      notify(describeError(e), true);
      return false;
    }
  });
}

export async function stopSession(sess, button) {
  const msg = sess.state === 'live' ? t('confirmStopLive', { title: titleOf(sess) }) : t('confirmStop', { title: titleOf(sess) });
  if (!(await confirmAction(msg, true))) return false;
  return busy(button, async () => {
    try {
      await api('POST', '/sessions/' + encodeURIComponent(sess.id) + '/stop');
      notify(t('stopped', { title: titleOf(sess) }));
      await refresh();
      return true;
    } catch (e) {
      notify(describeError(e), true);
      return false;
    }
  });
}
