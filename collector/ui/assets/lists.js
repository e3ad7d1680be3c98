// The agents, every alert, and search across builds.
import * as api from './api.js';
import {h, replace, time, table, badge, copyButton} from './dom.js';
import {alertTable} from './build.js';
import {buildName, integrityBadge, alertCount, showError} from './builds.js';

export async function agentsView(main) {
  const status = h('p', {class: 'status'}, 'Loading…');
  replace(main, h('h1', {}, 'Agents'), status);
  const agents = [];
  await api.pages('/v1/agents', {}, 'agents', (items) => agents.push(...items), 10000).catch(showError(status));
  replace(main, h('h1', {}, 'Agents'), agents.length ? table([
    ['Agent', (a) => a.id ?? a.agent_id ?? ''], ['Host', (a) => a.hostname ?? ''],
    ['Version', (a) => a.agent_version ?? a.version ?? ''], ['Mode', (a) => a.mode ?? ''],
    ['Last seen', (a) => time(a.last_seen_ns)],
    ['Loss', (a) => String(a.loss ?? a.lost ?? '')],
    ['Findings', (a) => (a.findings ?? 0) > 0 ? badge('warn', String(a.findings)) : '0'],
    ['State', (a) => a.revoked ? badge('bad', 'revoked') : ''],
    ['', (a) => copyButton(a, 'JSON')],
  ], agents) : h('p', {class: 'status'}, 'No agent is enrolled.'));
}

export async function alertsView(main, params) {
  const status = h('p', {class: 'status'}, 'Loading…');
  const severity = params.get('severity') || '';
  const form = h('form', {class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (form.elements.severity.value) q.set('severity', form.elements.severity.value);
    if (form.elements.open.checked) q.set('open', '1');
    window.navigate('/ui/alerts' + (q.toString() ? '?' + q : ''));
  }},
  h('label', {}, 'Severity at least', h('select', {name: 'severity'},
    ['', 'informational', 'low', 'medium', 'high', 'critical'].map((s) => {
      const o = h('option', {value: s}, s || 'any');
      if (s === severity) o.selected = true;
      return o;
    }))),
  h('label', {class: 'flag'}, h('input', {type: 'checkbox', name: 'open', checked: params.get('open') === '1'}),
    'not acknowledged'),
  h('button', {type: 'submit'}, 'Filter'));
  replace(main, h('h1', {}, 'Alerts'), form, status);
  const alerts = [];
  const query = {severity: severity || undefined, open: params.get('open') || undefined};
  await api.pages('/v1/alerts', query, 'alerts', (items) => alerts.push(...items), 5000).catch(showError(status));
  replace(main, h('h1', {}, 'Alerts'), form, alerts.length ? alertTable(alerts) : h('p', {class: 'status'}, 'No alerts.'));
}

// GET /v1/search?q=… (the query syntax is docs/collector-api.md's).
export async function searchView(main, params) {
  const q = params.get('q') || '';
  const form = h('form', {class: 'filters', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const v = form.elements.q.value.trim();
    window.navigate('/ui/search' + (v ? '?q=' + encodeURIComponent(v) : ''));
  }}, h('label', {class: 'wide'}, 'Search builds',
    h('input', {name: 'q', value: q, placeholder: 'dns:*.attacker.example  sha256:…  exe:changed-files since:2026-03-14'})),
  h('button', {type: 'submit'}, 'Search'));
  const status = h('p', {class: 'status'});
  replace(main, h('h1', {}, 'Search'), form, status);
  if (!q) return;
  status.textContent = 'Searching…';
  const builds = [];
  await api.pages('/v1/search', {q}, 'builds', (items) => builds.push(...items), 5000).then(() => {
    replace(main, h('h1', {}, 'Search'), form, builds.length ? table([
      ['Build', (b) => h('a', {href: '/ui/builds/' + encodeURIComponent(b.id ?? b.build), dataset: {nav: ''}}, buildName(b))],
      ['CI', (b) => b.ci ?? ''], ['Branch', (b) => b.branch ?? ''], ['Last event', (b) => time(b.last_ns)],
      ['Integrity', (b) => integrityBadge(b)],
      ['Alerts', (b) => alertCount(b) ? badge('bad', String(alertCount(b))) : ''],
      ['Matched', (b) => (b.matches || b.matched || []).map((m) => typeof m === 'string' ? m : JSON.stringify(m)).join(', ')],
    ], builds) : h('p', {class: 'status'}, 'No build matches.'));
  }).catch(showError(status));
}
