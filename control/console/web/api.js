// The control-plane client. The operator token is kept in sessionStorage
// (this tab only, gone when it closes) and sent only in the Authorization
// header: never in a URL, so it stays out of access logs and history.
import { t } from './i18n.js';

const KEY = 'diemcau.token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(tok) { sessionStorage.setItem(KEY, tok); }
export function clearToken() { sessionStorage.removeItem(KEY); }

// ApiError is a failed call: status 0 when the server could not be reached.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || '';
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export function authHeaders(extra) {
  return Object.assign({ Authorization: 'Bearer ' + token() }, extra || {});
}

// api calls /api/v1 and returns the decoded JSON body (null for 204).
export async function api(method, path, body, opts) {
  const init = { method, headers: authHeaders(), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (opts && opts.signal) init.signal = opts.signal;
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', String(e.message || e));
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 401 && !(opts && opts.quiet401)) onUnauthorized();
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText, err.field);
  }
  return data;
}

// describeError puts a failure in words: what went wrong, the server's own
// explanation, and the field at fault when the server named one.
export function describeError(e) {
  if (!(e instanceof ApiError)) return t('e_other') + ': ' + String((e && e.message) || e);
  let head;
  if (e.status === 0) head = t('e_network');
  else if (e.status >= 500) head = t('e_5xx');
  else head = t('e_' + e.status) !== 'e_' + e.status ? t('e_' + e.status) : t('e_other');
  let s = head;
  if (e.status !== 0 && e.message) s += ': ' + e.message;
  if (e.field) s += ' (' + t('field') + ' “' + e.field + '”)';
  return s;
}

// fetchBlob downloads a recording file with the Bearer header (a plain link
// or <video src> could not carry it), reporting progress as 0..1.
export async function fetchBlob(path, progress) {
  let res;
  try {
    res = await fetch('/api/v1' + path, { headers: authHeaders(), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', String(e.message || e));
  }
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch (e) { /* not JSON */ }
    throw new ApiError(res.status, err.code || '', err.message || res.statusText, err.field);
  }
  const total = parseInt(res.headers.get('Content-Length') || '0', 10);
  const type = res.headers.get('Content-Type') || 'application/octet-stream';
  if (!res.body || !total) return new Blob([await res.arrayBuffer()], { type });
  const reader = res.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    if (progress) progress(got / total);
  }
  return new Blob(parts, { type });
}
