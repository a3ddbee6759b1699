// Sources: live state of every camera and encoder, a preview on demand
// (WHEP passthrough, no transcoding), probe, add, edit and delete (admin).
import { api, describeError } from './api.js';
import { t } from './i18n.js';
import { $, h, mount, badge, fmtNum, fmtAgo, notify, confirmAction, showFormError, busy } from './dom.js';
import { S, refresh } from './state.js';
import { WhepPlayer } from './whep.js';

let player = null;
let previewID = '';

function videoText(v) {
  if (!v) return '—';
  let s = (v.codec || '?').toUpperCase();
  if (v.profile) s += ' ' + v.profile;
  s += ' · ' + v.width + '×' + v.height + ' · ' + fmtNum(v.fps, 1) + ' fps';
  if (v.bframes) s += ' · B';
  return s;
}

function audioText(a) {
  return a ? a.codec + ' ' + fmtNum(a.sample_rate / 1000, 1) + ' kHz' + (a.channels ? ' ×' + a.channels : '') : '—';
}

function row(src) {
  const id = src.id;
  return h('tr', { dataset: { source: id } },
    h('th', { scope: 'row' }, h('span', { class: 'strong' }, id), src.name ? h('div', { class: 'muted' }, src.name) : null,
      h('div', { class: 'muted small mono' }, src.url || '')),
    h('td', { class: 'state-cell' }, badge('st', src.state, t('st_' + src.state)),
      src.error ? h('div', { class: 'reason' }, src.error) : null),
    h('td', null, videoText(src.video), h('div', { class: 'muted small' }, audioText(src.audio))),
    h('td', { class: 'num' }, fmtNum(src.bitrate_kbps) + ' kbps'),
    h('td', { class: 'num' + (src.packets_lost ? ' warn-text' : '') }, fmtNum(src.packets_lost)),
    h('td', { class: 'num' + (src.reconnects ? ' warn-text' : '') }, fmtNum(src.reconnects)),
    h('td', { class: 'num' }, src.last_frame_at ? fmtAgo(src.last_frame_at) : t('never')),
    h('td', { class: 'actions' },
      h('button', { type: 'button', dataset: { key: 'prev-' + id }, 'aria-pressed': String(previewID === id), onclick: () => togglePreview(id) },
        previewID === id ? t('stopPreview') : t('preview')),
      h('button', { type: 'button', dataset: { key: 'probe-' + id }, onclick: () => probe(id) }, t('probe')),
      h('button', { type: 'button', dataset: { key: 'edit-' + id }, onclick: () => openForm(src) }, t('edit')),
      h('button', { type: 'button', class: 'danger-outline', dataset: { key: 'del-' + id }, onclick: (ev) => remove(id, ev.target) }, t('del'))));
}

export function render() {
  const box = $('#sources-table');
  // Redrawn on every poll: the last-frame ages move.
  if (!S.sources.length) return mount(box, h('p', { class: 'empty' }, t('noSources')));
  mount(box, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['source', 'state', 'video', 'bitrate', 'lost', 'reconnects', 'lastFrame', 'actions']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, S.sources.map(row))));
}

function togglePreview(id) {
  if (player) player.stop();
  const box = $('#preview');
  if (previewID === id) {
    previewID = '';
    box.hidden = true;
    render();
    return;
  }
  previewID = id;
  box.hidden = false;
  $('#preview-title').textContent = t('previewOf', { id });
  player = new WhepPlayer($('#preview-video'), '/whep/sources/' + encodeURIComponent(id), (st, why) => {
    $('#preview-state').textContent = t('p_' + st) + (why ? ': ' + why : '');
  });
  player.start();
  render();
}

export function hide() {
  if (player) player.stop();
  previewID = '';
  $('#preview').hidden = true;
}

