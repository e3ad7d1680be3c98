// One build: who and what (summary, counts), its chain integrity in large
// letters, then one tab per question -- the process tree, the timeline of
// every event, egress, secrets, uploads, file writes, alerts -- each at its
// own address (/ui/builds/12/egress), so every view can be linked to.
import * as api from './api.js';
import {h, replace, time, duration, table, copyButton, badge, shown} from './dom.js';
import {ProcessTree, baseName} from './tree.js';
import {VirtualList} from './virtual.js';
import {integrityBadge, integrityOf, buildName, alertCount, showError, INTEGRITY} from './builds.js';

const TABS = [
  ['tree', 'Process tree'], ['timeline', 'Timeline'], ['egress', 'Egress'], ['secrets', 'Secrets'],
  ['uploads', 'Uploads'], ['file-writes', 'File writes'], ['alerts', 'Alerts'],
];

export async function buildView(main, id, tab, params) {
  tab = tab || 'tree';
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(main, status);
  let summary;
  try {
    summary = await api.get('/v1/builds/' + encodeURIComponent(id));
  } catch (e) {
    showError(status)(e);
    return;
  }
  const b = summary.build || summary;
  const panel = h('section', {class: 'tab-panel', role: 'tabpanel', id: 'panel'});
  replace(main,
    h('header', {class: 'build-head'},
      h('h1', {}, buildName(b)),
      integrityBanner(summary),
      h('dl', {class: 'facts'},
        fact('CI', b.ci), fact('Repository', b.repository), fact('Job', b.job), fact('Branch', b.branch),
        fact('CI build', b.ci_build_id ?? b.build_id), fact('Agent', b.agent_id), fact('Host', b.host),
        fact('Started', time(b.start_ns ?? b.first_ns)), fact('Duration', duration(b.start_ns ?? b.first_ns,
          b.end_ns ?? b.last_ns)), fact('Exit code', b.exit_code), fact('Status', b.status),
        fact('Events', b.events ?? b.event_count), fact('Alerts', String(alertCount(b))))),
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
  return [h('dt', {}, name), h('dd', {}, String(value))];
}

function integrityBanner(summary) {
  const b = summary.build || summary;
  const state = integrityOf(summary.integrity ? summary : b);
  const detail = (summary.integrity && summary.integrity.detail) || (INTEGRITY[state] || [])[2] || '';
  return h('div', {class: 'integrity-banner integrity-' + state, role: 'status'},
    h('span', {class: 'label'}, 'Chain integrity'), integrityBadge(summary.integrity ? summary : b, true),
    h('span', {class: 'detail'}, detail));
}

const base = (id) => '/v1/builds/' + encodeURIComponent(id);

async function treeTab(panel, id, params) {
  const tree = new ProcessTree(panel, id, {selectKey: params.get('process')});
  await tree.loaded;
  tree.box.focus();
}

// Every event of the build, oldest first, a page at a time as the list is
// scrolled; ?event=SEQ:LINE (an alert's evidence) opens on that event.
async function timelineTab(panel, id, params) {
  const kinds = params.get('kind') || '';
  const filter = h('form', {class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const v = filter.elements.kind.value;
    window.navigate('/ui/builds/' + encodeURIComponent(id) + '/timeline' + (v ? '?kind=' + encodeURIComponent(v) : ''));
  }}, h('label', {}, 'Kind', h('input', {name: 'kind', value: kinds, placeholder: 'process_exec'})),
  h('button', {type: 'submit'}, 'Show'));
  const box = h('div', {class: 'events', role: 'list', 'aria-label': 'Events'});
  const detail = h('div', {class: 'event-detail'});
  const count = h('p', {class: 'status'});
  replace(panel, filter, count, h('div', {class: 'timeline-layout'}, box, detail));
  const events = [];
  let next;
  let loading = null;
  let selected = -1;
  const wanted = params.get('event');
  const select = (i) => {
    selected = i;
    list.refresh();
    const e = events[i];
    replace(detail, h('h3', {}, e.kind || 'event'), copyButton(e), h('pre', {class: 'json'}, JSON.stringify(e, null, 2)));
  };
  const list = new VirtualList(box, {
    rowHeight: 26,
    render: (i) => {
      const e = events[i];
      return h('div', {class: 'event-row' + (i === selected ? ' active' : ''), role: 'listitem',
        dataset: {place: placeOf(e)}, onclick: () => select(i)},
      h('span', {class: 'time'}, time(e.time_ns)), h('span', {class: 'kind'}, e.kind || ''),
      h('span', {class: 'exe'}, baseName(e.process && e.process.exe)), h('span', {class: 'what'}, eventSummary(e)),
      copyButton(e, 'JSON'));
    },
    onNearEnd: () => { if (next !== null && !loading) loading = more().finally(() => { loading = null; }); },
  });
  const more = async () => {
    const page = await api.get(base(id) + '/events', {kind: kinds || undefined, limit: 1000, after: next});
    for (const e of page.events || []) events.push(e);
    next = page.next ?? null;
    list.setCount(events.length);
    count.textContent = events.length + (next === null ? ' events' : '+ events');
  };
  loading = more();
  await loading;
  loading = null;
  if (wanted) {
    // The evidence may be further on: read on until it is found.
    let at = events.findIndex((e) => placeOf(e) === wanted);
    while (at < 0 && next !== null) {
      await more();
      at = events.findIndex((e) => placeOf(e) === wanted);
    }
    if (at >= 0) {
      select(at);
      list.scrollToIndex(at);
    }
  }
}

