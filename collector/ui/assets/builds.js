// The list of builds (GET /v1/builds): filters in the address (a filtered
// list is a link), alert and integrity badges, a page at a time.
import * as api from './api.js';
import {h, replace, time, badge} from './dom.js';


const FILTERS = [
  ['ci', 'CI system', 'github'], ['repository', 'Repository', 'org/repo'], ['job', 'Job', 'ci/build'],
  ['branch', 'Branch', 'main'], ['status', 'Status', 'running, passed, failed'], ['since', 'Since', '24h'],
  ['until', 'Until', '2026-11-27T10:00:00Z'],
];
const FLAGS = [['has_alerts', 'has alerts'], ['incomplete', 'not verified']];

// The chain-integrity states (docs/collector-api.md), worst first.
export const INTEGRITY = {
  verified: ['good', 'verified', 'every batch of the build is here, signed and chained'],
  gap: ['bad', 'gap', 'batches are missing from the agent\'s chain in this build'],
  loss: ['warn', 'loss', 'the agent lost events in this build (counted, not recorded)'],
  unmonitored: ['bad', 'unmonitored', 'the build ran without the sensor'],
};

export function integrityOf(b) {
  return typeof b.integrity === 'string' ? b.integrity : 'unknown';
}

export function integrityBadge(b, big = false) {
  const state = integrityOf(b);
  const [kind, label, title] = INTEGRITY[state] || ['warn', state, 'integrity not known'];
  const el = badge(kind, label, title);
  el.classList.add('integrity');
  if (big) el.classList.add('big');
  el.dataset.integrity = state;
  return el;
}

export function alertCount(b) {
  return Number(b.alerts ?? 0);
}

// "example/app · ci/build · 2101.1": what a person knows a build by.
export function buildName(b) {
  const parts = [b.repository, b.job, b.build_id].filter((x) => x !== undefined && x !== null && x !== '');
  return parts.length ? parts.join(' · ') : 'build ' + b.id;
}

export async function buildsView(main, params) {
  const form = h('form', {class: 'filters', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') { if (el.checked) q.set(el.name, '1'); } else if (el.value) q.set(el.name, el.value);
    }
    window.navigate('/ui/builds' + (q.toString() ? '?' + q : ''));
  }},
  FILTERS.map(([name, label, hint]) => h('label', {}, label,
    h('input', {name, value: params.get(name) || '', placeholder: hint}))),
  FLAGS.map(([name, label]) => h('label', {class: 'flag'},
    h('input', {type: 'checkbox', name, checked: params.get(name) === '1'}), label)),
  h('button', {type: 'submit'}, 'Filter'));
  const body = h('tbody', {});
  const more = h('button', {type: 'button', hidden: true}, 'More builds');
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(main, h('h1', {}, 'Builds'), form,
    h('table', {class: 'grid builds'}, h('thead', {}, h('tr', {},
      ['Build', 'CI', 'Branch', 'Status', 'Agent', 'Last event', 'Events', 'Integrity', 'Alerts']
        .map((c) => h('th', {scope: 'col'}, c)))),
    body), more, status);
  const query = {};
  for (const [name] of [...FILTERS, ...FLAGS]) if (params.get(name)) query[name] = params.get(name);
  let after;
  const load = async () => {
    more.hidden = true;
    const page = await api.get('/v1/builds', {...query, limit: 100, after});
    for (const b of page.builds || []) body.append(buildRow(b));
    after = page.next;
    more.hidden = after === null || after === undefined;
    status.textContent = body.children.length ? '' : 'No builds match.';
  };
  more.addEventListener('click', () => load().catch(showError(status)));
  await load().catch(showError(status));
}

function buildRow(b) {
  const n = alertCount(b);
  return h('tr', {dataset: {build: String(b.id)}},
    h('td', {}, h('a', {href: '/ui/builds/' + encodeURIComponent(b.id), dataset: {nav: ''}}, buildName(b))),
    h('td', {}, b.ci ?? ''),
    h('td', {}, b.branch ?? ''),
    h('td', {}, statusBadge(b)),
    h('td', {}, b.agent_id ?? ''),
    h('td', {}, time(b.last_ns)),
    h('td', {class: 'num'}, String(b.events ?? '')),
    h('td', {}, integrityBadge(b)),
    h('td', {}, n > 0 ? badge('bad', n + (n === 1 ? ' alert' : ' alerts'), 'alerts raised in this build') : ''));
}

export function statusBadge(b) {
  if (b.status === 'running') return badge('warn', 'running', 'no build_end yet');
  if (b.status === 'failed') return badge('bad', 'failed', 'exit code ' + b.exit_code);
  return b.status === 'passed' ? badge('good', 'passed') : '';
}

export function showError(el) {
  return (e) => {
    if (e && e.status === 401) return;
    replace(el, 'Error: ' + (e && e.message ? e.message : String(e)));
    el.classList.add('error');
  };
}