async function probe(id) {
  const dlg = $('#dlg-probe');
  const seconds = 5;
  $('#probe-title').textContent = t('probeTitle', { id });
  mount($('#probe-body'), h('p', { class: 'big' }, t('probing', { s: seconds })));
  dlg.showModal();
  try {
    const rep = await api('POST', '/sources/' + encodeURIComponent(id) + '/probe?seconds=' + seconds);
    mount($('#probe-body'), probeReport(rep));
  } catch (e) {
    mount($('#probe-body'), h('p', { class: 'error-text' }, describeError(e)));
  }
}

function probeReport(r) {
  const v = r.video;
  const yes = (b) => (b ? t('yes') : t('no'));
  const rows = [
    [t('verdict'), badge('v', r.verdict, t('v_' + r.verdict))],
    [t('connected'), yes(r.connected) + (r.transport ? ' (' + r.transport + ')' : '')],
    ['URL', h('span', { class: 'mono' }, r.url)],
  ];
  if (r.error) rows.push([t('e_other'), h('span', { class: 'error-text' }, r.error)]);
  if (v) {
    rows.push([t('video'), videoText(v)]);
    rows.push([t('gop'), v.gop_s ? fmtNum(v.gop_s, 2) + ' s' : '—']);
    rows.push([t('bitrate'), fmtNum(v.bitrate_kbps) + ' kbps']);
    rows.push([t('frames'), fmtNum(v.frames) + ' / ' + t('keyframes') + ' ' + fmtNum(v.keyframes)]);
  }
  rows.push([t('audio'), audioText(r.audio)]);
  rows.push([t('lost'), fmtNum(r.packets_lost)]);
  rows.push([t('browserPlayable'), yes(r.browser_playable)]);
  return [
    h('table', { class: 'kv' }, rows.map(([k, val]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, val)))),
    h('h3', null, t('checks')),
    h('ul', { class: 'reasons' }, (r.checks || []).map((c) =>
      h('li', null, badge('v', c.result, t('v_' + c.result)), ' ', h('strong', null, c.name), ': ', c.message))),
  ];
}

// openForm adds a source (src undefined) or edits one. The URL comes back
// from the server with its password as ***, so it is sent only if changed.
function openForm(src) {
  const dlg = $('#dlg-source');
  const form = $('#source-form');
  const f = (name) => form.elements.namedItem(name);
  form.reset();
  showFormError(form, '');
  $('#source-title').textContent = src ? t('editSource') + ' ' + src.id : t('addSource');
  f('id').value = src ? src.id : '';
  f('id').readOnly = !!src;
  f('name').value = src ? src.name || '' : '';
  f('url').value = src ? src.url : '';
  f('url').title = src ? t('urlKeep') : '';
  f('transport').value = (src && src.transport) || 'auto';
  form.onsubmit = (ev) => {
    ev.preventDefault();
    busy(form.querySelector('[type=submit]'), async () => {
      try {
        if (src) {
          const patch = { name: f('name').value, transport: f('transport').value };
          if (f('url').value !== src.url) patch.url = f('url').value;
          await api('PATCH', '/sources/' + encodeURIComponent(src.id), patch);
        } else {
          await api('POST', '/sources', { id: f('id').value.trim(), name: f('name').value, url: f('url').value.trim(), transport: f('transport').value });
        }
        dlg.close();
        notify(t('saved'));
        await refresh();
      } catch (e) {
        showFormError(form, describeError(e), e.field);
      }
    });
  };
  dlg.showModal();
  f(src ? 'name' : 'id').focus();
}

async function remove(id, button) {
  if (!(await confirmAction(t('confirmDeleteSource', { id }), true))) return;
  await busy(button, async () => {
    try {
      await api('DELETE', '/sources/' + encodeURIComponent(id));
      notify(t('deleted') + ': ' + id);
      await refresh();
    } catch (e) {
      notify(describeError(e), true);
    }
  });
}

export function init() {
  $('#add-source').addEventListener('click', () => openForm());
  $('#preview-close').addEventListener('click', () => togglePreview(previewID));
}