export function placeOf(e) {
  const p = e.place || e.evidence || e;
  if (p.seq === undefined) return '';
  return (p.agent_id ? p.agent_id + ':' : '') + p.seq + ':' + p.line;
}

function eventSummary(e) {
  const b = e.data || e.body || e;
  const argv = b.argv;
  switch (e.kind) {
    case 'process_exec': return Array.isArray(argv) ? argv.join(' ') : (b.exe || '');
    case 'net_connect': return (b.dns_name ? b.dns_name + ' ' : '') + (b.daddr || '') + ':' + (b.dport ?? '');
    case 'dns_query': return (b.name || '') + ' → ' + (b.answers || []).join(', ');
    case 'secret_access': case 'file_write': case 'file_open': return b.path || '';
    case 'artifact_upload': return (b.path || '') + ' → ' + (b.destination || b.url || '');
    default: return '';
  }
}

async function listTab(panel, path, key, columns, empty) {
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(panel, status);
  const rows = [];
  await api.pages(path, {limit: 1000}, key, (items) => rows.push(...items), 20000);
  replace(panel, rows.length ? table(columns, rows) : h('p', {class: 'status'}, empty));
}

const procs = (r) => (r.processes || r.exes || []).map((p) => typeof p === 'string' ? baseName(p) :
  baseName(p.exe || p.path || '')).join(', ');

async function egressTab(panel, id) {
  await listTab(panel, base(id) + '/egress', 'destinations', [
    ['DNS name', (r) => r.name ?? r.dns_name ?? '(no name)'],
    ['Addresses', (r) => (r.addresses || (r.daddr ? [r.daddr] : [])).join(', ')],
    ['Ports', (r) => (r.ports || (r.dport ? [r.dport] : [])).join(', ')],
    ['Connections', (r) => String(r.connections ?? r.count ?? '')],
    ['Processes', procs],
    ['', (r) => copyButton(r, 'JSON')],
  ], 'No network connections were recorded in this build.');
}

async function secretsTab(panel, id) {
  await listTab(panel, base(id) + '/secrets', 'secrets', [
    ['Time', (r) => time(r.time_ns ?? r.first_ns)], ['Secret', (r) => r.path ?? r.name ?? ''],
    ['Rule', (r) => r.rule ?? r.kind ?? ''], ['Process', (r) => baseName(r.exe ?? (r.process && r.process.exe))],
    ['', (r) => copyButton(r, 'JSON')],
  ], 'No secret was touched in this build.');
}

async function uploadsTab(panel, id) {
  await listTab(panel, base(id) + '/uploads', 'uploads', [
    ['Time', (r) => time(r.time_ns)], ['File', (r) => r.path ?? ''],
    ['SHA-256', (r) => h('code', {}, r.sha256 ?? r.digest ?? '')], ['Size', (r) => String(r.size ?? '')],
    ['Destination', (r) => r.destination ?? r.url ?? ''], ['Tool', (r) => r.tool ?? baseName(r.exe)],
    ['', (r) => copyButton(r, 'JSON')],
  ], 'Nothing was uploaded in this build.');
}

async function fileWritesTab(panel, id) {
  await listTab(panel, base(id) + '/file-writes', 'file_writes', [
    ['Time', (r) => time(r.time_ns)], ['Path', (r) => r.path ?? ''],
    ['SHA-256', (r) => h('code', {}, r.sha256 ?? '')], ['Process', (r) => baseName(r.exe ?? (r.process && r.process.exe))],
    ['', (r) => copyButton(r, 'JSON')],
  ], 'No watched file was written in this build.');
}

async function alertsTab(panel, id) {
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(panel, status);
  const alerts = [];
  await api.pages(base(id) + '/alerts', {limit: 1000}, 'alerts', (items) => alerts.push(...items), 5000);
  replace(panel, alerts.length ? alertTable(alerts) : h('p', {class: 'status'}, 'No alert was raised in this build.'));
}

// Alerts with links to the events that are their evidence.
export function alertTable(alerts) {
  return table([
    ['Severity', (a) => badge(a.severity === 'critical' || a.severity === 'high' ? 'bad' : 'warn', a.severity || '')],
    ['Rule', (a) => a.rule_id || ''], ['Title', (a) => a.title || ''], ['Raised', (a) => time(a.time_ns)],
    ['Build', (a) => a.build ? h('a', {href: '/ui/builds/' + encodeURIComponent(a.build), dataset: {nav: ''}},
      'build ' + a.build) : ''],
    ['Evidence', (a) => (a.evidence || []).map((ev, i) => [i ? ' ' : '', a.build ? h('a', {
      href: '/ui/builds/' + encodeURIComponent(a.build) + '/timeline?event=' +
        encodeURIComponent(placeOf(ev)), dataset: {nav: ''}, class: 'evidence'}, 'event ' + ev.seq + ':' + ev.line) :
      shown(placeOf(ev))])],
    ['', (a) => copyButton(a, 'JSON')],
  ], alerts, (a) => ({dataset: {alert: String(a.id)}}));
}
