// The build's process tree: collapsible, loaded a level at a time from the
// API (GET /v1/builds/{id}/tree?parent=KEY), drawn as a virtual list of the
// rows currently open, so a build of tens of thousands of processes stays
// responsive. Keyboard (WAI-ARIA tree pattern): Up/Down move, Right opens
// a process or goes to its first child, Left closes it or goes to its
// parent, Home/End, Enter shows the process's details.
import * as api from './api.js';
import {VirtualList} from './virtual.js';
import {h, replace, time, duration, copyButton} from './dom.js';

const PAGE = 500;

// What the API calls the fields of a process; the first one present wins,
// on the node itself, then its process and data objects (an event's shape).
const pick = (p, ...names) => {
  for (const o of [p, p.process || {}, p.data || {}])
    for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
};
export const processKey = (p) => String(pick(p, 'key', 'process_key', 'id') ?? '');
export const processExe = (p) => pick(p, 'exe', 'path') ?? '';
export const processArgv = (p) => pick(p, 'argv', 'args') ?? [];
const childCount = (p) => Number(pick(p, 'children', 'child_count', 'children_count') ?? 0);

export class ProcessTree {
  constructor(root, buildId, {onSelect, selectKey} = {}) {
    this.buildId = buildId;
    this.onSelect = onSelect;
    this.nodes = new Map();  // key -> node
    this.roots = [];
    this.rows = [];  // the open rows, in order
    this.active = 0;
    this.selectKey = selectKey;
    this.box = h('div', {class: 'tree', role: 'tree', tabindex: '0', 'aria-label': 'Process tree',
      onkeydown: (e) => this.key(e)});
    this.details = h('div', {class: 'process-details', 'aria-live': 'polite'});
    replace(root, h('div', {class: 'tree-layout'}, this.box, this.details));
    this.list = new VirtualList(this.box, {rowHeight: 26, render: (i) => this.renderRow(i)});
    this.loaded = this.loadChildren(null);
  }

  node(p, parent) {
    const key = processKey(p);
    const n = {key, p, parent, depth: parent ? parent.depth + 1 : 0, open: false, children: null, next: undefined,
      count: childCount(p), loading: false};
    this.nodes.set(key, n);
    return n;
  }

  // The children of `parent` (null: the roots), a page at a time.
  async loadChildren(parent) {
    const holder = parent || {children: this.roots};
    if (parent) parent.loading = true;
    const params = {limit: PAGE, after: parent ? parent.next : this.rootsNext};
    if (parent) params.parent = parent.key;
    const page = await api.get('/v1/builds/' + encodeURIComponent(this.buildId) + '/tree', params);
    const items = page.processes || page.nodes || [];
    if (!holder.children) holder.children = [];
    for (const p of items) holder.children.push(this.node(p, parent));
    if (parent) {
      parent.loading = false;
      parent.next = page.next ?? null;
      parent.count = Math.max(parent.count, parent.children.length);
    } else {
      this.rootsNext = page.next ?? null;
    }
    this.flatten();
  }

  // The rows in view order: every root, and the children of each open row.
  flatten() {
    const rows = [];
    const walk = (list, parent) => {
      for (const n of list) {
        rows.push(n);
        if (n.open && n.children) walk(n.children, n);
      }
      const more = parent ? parent.next : this.rootsNext;
      if (more && (!parent || parent.open)) rows.push({more: true, parent, depth: parent ? parent.depth + 1 : 0});
    };
    walk(this.roots, null);
    this.rows = rows;
    this.active = Math.min(this.active, Math.max(0, rows.length - 1));
    this.list.setCount(rows.length);
    this.box.setAttribute('aria-activedescendant', this.rowId(this.active));
  }

  rowId(i) {
    return 'tree-row-' + i;
  }

