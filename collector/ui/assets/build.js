// One build: who and what (the record's facts, its events per kind), its
// chain integrity in large letters with the findings behind it, then one
// tab per question -- the process tree, the timeline of every event,
// egress, secrets, uploads, file writes, alerts -- each at its own address
// (/ui/builds/12/egress), so every view can be linked to and reloaded.
import * as api from './api.js';
import {h, replace, time, duration, table, copyButton, badge} from './dom.js';
import {ProcessTree, baseName} from './tree.js';
import {VirtualList} from './virtual.js';
import {integrityBadge, integrityOf, buildName, alertCount, statusBadge, showError, INTEGRITY} from './builds.js';

const TABS = [
  ['tree', 'Process tree'], ['timeline', 'Timeline'], ['egress', 'Egress'], ['secrets', 'Secrets'],
  ['uploads', 'Uploads'], ['file-writes', 'File writes'], ['alerts', 'Alerts'],
];

const base = (id) => '/v1/builds/' + encodeURIComponent(id);

export async function buildView(main, id, tab, params) {
  tab = tab || 'tree';
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(main, status);
  let summary;
  try {
    summary = await api.get(base(id));
  } catch (e) {
    showError(status)(e);
    return;
  }
  const b = summary.build;
  const panel = h('section', {class: 'tab-panel', role: 'tabpanel'});
  const counts = Object.entries(summary.counts || {}).map(([k, n]) => k + ' ' + n).join(', ');
  replace(main,
    h('header', {class: 'build-head'},
      h('h1', {}, buildName(b)),
      integrityBanner(summary),
      h('dl', {class: 'facts'},
        fact('Status', statusBadge(b)), fact('Repository', b.repository), fact('Branch', b.branch),
        fact('Job', b.job), fact('CI build', b.build_id), fact('Agent', b.agent_id),
        fact('Started', time(b.start_ns || b.first_ns)),
        fact('Duration', duration(b.start_ns || b.first_ns, b.end_ns || b.last_ns)), fact('Events', b.events),
        fact('Alerts', String(alertCount(b)))),
      h('details', {class: 'more-facts'}, h('summary', {}, 'More about this build'),
        h('dl', {class: 'facts'},
          fact('CI', b.ci), fact('Number', b.number), fact('Commit', b.commit), fact('Build URL', b.url),
          fact('Host', b.host), fact('Runner', b.runner), fact('Mode', b.mode),
          fact('Exit code', b.exit_code === null ? undefined : b.exit_code), fact('Per kind', counts),
          fact('Chain', summary.chain && summary.chain.first && summary.chain.last ? 'seq ' + summary.chain.first.seq + ' to ' + summary.chain.last.seq : undefined)))),
    h('nav', {class: 'tabs', role: 'tablist'}, TABS.map(([t, label]) => h('a', {
      role: 'tab', href: '/ui/builds/' + encodeURIComponent(id) + '/' + t, dataset: {nav: '', tab: t},
      'aria-selected': String(t === tab), class: t === tab ? 'active' : undefined}, label))),
    panel);
  const views = {tree: treeTab, timeline: timelineTab, egress: egressTab, secrets: secretsTab, uploads: uploadsTab,
    'file-writes': fileWritesTab, alerts: alertsTab};
  const view = views[tab];
  if (!view) {
    replace(panel, h('p', {class: 'error'}, 'No such view: ' + tab));
    return;
  }
  await view(panel, id, params, summary).catch(showError(panel));
}

function fact(name, value) {
  if (value === undefined || value === null || value === '') return null;
  return h('div', {class: 'fact'}, h('dt', {}, name), h('dd', {}, value instanceof Node ? value : String(value)));
}

// The record's integrity, and the findings that make it what it is.
function integrityBanner(summary) {
  const b = summary.build;
  const state = integrityOf(b);
  const findings = summary.findings || [];
  const lost = summary.lost_events ? summary.lost_events + ' events lost' : '';
  return h('div', {class: 'integrity-banner integrity-' + state, role: 'status'},
    h('span', {class: 'label'}, 'Chain integrity'), integrityBadge(b, true),
    h('span', {class: 'detail'}, (INTEGRITY[state] || [])[2] || '', lost ? ' (' + lost + ')' : ''),
    findings.length ? h('ul', {class: 'findings'}, findings.map((f) => h('li', {},
      f.kind + (f.open ? ' (open)' : '') + ': seq ' + f.seq_from + '..' + f.seq_to + ' ' + (f.detail || '')))) : null);
}

