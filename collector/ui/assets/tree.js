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

// A node of GET /v1/builds/{id}/tree: a process with its execs (the first
// 16: argv, cwd, descriptors), its children's count, exit and times.
const lastExec = (p) => (p.execs && p.execs.length ? p.execs[p.execs.length - 1] : {});
export const processArgv = (p) => lastExec(p).argv || [];
export class ProcessTree {
  constructor(root, buildId, {onSelect} = {}) {
    this.buildId = buildId;
    this.onSelect = onSelect;
    this.nodes = new Map();  // key -> node
    this.roots = [];
    this.rows = [];  // the open rows, in order
    this.active = 0;
    this.box = h('div', {class: 'tree', role: 'tree', tabindex: '0', 'aria-label': 'Process tree',
      onkeydown: (e) => this.key(e)});
    this.details = h('div', {class: 'process-details', 'aria-live': 'polite'},
      h('p', {class: 'status'}, 'Choose a process (arrow keys, Right opens, Enter shows it) to see its argv, cwd, ' +
        'executable digest, duration, exit status and descriptors.'));
    replace(root, h('div', {class: 'tree-layout'}, this.box, this.details));
    this.list = new VirtualList(this.box, {rowHeight: 26, render: (i) => this.renderRow(i)});
    this.loaded = this.loadChildren(null);
  }

  node(p, parent) {
    const n = {key: p.key, p, parent, depth: parent ? parent.depth + 1 : 0, open: false, children: null,
      next: undefined, count: Number(p.children || 0), loading: false};
    this.nodes.set(n.key, n);
    return n;
  }

  // The children of `parent` (null: the roots), a page at a time.
  async loadChildren(parent) {
    const holder = parent || {children: this.roots};
    if (parent) parent.loading = true;
    // The roots alone, or the subtree one level under the parent (its
    // answer starts with the parent itself: only its children are kept).
    const params = {depth: parent ? 1 : 0, limit: PAGE, after: parent ? parent.next : this.rootsNext};
    if (parent) params.root = parent.key;
    const page = await api.get('/v1/builds/' + encodeURIComponent(this.buildId) + '/tree', params);
    if (!parent) this.total = page.processes;
    if (!holder.children) holder.children = [];
    for (const p of page.nodes || []) {
      if (parent ? p.parent_key === parent.key && p.key !== parent.key : true) holder.children.push(this.node(p, parent));
    }
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
      'more…');
    }
    const p = n.p;
    const argv = processArgv(p);
    const exit = p.exit_code;
    const row = h('div', {
      class: 'tree-row' + (selected ? ' active' : ''), id: this.rowId(i), role: 'treeitem',
      'aria-level': n.depth + 1, 'aria-selected': String(selected),
      'aria-expanded': n.count > 0 ? String(n.open) : undefined, 'aria-busy': n.loading ? 'true' : undefined,
      dataset: {key: n.key},
      onclick: () => { this.setActive(i); this.toggle(n); this.show(n); },
    },
    h('span', {class: 'twisty'}, n.count > 0 ? (n.loading ? '…' : n.open ? '▾' : '▸') : ' '),
    h('span', {class: 'exe'}, baseName(p.exe)),
    h('span', {class: 'argv'}, argv.slice(1).join(' ')),
    exit !== undefined && exit !== null && exit !== 0 ? h('span', {class: 'badge badge-bad'}, 'exit ' + exit) : null,
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
      n.loading = true;  // drawn busy until its children are in
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
    const x = lastExec(p);
    const field = (name, value) => value === undefined || value === null || value === '' ? null :
      [h('dt', {}, name), h('dd', {}, value)];
    const fd = (d) => (d ? d.kind + (d.remote ? ' ' + d.remote : '') : undefined);
    const stdio = ['stdin', 'stdout', 'stderr'].filter((k) => x[k]).map((k) => k + ' ' + fd(x[k])).join(', ');
    replace(this.details,
      h('h3', {}, baseName(p.exe)),
      h('dl', {},
        field('pid', String(p.pid)),
        field('exe', p.exe),
        field('argv', h('ol', {class: 'argv-list'}, (x.argv || []).map((a) => h('li', {}, a)))),
        field('cwd', x.cwd),
        field('exe digest', p.exe_sha256 || x.exe_sha256),
        field('script', x.script ? x.script + ' ' + (x.script_sha256 || '') : undefined),
        field('started', time(p.start_ns)),
        field('duration', p.end_ns ? duration(p.start_ns, p.end_ns) : 'still running (no exit recorded)'),
        field('exit status', p.exit_code === null || p.exit_code === undefined ? undefined :
          p.exit_code === -1 ? 'killed by a signal' : String(p.exit_code)),
        field('stdio', stdio),
        field('children', n.count ? String(n.count) : undefined),
        field('execs', p.execs_total > 1 ? h('ol', {class: 'execs'}, (p.execs || []).map((e) =>
          h('li', {}, e.exe + ' ' + (e.argv || []).join(' ')))) : undefined)),
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