  renderRow(i) {
    const n = this.rows[i];
    const selected = i === this.active;
    if (n.more) {
      return h('div', {class: 'tree-row more', id: this.rowId(i), role: 'treeitem', 'aria-level': n.depth + 1,
        'aria-selected': String(selected), onclick: () => this.loadMore(n)},
      h('span', {class: 'indent', dataset: {depth: n.depth}}), 'more...');
    }
    const p = n.p;
    const argv = processArgv(p);
    const exit = pick(p, 'exit_code', 'exit_status');
    const row = h('div', {
      class: 'tree-row' + (selected ? ' active' : ''), id: this.rowId(i), role: 'treeitem',
      'aria-level': n.depth + 1, 'aria-selected': String(selected),
      'aria-expanded': n.count > 0 ? String(n.open) : undefined, dataset: {key: n.key},
      onclick: () => { this.setActive(i); this.toggle(n); this.show(n); },
    },
    h('span', {class: 'indent', dataset: {depth: Math.min(n.depth, 40)}}),
    h('span', {class: 'twisty'}, n.count > 0 ? (n.loading ? '…' : n.open ? '▾' : '▸') : ' '),
    h('span', {class: 'exe'}, baseName(processExe(p))),
    h('span', {class: 'argv'}, argv.slice(1).join(' ')),
    exit !== undefined && exit !== 0 ? h('span', {class: 'badge badge-bad'}, 'exit ' + exit) : null,
    n.count > 0 ? h('span', {class: 'count'}, String(n.count)) : null);
    row.style.paddingLeft = Math.min(n.depth, 40) * 16 + 'px';
    return row;
  }

  setActive(i) {
    this.active = Math.max(0, Math.min(i, this.rows.length - 1));
    this.box.setAttribute('aria-activedescendant', this.rowId(this.active));
    this.list.scrollToIndex(this.active);
    this.list.refresh();
  }

  async toggle(n) {
    if (n.more || n.count === 0) return;
    n.open = !n.open;
    if (n.open && !n.children) {
      this.flatten();
      await this.loadChildren(n);
    } else {
      this.flatten();
    }
  }

  async loadMore(row) {
    const parent = row.parent;
    if (parent) await this.loadChildren(parent);
    else await this.loadChildren(null);
  }

  show(n) {
    if (n.more) return;
    const p = n.p;
    const field = (name, value) => value === undefined || value === '' ? null : [h('dt', {}, name), h('dd', {}, value)];
    const d = p.data || {};
    const fds = [['stdin', pick(p, 'stdin_fd') ?? d.stdin_fd], ['stdout', pick(p, 'stdout_fd') ?? d.stdout_fd],
      ['stderr', pick(p, 'stderr_fd') ?? d.stderr_fd]].filter(([, v]) => v !== undefined);
    const stdio = pick(p, 'stdio', 'stdio_kinds') ??
      (fds.length ? Object.fromEntries(fds.map(([n, v]) => [n, typeof v === 'string' ? v : v.kind || ''])) : undefined);
    replace(this.details,
      h('h3', {}, baseName(processExe(p))),
      h('dl', {},
        field('pid', pick(p, 'pid')),
        field('exe', processExe(p)),
        field('argv', h('ol', {class: 'argv-list'}, processArgv(p).map((a) => h('li', {}, a)))),
        field('cwd', pick(p, 'cwd')),
        field('exe digest', pick(p, 'exe_sha256', 'sha256', 'exe_digest')),
        field('started', time(pick(p, 'start_ns', 'time_ns'))),
        field('duration', duration(pick(p, 'start_ns', 'time_ns'), pick(p, 'end_ns', 'exit_ns'))),
        field('exit status', pick(p, 'exit_code', 'exit_status') === undefined ? undefined :
          String(pick(p, 'exit_code', 'exit_status'))),
        field('stdio', stdio === undefined ? undefined : typeof stdio === 'string' ? stdio :
          Array.isArray(stdio) ? stdio.join(', ') :
            Object.entries(stdio).map(([fd, kind]) => fd + ' ' + (typeof kind === 'string' ? kind : kind.kind)).join(', ')),
        field('children', n.count ? String(n.count) : undefined)),
      copyButton(p));
    if (this.onSelect) this.onSelect(n);
  }

  key(e) {
    const n = this.rows[this.active];
    if (!n) return;
    let handled = true;
    switch (e.key) {
      case 'ArrowDown': this.setActive(this.active + 1); break;
      case 'ArrowUp': this.setActive(this.active - 1); break;
      case 'Home': this.setActive(0); break;
      case 'End': this.setActive(this.rows.length - 1); break;
      case 'ArrowRight':
        if (n.more) break;
        if (n.count > 0 && !n.open) this.toggle(n).then(() => this.list.refresh());
        else if (n.open) this.setActive(this.active + 1);
        break;
      case 'ArrowLeft':
        if (!n.more && n.open) this.toggle(n);
        else if (n.parent) this.setActive(this.rows.indexOf(n.parent));
        break;
      case 'Enter':
      case ' ':
        if (n.more) this.loadMore(n);
        else this.show(n);
        break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }
}

export function baseName(path) {
  const s = String(path || '');
  return s.slice(s.lastIndexOf('/') + 1) || s;
}
