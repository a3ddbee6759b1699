// Invites: make a participant's join link (its token is shown only once,
// in the link's #fragment), copy it, revoke it.
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, changed, badge, fmtTime, notify, confirmAction, showFormError, busy } from './dom.js';
import { session } from './state.js';

let list = [];
let visible = false;

const path = (id) => '/sessions/' + encodeURIComponent(id) + '/invites';

async function load() {
  const sess = session();
  if (!sess) { list = []; return render(); }
  try {
    list = (await api('GET', path(sess.id))).invites || [];
  } catch (e) {
    notify(describeError(e), true);
  }
  render();
}

// renderPoints offers the session's points: an invite for a point opens
// the two-way join page; without one, the viewer page.
function renderPoints(sess) {
  const select = $('#invite-point');
  const points = (sess && sess.points) || [];
  if (!changed(select, points.map((p) => [p.id, p.label]))) return;
  const keep = select.value;
  mount(select, [h('option', { value: '' }, t('watchOnly')),
    ...points.map((p) => h('option', { value: p.id, selected: p.id === keep }, (p.label || p.id) + ' (' + p.id + ')'))]);
}

export function render() {
  const box = $('#invites-table');
  const sess = session();
  $('#invite-form').hidden = !sess;
  renderPoints(sess);
  if (!sess) return mount(box, h('p', { class: 'empty' }, t('noSession')));
  if (!changed(box, [sess.id, list])) return;
  if (!list.length) return mount(box, h('p', { class: 'empty' }, t('noInvites')));
  mount(box, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['name', 'point', 'created', 'state', 'actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, list.slice().reverse().map((inv) => h('tr', { dataset: { invite: inv.id } },
      h('td', null, inv.name), h('td', null, inv.point || t('watchOnly')), h('td', null, fmtTime(inv.created_at)),
      h('td', null, inv.revoked_at ? badge('inv', 'revoked', t('revoked') + ' ' + fmtTime(inv.revoked_at))
        : badge('inv', inv.active ? 'active' : 'inactive', inv.active ? t('active') : t('inactive'))),
      h('td', { class: 'actions' }, inv.revoked_at ? null : h('button', { type: 'button', class: 'danger-outline', dataset: { key: 'revoke-' + inv.id },
        onclick: (ev) => revoke(sess, inv, ev.target) }, t('revoke'))))))));
}

async function revoke(sess, inv, button) {
  if (!(await confirmAction(t('confirmRevoke', { name: inv.name }), true))) return;
  await busy(button, async () => {
    try {
      await api('DELETE', path(sess.id) + '/' + encodeURIComponent(inv.id));
      notify(t('revoked') + ': ' + inv.name);
    } catch (e) {
      notify(describeError(e), true);
    }
    await load();
  });
}

async function create(ev) {
  ev.preventDefault();
  const form = ev.target;
  const sess = session();
  if (!sess) return;
  showFormError(form, '');
  await busy(form.querySelector('[type=submit]'), async () => {
    try {
      const body = { name: $('#invite-name').value.trim() };
      if ($('#invite-point').value) body.point = $('#invite-point').value;
      const inv = await api('POST', path(sess.id), body);
      $('#invite-link').value = inv.url;
      $('#invite-open').href = inv.url;
      $('#invite-result').hidden = false;
      $('#invite-name').value = '';
      $('#invite-link').focus();
      $('#invite-link').select();
      await load();
    } catch (e) {
      showFormError(form, describeError(e), e.field);
    }
  });
}

async function copy() {
  const input = $('#invite-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (e) {
    // Without clipboard permission (plain http on another host) fall back
    // to the selection, which Ctrl+C copies.
    input.focus();
    input.select();
    document.execCommand('copy');
  }
  notify(t('copied'));
}

export function show() { visible = true; load(); }
export function hide() { visible = false; }
export function sessionChanged() {
  $('#invite-result').hidden = true;
  $('#invite-link').value = '';
  if (visible) load();
}

export function init() {
  $('#invite-form').addEventListener('submit', create);
  $('#invite-copy').addEventListener('click', copy);
}