async function treeTab(panel, id) {
  const tree = new ProcessTree(panel, id);
  await tree.loaded;
  tree.box.focus({preventScroll: true});
}

// An answer's event entry: {seq, line, time_ns, event}.
const eventOf = (item) => item.event || item;
export const placeOf = (p) => (p && p.seq !== undefined ? p.seq + ':' + p.line : '');

// Every event of the build in time order, a page at a time as the list is
// scrolled; ?event=SEQ:LINE (an alert's evidence) opens on that event.
async function timelineTab(panel, id, params) {
  const kinds = params.get('kind') || '';
  const filter = h('form', {class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const v = filter.elements.kind.value.trim();
    window.navigate('/ui/builds/' + encodeURIComponent(id) + '/timeline' + (v ? '?kind=' + encodeURIComponent(v) : ''));
  }}, h('label', {}, 'Kinds', h('input', {name: 'kind', value: kinds, placeholder: 'process_exec,net_connect'})),
  h('button', {type: 'submit'}, 'Show'));
  const box = h('div', {class: 'events', role: 'list', 'aria-label': 'Events'});
  const detail = h('div', {class: 'event-detail'});
  const count = h('p', {class: 'status'});
  replace(panel, filter, count, h('div', {class: 'timeline-layout'}, box, detail));
  const items = [];
  let next;
  let inflight = null;
  let selected = -1;
  const select = (i) => {
    selected = i;
    list.refresh();
    const e = eventOf(items[i]);
    replace(detail, h('h3', {}, e.kind || 'event'), h('p', {class: 'status'}, 'batch seq ' + placeOf(items[i])),
      copyButton(e), h('pre', {class: 'json'}, JSON.stringify(e, null, 2)));
  };
  const list = new VirtualList(box, {
    rowHeight: 26,
    render: (i) => {
      const e = eventOf(items[i]);
      return h('div', {class: 'event-row' + (i === selected ? ' active' : ''), role: 'listitem',
        dataset: {place: placeOf(items[i])}, onclick: () => select(i)},
      h('span', {class: 'time'}, time(items[i].time_ns ?? e.time_ns)), h('span', {class: 'kind'}, e.kind || ''),
      h('span', {class: 'exe'}, baseName(e.process && e.process.exe)), h('span', {class: 'what'}, eventSummary(e)),
      copyButton(e, 'JSON'));
    },
    onNearEnd: () => { if (next !== null) more(); },
  });
  // One page at a time: a scroll and a search for the evidence share it.
  const fetchPage = async () => {
    const page = await api.get(base(id) + '/events', {kind: kinds || undefined, limit: 2000, after: next});
    for (const item of page.events || []) items.push(item);
    next = page.next ?? null;
    list.setCount(items.length);
    count.textContent = items.length + (next === null ? ' events' : '+ events (more as you scroll)');
  };
  const more = () => inflight || (inflight = fetchPage().finally(() => { inflight = null; }));
  await more();
  const wanted = params.get('event');
  if (wanted) {
    // The evidence may be further on: read on until it is found.
    let at = items.findIndex((it) => placeOf(it) === wanted);
    while (at < 0 && next !== null) {
      await more();
      at = items.findIndex((it) => placeOf(it) === wanted);
    }
    if (at >= 0) {
      list.scrollToIndex(at);
      select(at);
    }
  }
}

function eventSummary(e) {
  const d = e.data || {};
  switch (e.kind) {
    case 'process_exec': return (d.argv || []).join(' ');
    case 'process_exit': return 'exit ' + (d.exit_code ?? '');
    case 'net_connect': return (d.dns_name ? d.dns_name + ' ' : '') + (d.daddr || '') + ':' + (d.dport ?? '');
    case 'dns_query': return (d.name || '') + ' → ' + (d.answers || []).join(', ');
    case 'secret_access': return (d.access || '') + ' ' + (d.path || '');
    case 'file_write': return (d.operation || '') + ' ' + (d.path || '');
    case 'artifact_upload': return (d.tool || '') + ' → ' + (d.destination || '');
    default: return '';
  }
}

