// Audit: who did what and when, newest first, a page at a time.
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, fmtTime, notify, busy } from './dom.js';

let entries = [];
let next = '';

async function load(more, button) {
  await busy(button, async () => {
    try {
      const q = more && next ? next.replace(/^\/api\/v1/, '') : '/audit?limit=50';
      const page = await api('GET', q);
      entries = more ? entries.concat(page.entries || []) : page.entries || [];
      next = page.next || '';
    } catch (e) {
      notify(describeError(e), true);
    }
  });
  render();
}

export function render() {
  const box = $('#audit-table');
  $('#audit-more').hidden = !next;
  if (!entries.length) return mount(box, h('p', { class: 'empty' }, t('noAudit')));
  mount(box, h('table', { class: 'data compact' },
    h('thead', null, h('tr', null, ['at', 'who', 'what', 'target', 'result'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, entries.map((a) => h('tr', null,
      h('td', null, fmtTime(a.at)),
      h('td', null, a.actor + ' (' + a.role + ')'),
      h('td', { class: 'mono' }, a.method + ' ' + a.path),
      h('td', null, a.target && a.target !== '.' ? a.target : '—'),
      h('td', { class: 'num ' + (a.result >= 400 ? 'error-text' : '') }, String(a.result), a.detail ? ' ' + a.detail : ''))))));
}

export function show() { load(false); }

export function init() {
  $('#audit-refresh').addEventListener('click', (ev) => load(false, ev.target));
  $('#audit-more').addEventListener('click', (ev) => load(true, ev.target));
}
