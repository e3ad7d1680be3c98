// Building the page. Every string that comes from a build -- argv, paths,
// DNS names, job and branch names, anything the API returns -- enters the
// page as a text node through text() or h(): never as HTML (no innerHTML,
// insertAdjacentHTML or document.write anywhere in the UI), never as a link
// target, a style or an event handler. shown() also makes the characters
// visible that would hide or reorder text (controls, bidirectional
// overrides), as the collector's terminal output does (common/text.h).

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

export function shown(value) {
  const s = value === undefined || value === null ? '' : String(value);
  return s.replace(UNSAFE, (c) => '\\u{' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0') + '}');
}

export function text(value) {
  return document.createTextNode(shown(value));
}

// Attributes that may be set, by name; anything else is a programming error.
const ATTRIBUTES = new Set(['class', 'id', 'role', 'tabindex', 'title', 'type', 'name', 'value', 'placeholder',
  'for', 'colspan', 'autocomplete', 'required', 'hidden', 'disabled', 'checked', 'scope']);

// h('a', {href: '/ui/builds/3', class: 'x', onclick: fn, 'aria-expanded': 'true', dataset: {k: 'v'}}, 'text', node, ...)
// Strings among the children become text nodes (through shown()). An href
// must be one of our own paths: a value from outside never becomes a link
// target, so a `javascript:` URL in a build's data stays text.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'href') el.setAttribute('href', ownPath(v));
    else if (k.startsWith('aria-') || ATTRIBUTES.has(k)) el.setAttribute(k, v === true ? '' : String(v));
    else throw new Error('h: attribute not allowed: ' + k);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : text(c));
  }
}

// Our own absolute paths only.
export function ownPath(path) {
  const p = String(path);
  if (!p.startsWith('/ui/') || p.startsWith('//') || p.includes('\\')) throw new Error('not a UI path: ' + p);
  return p;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// Times: the API gives nanoseconds since the epoch (as numbers or strings).
export function time(ns) {
  if (ns === undefined || ns === null || ns === 0 || ns === '0') return '';
  const ms = Number(BigInt(ns) / 1000000n);
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function duration(startNs, endNs) {
  if (!startNs || !endNs) return '';
  const ms = Number((BigInt(endNs) - BigInt(startNs)) / 1000000n);
  if (ms < 1000) return ms + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  const m = Math.floor(ms / 60000);
  return m + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
}

// A small table: columns are [header, value(row) -> string | Node].
export function table(columns, rows, rowAttrs) {
  return h('table', {class: 'grid'},
    h('thead', {}, h('tr', {}, columns.map(([name]) => h('th', {scope: 'col'}, name)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map(([, f]) => h('td', {}, f(r)))))));
}

// "Copy as JSON": the object as the API gave it, indented, to the clipboard.
export function copyButton(object, label = 'Copy JSON') {
  const b = h('button', {type: 'button', class: 'copy', title: 'Copy this event as JSON'}, label);
  b.addEventListener('click', async (e) => {
    e.stopPropagation();
    const json = JSON.stringify(object, null, 2);
    try {
      await navigator.clipboard.writeText(json);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Copy failed';
    }
    b.dataset.copied = json;
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

export function badge(kind, label, title) {
  return h('span', {class: 'badge badge-' + kind, title}, label);
}
