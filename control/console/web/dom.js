// Small DOM helpers shared by the views: element building, re-rendering
// that keeps keyboard focus, number and time formats, notices and the
// confirmation dialog.
import { t, getLang } from './i18n.js';

export const $ = (sel, root) => (root || document).querySelector(sel);

// h builds an element: h('button', {class: 'x', onclick: fn}, 'text', child…).
// Attributes starting with "on" are listeners (kept in el._on so that mount
// can hand them to the element it keeps); null/false attributes and
// children are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) listen(el, k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function dispatch(ev) {
  const fn = ev.currentTarget._on && ev.currentTarget._on[ev.type];
  if (fn) fn(ev);
}

function listen(el, type, fn) {
  el._on = el._on || {};
  if (!el._on[type]) el.addEventListener(type, dispatch);
  el._on[type] = fn;
}

// mount shows nodes in a container. The views re-render every second or
// two, so mount morphs what is there into the new nodes instead of
// replacing it: a button under the mouse, the element with keyboard focus
// and a slider being dragged stay the same elements.
export function mount(container, ...nodes) {
  morphChildren(container, nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false)
    .map((n) => (n instanceof Node ? n : document.createTextNode(String(n)))));
  return true;
}

function sameKind(o, n) {
  if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) return false;
  if (o.nodeType !== 1) return true;
  return (o.dataset.key || '') === (n.dataset.key || '') && o.getAttribute('type') === n.getAttribute('type');
}

function morphChildren(parent, nodes) {
  const old = [...parent.childNodes];
  nodes.forEach((n, i) => {
    const o = old[i];
    if (!o) parent.append(n);
    else if (!sameKind(o, n)) parent.replaceChild(n, o);
    else morphNode(o, n);
  });
  for (const o of old.slice(nodes.length)) o.remove();
}

function morphNode(o, n) {
  if (o.nodeType !== 1) {
    if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue;
    return;
  }
  for (const a of [...o.attributes]) {
    if (!n.hasAttribute(a.name) && !(a.name === 'disabled' && o._busy)) o.removeAttribute(a.name);
  }
  for (const a of n.attributes) if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
  for (const type of Object.keys(o._on || {})) if (!(n._on && n._on[type])) delete o._on[type];
  for (const [type, fn] of Object.entries(n._on || {})) listen(o, type, fn);
  const editing = o === document.activeElement && (o.tagName === 'INPUT' || o.tagName === 'SELECT');
  if (editing && o.tagName === 'SELECT') return;
  morphChildren(o, [...n.childNodes]);
  // What the operator is typing or dragging wins over the server's value.
  if (!editing && (o.tagName === 'INPUT' || o.tagName === 'SELECT')) {
    if (o.value !== n.value) o.value = n.value;
    if (o.checked !== n.checked) o.checked = n.checked;
  }
}

// changed reports whether data differs from what a container last showed.
export function changed(container, data) {
  const sig = JSON.stringify(data) + '|' + getLang();
  if (container._sig === sig) return false;
  container._sig = sig;
  return true;
}

const locale = () => (getLang() === 'vi' ? 'vi-VN' : 'en-GB');

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? '—' : d.toLocaleString(locale(), { dateStyle: 'short', timeStyle: 'medium' });
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return n.toLocaleString(locale(), { maximumFractionDigits: i ? 1 : 0 }) + ' ' + u[i];
}

export function fmtNum(n, digits) {
  return Number(n || 0).toLocaleString(locale(), { maximumFractionDigits: digits || 0 });
}

// fmtClock writes seconds as H:MM:SS.
export function fmtClock(s) {
  s = Math.max(0, Math.floor(s));
  const hh = Math.floor(s / 3600), mm = Math.floor(s / 60) % 60, ss = s % 60;
  return hh + ':' + String(mm).padStart(2, '0') + ':' + String(ss).padStart(2, '0');
}

export function fmtAgo(iso) {
  if (!iso) return t('never');
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return fmtNum(Math.max(0, s), 1) + ' s ' + t('ago');
  return fmtClock(s) + ' ' + t('ago');
}

// badge shows a state in words as well as colour, so it reads on a
// monochrome wall screen and to a screen reader.
export function badge(kind, value, text) {
  return h('span', { class: 'badge ' + kind + '-' + value, dataset: { state: value } }, text);
}

// notify shows a short message in the status line (announced politely).
export function notify(msg, isError) {
  const el = $('#notice');
  el.textContent = msg;
  el.className = isError ? 'notice error' : 'notice ok';
  clearTimeout(el._timer);
  el._timer = setTimeout(() => { el.textContent = ''; el.className = 'notice'; }, isError ? 15000 : 5000);
}

// confirmAction asks before live starts, stops and deletions; the safe
// choice (cancel) has focus, so Enter alone never confirms.
export function confirmAction(message, danger) {
  const dlg = $('#confirm');
  $('#confirm-text', dlg).textContent = message;
  const ok = $('#confirm-ok', dlg);
  ok.className = danger ? 'danger' : 'primary';
  return new Promise((resolve) => {
    const done = (v) => { dlg.close(); resolve(v); };
    ok.onclick = () => done(true);
    $('#confirm-cancel', dlg).onclick = () => done(false);
    dlg.oncancel = () => resolve(false);
    dlg.showModal();
    $('#confirm-cancel', dlg).focus();
  });
}

// showFormError writes an API error into a form and marks the named field
// (matching data-field, e.g. "points[1].source").
export function showFormError(form, msg, field) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const box = form.querySelector('.form-error');
  box.textContent = msg;
  box.hidden = !msg;
  if (!field) return;
  let el = form.querySelector('[data-field="' + CSS.escape(field) + '"]');
  if (!el) el = form.querySelector('[data-field="' + CSS.escape(field.split('.')[0]) + '"]');
  if (el) {
    el.setAttribute('aria-invalid', 'true');
    el.focus();
  }
}

// busy disables a button while its call runs.
export async function busy(button, fn) {
  if (button) { button.disabled = true; button._busy = true; }
  try { return await fn(); } finally { if (button) { button.disabled = false; button._busy = false; } }
}
