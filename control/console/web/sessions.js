// Sessions: the list with start, stop and delete, and the form that
// creates one (title, case reference, schedule, points, layout, output).
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, changed, badge, fmtTime, notify, confirmAction, showFormError, busy } from './dom.js';
import { S, refresh, select, isRunning, titleOf, startSession, stopSession } from './state.js';

let go = () => {};

function actions(sess) {
  const id = sess.id;
  const running = isRunning(sess);
  const ended = sess.state === 'ended';
  return h('td', { class: 'actions' },
    h('button', { type: 'button', dataset: { key: 'open-' + id }, onclick: () => { select(id); go('run'); } }, t('open')),
    !running && !ended ? h('button', { type: 'button', dataset: { key: 'reh-' + id, action: 'rehearsal' },
      onclick: async (ev) => { if (await startSession(sess, 'rehearsal', ev.target)) { select(id); go('run'); } } }, t('startRehearsal')) : null,
    !running && !ended ? h('button', { type: 'button', class: 'danger', dataset: { key: 'live-' + id, action: 'live' },
      onclick: async (ev) => { if (await startSession(sess, 'live', ev.target)) { select(id); go('run'); } } }, t('startLive')) : null,
    running ? h('button', { type: 'button', class: 'danger', dataset: { key: 'stop-' + id, action: 'stop' },
      onclick: (ev) => stopSession(sess, ev.target) }, t('stop')) : null,
    sess.state !== 'live' ? h('button', { type: 'button', class: 'danger-outline', dataset: { key: 'del-' + id },
      onclick: (ev) => remove(sess, ev.target) }, t('del')) : null);
}

export function render() {
  const box = $('#sessions-table');
  const view = S.sessions.map((s) => [s.id, s.title, s.case_ref, s.scheduled_at, s.state, s.layout, s.points.length, s.viewers, s.output]);
  if (!changed(box, view)) return;
  if (!S.sessions.length) return mount(box, h('p', { class: 'empty' }, t('noSessions')));
  mount(box, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['session', 'caseRef', 'scheduledAt', 'state', 'layout', 'points', 'output', 'viewers', 'actions']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, S.sessions.map((s) => h('tr', { dataset: { session: s.id } },
      h('th', { scope: 'row' }, h('span', { class: 'strong' }, titleOf(s)), h('div', { class: 'muted small mono' }, s.id)),
      h('td', null, s.case_ref || '—'),
      h('td', null, fmtTime(s.scheduled_at)),
      h('td', null, badge('ss', s.state, t('ss_' + s.state))),
      h('td', null, t('l_' + s.layout)),
      h('td', null, s.points.map((p) => p.label || p.id).join(', ')),
      h('td', { class: 'small' }, s.output.width + '×' + s.output.height + ' ' + s.output.fps + ' fps'),
      h('td', { class: 'num' }, s.viewers || 0),
      actions(s))))));
}

async function remove(sess, button) {
  if (!(await confirmAction(t('confirmDeleteSession', { title: titleOf(sess) }), true))) return;
  await busy(button, async () => {
    try {
      await api('DELETE', '/sessions/' + encodeURIComponent(sess.id));
      notify(t('deleted') + ': ' + titleOf(sess));
      await refresh();
    } catch (e) {
      notify(describeError(e), true);
    }
  });
}

function pointRow(i, p) {
  const roles = ['province', 'local', 'central'];
  return h('div', { class: 'point-row' },
    h('label', null, h('span', null, t('id')), h('input', { name: 'pid', required: true, value: p.id || '', dataset: { field: 'points[' + i + '].id' } })),
    h('label', null, h('span', null, t('source')), h('select', { name: 'psource', dataset: { field: 'points[' + i + '].source' } },
      S.sources.map((s) => h('option', { value: s.id, selected: s.id === p.source }, s.id + (s.name ? ' — ' + s.name : ''))))),
    h('label', null, h('span', null, t('role')), h('select', { name: 'prole', dataset: { field: 'points[' + i + '].role' } },
      roles.map((r) => h('option', { value: r, selected: r === (p.role || (i === 0 ? 'province' : 'local')) }, t('r_' + r))))),
    h('label', null, h('span', null, t('label')), h('input', { name: 'plabel', value: p.label || '', dataset: { field: 'points[' + i + '].label' } })),
    h('button', { type: 'button', class: 'remove', onclick: (ev) => { ev.target.closest('.point-row').remove(); renumber(); } }, t('removePoint')));
}

// renumber keeps each point's data-field in step with its index, so an
// API error such as points[1].source marks the right input.
function renumber() {
  $('#point-rows').querySelectorAll('.point-row').forEach((row, i) => {
    for (const [name, f] of [['pid', 'id'], ['psource', 'source'], ['prole', 'role'], ['plabel', 'label']]) {
      row.querySelector('[name=' + name + ']').dataset.field = 'points[' + i + '].' + f;
    }
  });
}

function readPoints() {
  return [...$('#point-rows').querySelectorAll('.point-row')].map((row) => ({
    id: row.querySelector('[name=pid]').value.trim(),
    source: row.querySelector('[name=psource]').value,
    role: row.querySelector('[name=prole]').value,
    label: row.querySelector('[name=plabel]').value.trim(),
  }));
}

function openForm() {
  const dlg = $('#dlg-session');
  const form = $('#session-form');
  const f = (name) => form.elements.namedItem(name);
  form.reset();
  showFormError(form, '');
  $('#output-custom').hidden = true;
  const rows = $('#point-rows');
  rows.replaceChildren(...S.sources.slice(0, 2).map((s, i) => pointRow(i, { id: s.id, source: s.id })));
  dlg.showModal();
  f('id').focus();
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const preset = f('preset').value;
    let [width, height, fps, bitrate] = preset === 'custom'
      ? [f('width').value, f('height').value, f('fps').value, f('bitrate').value] : preset.split('x');
    const body = {
      id: f('id').value.trim(),
      title: f('title').value.trim(),
      case_ref: f('case_ref').value.trim(),
      layout: f('layout').value,
      record: f('record').checked,
      start: 'manual',
      output: { width: +width, height: +height, fps: +fps, bitrate: +bitrate },
      points: readPoints(),
    };
    // datetime-local is the operator's local time; the API wants RFC 3339.
    if (f('scheduled_at').value) body.scheduled_at = new Date(f('scheduled_at').value).toISOString();
    busy(form.querySelector('[type=submit]'), async () => {
      try {
        const created = await api('POST', '/sessions', body);
        dlg.close();
        notify(t('saved') + ': ' + titleOf(created));
        select(created.id);
        await refresh();
      } catch (e) {
        showFormError(form, describeError(e), e.field);
      }
    });
  };
}

export function init(ctx) {
  go = ctx.go;
  $('#new-session').addEventListener('click', openForm);
  $('#add-point').addEventListener('click', () => {
    const rows = $('#point-rows');
    rows.append(pointRow(rows.children.length, {}));
    rows.lastChild.querySelector('input').focus();
  });
  $('#session-form').elements.namedItem('preset').addEventListener('change', (ev) => {
    $('#output-custom').hidden = ev.target.value !== 'custom';
  });
}