// A table of every item of a paged list, with copy-as-JSON per row.
async function listTab(panel, path, key, columns, empty) {
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(panel, status);
  const rows = [];
  await api.pages(path, {limit: key === 'events' ? 2000 : 1000}, key, (items) => rows.push(...items), 20000);
  replace(panel, rows.length ? table(columns, rows) : h('p', {class: 'status'}, empty));
}

const data = (item) => eventOf(item).data || {};
const exeOf = (item) => baseName((eventOf(item).process || {}).exe);
const copy = ['', (item) => copyButton(eventOf(item), 'JSON')];
const when = ['Time', (item) => time(item.time_ns)];

async function egressTab(panel, id) {
  await listTab(panel, base(id) + '/egress', 'destinations', [
    ['DNS name', (r) => r.name ?? '(no name)'],
    ['Addresses', (r) => (r.addresses || [r.address]).filter(Boolean).join(', ') +
      (r.addresses_total > (r.addresses || []).length ? ' …' : '')],
    ['Connections', (r) => String(r.connections ?? '')], ['DNS queries', (r) => String(r.queries ?? '')],
    ['Processes', (r) => (r.processes || []).map((p) => baseName(p.exe) + ' (' + p.pid + ')').join(', ')],
    ['First', (r) => time(r.first_ns)],
    ['', (r) => copyButton(r, 'JSON')],
  ], 'No network connection or DNS question was recorded in this build.');
}

async function secretsTab(panel, id) {
  await listTab(panel, base(id) + '/secrets', 'events', [
    when, ['Secret', (i) => data(i).path ?? ''], ['Class', (i) => data(i).secret_class ?? ''],
    ['How', (i) => data(i).access ?? ''], ['Rule', (i) => data(i).rule ?? ''], ['Process', exeOf], copy,
  ], 'No secret was touched in this build.');
}

async function uploadsTab(panel, id) {
  await listTab(panel, base(id) + '/uploads', 'events', [
    when, ['Tool', (i) => data(i).tool ?? ''], ['Destination', (i) => data(i).destination ?? ''],
    ['Files', (i) => h('ul', {class: 'files'}, (data(i).files || []).map((f) => h('li', {},
      (f.path || '') + ' ', h('code', {}, f.sha256 || 'not read'), ' ' + (f.size ?? '') + ' B')))],
    ['Process', exeOf], copy,
  ], 'Nothing was uploaded in this build.');
}

async function fileWritesTab(panel, id) {
  await listTab(panel, base(id) + '/file-writes', 'events', [
    when, ['Operation', (i) => data(i).operation ?? ''], ['Path', (i) => data(i).path ?? ''],
    ['SHA-256', (i) => h('code', {}, data(i).sha256 || '')], ['Rule', (i) => data(i).rule ?? ''],
    ['Process', exeOf], copy,
  ], 'No watched file was written in this build.');
}

async function alertsTab(panel, id) {
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(panel, status);
  const alerts = [];
  await api.pages(base(id) + '/alerts', {limit: 1000}, 'alerts', (items) => alerts.push(...items), 5000);
  replace(panel, alerts.length ? alertTable(alerts) : h('p', {class: 'status'}, 'No alert was raised in this build.'));
}

const SEVERE = new Set(['critical', 'high']);

// Alerts with links to the events that are their evidence (the build's
// timeline, opened on the event).
export function alertTable(alerts) {
  return table([
    ['Severity', (a) => badge(SEVERE.has(a.severity) ? 'bad' : 'warn', a.severity || '')],
    ['Rule', (a) => a.rule_id || ''], ['Title', (a) => a.title || ''], ['Raised', (a) => time(a.time_ns)],
    ['Build', (a) => a.build ? h('a', {href: '/ui/builds/' + encodeURIComponent(a.build), dataset: {nav: ''}},
      'build ' + a.build) : ''],
    ['Evidence', (a) => (a.evidence || []).map((ev, i) => [i ? ' ' : '', a.build ? h('a', {
      href: '/ui/builds/' + encodeURIComponent(a.build) + '/timeline?event=' + encodeURIComponent(placeOf(ev)),
      dataset: {nav: ''}, class: 'evidence'}, 'event ' + placeOf(ev)) : 'event ' + placeOf(ev)])],
    ['Acknowledged', (a) => a.acked_ns ? time(a.acked_ns) : ''],
    ['', (a) => copyButton(a, 'JSON')],
  ], alerts, (a) => ({dataset: {alert: String(a.id)}}));
}
