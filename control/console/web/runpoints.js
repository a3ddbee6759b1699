// Points joining and leaving a session from the control view, also while
// it runs: the server adds or drops them in the composite without a
// restart. Both send the session's whole point list (PATCH points), so
// every other point is sent back exactly as the server gave it.
import { api, describeError } from './api.js';
import { t, getLang } from './i18n.js';
import { $, h, notify, confirmAction, showFormError, busy } from './dom.js';
import { S, session, isRunning, titleOf, refresh } from './state.js';

const path = (sess) => '/sessions/' + encodeURIComponent(sess.id);

// asSent is a point as PATCH takes it: without the read-only state.
const asSent = (p) => ({ id: p.id, source: p.source, role: p.role, label: p.label, gain: p.gain, muted: p.muted });

export const canEdit = (sess) => !!sess && sess.state !== 'ended';

// removeButton is the card's "remove from the session" control; the last
// point cannot leave (a running composite keeps at least one).
export function removeButton(sess, p) {
  const only = sess.points.length < 2;
  return h('button', { type: 'button', class: 'danger-outline', dataset: { key: 'remove-' + p.id },
    disabled: only, title: only ? t('lastPoint') : null, 'aria-label': t('removeNamed', { label: p.label || p.id }),
    onclick: (ev) => removePoint(sess.id, p.id, ev.currentTarget) }, t('removeFromSession'));
}

async function removePoint(sessID, pointID, button) {
  const sess = session(sessID);
  const p = sess && sess.points.find((q) => q.id === pointID);
  if (!p) return;
  const label = p.label || p.id;
  const msg = t(isRunning(sess) ? 'confirmRemovePointRunning' : 'confirmRemovePoint', { label, title: titleOf(sess) });
  if (!(await confirmAction(msg, true))) return;
  await busy(button, async () => {
    // The list as it is now: the poll may have brought changes while the
    // operator read the question.
    const cur = session(sessID) || sess;
    const body = { points: cur.points.filter((q) => q.id !== pointID).map(asSent) };
    // The focus must name a point of the session; empty lets the mixer
    // take the first one.
    if (cur.focus === pointID) body.focus = '';
    try {
      await api('PATCH', path(cur), body);
      notify(t('pointRemoved', { label }));
      await refresh();
    } catch (e) {
      notify(describeError(e), true);
    }
  });
}

const form = () => $('#point-add-form');
const field = (name) => form().elements.namedItem(name);

function openAdd() {
  const f = form();
  f.reset();
  f._autoId = '';
  f._sig = '';
  showFormError(f, '');
  f.hidden = false;
  $('#run-add-point').setAttribute('aria-expanded', 'true');
  render(session());
  f.scrollIntoView({ block: 'nearest' });
  field('source').focus();
}

export function closeAdd() {
  const f = form();
  if (f.hidden) return;
  f.hidden = true;
  $('#run-add-point').setAttribute('aria-expanded', 'false');
}

// prefill puts the source's id in the point id unless the operator wrote
// one of their own.
function prefill() {
  const f = form();
  const id = field('id');
  if (id.value === '' || id.value === f._autoId) {
    id.value = field('source').value;
    f._autoId = id.value;
  }
}

// render keeps the form's choice of sources to those no point uses yet.
export function render(sess) {
  const f = form();
  const editable = canEdit(sess);
  $('#run-add-point').hidden = !editable;
  if (!editable) closeAdd();
  if (f.hidden) return;
  const n = sess.points.length;
  // An API error names the new point by its index, e.g. points[2].id.
  for (const name of ['source', 'id', 'label']) field(name).dataset.field = 'points[' + n + '].' + name;
  const used = new Set(sess.points.map((p) => p.source));
  const free = S.sources.filter((s) => !used.has(s.id));
  const sel = field('source');
  const sig = JSON.stringify(free.map((s) => [s.id, s.name, s.state])) + getLang();
  // Rebuilding a select the operator has open would close it under them.
  if (f._sig !== sig && document.activeElement !== sel) {
    f._sig = sig;
    const keep = sel.value;
    sel.replaceChildren(...free.map((s) => h('option', { value: s.id },
      s.id + (s.name ? ' — ' + s.name : '') + ' · ' + t('st_' + s.state))));
    sel.value = free.some((s) => s.id === keep) ? keep : (free[0] ? free[0].id : '');
    prefill();
  }
  $('#point-add-none').hidden = free.length > 0;
  const submit = f.querySelector('[type=submit]');
  if (!submit._busy) submit.disabled = !free.length;
}

function submitAdd(ev) {
  ev.preventDefault();
  const sess = session();
  if (!canEdit(sess)) return;
  const f = form();
  const point = { id: field('id').value.trim(), source: field('source').value, label: field('label').value.trim() };
  busy(f.querySelector('[type=submit]'), async () => {
    try {
      await api('PATCH', path(sess), { points: [...sess.points.map(asSent), point] });
      closeAdd();
      $('#run-add-point').focus();
      notify(t('pointAdded', { label: point.label || point.id }));
      await refresh();
    } catch (e) {
      showFormError(f, describeError(e), e.field);
      f.querySelector('.form-error').scrollIntoView({ block: 'nearest' });
    }
  });
}

export function init() {
  const f = form();
  $('#run-add-point').addEventListener('click', () => (f.hidden ? openAdd() : closeAdd()));
  field('source').addEventListener('change', prefill);
  f.addEventListener('submit', submitAdd);
  f.querySelector('.cancel').addEventListener('click', () => { closeAdd(); $('#run-add-point').focus(); });
  f.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { closeAdd(); $('#run-add-point').focus(); }
  });
}
