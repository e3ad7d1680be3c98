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
    ['Agent', (a) => a.id], ['Host', (a) => a.hostname], ['OS', (a) => a.os], ['Version', (a) => a.agent_version],
    ['CI', (a) => a.ci], ['Mode', (a) => a.mode], ['Last seen', (a) => time(a.last_seen_ns)],
    ['Chain', (a) => 'epoch ' + a.epoch + ', seq ' + a.last_seq],
    ['Lost events', (a) => a.lost_events ? badge('warn', String(a.lost_events)) : '0'],
    ['Findings', (a) => a.open_findings ? badge('bad', a.open_findings + ' open of ' + a.findings) :
      String(a.findings ?? 0)],
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
    h('input', {name: 'q', value: q,
      placeholder: 'dest:*.attacker.example   exe_sha256:HEX   argv:changed-files since:2026-03-14T00:00:00Z'})),
  h('button', {type: 'submit'}, 'Search'));
  const status = h('p', {class: 'status'});
  replace(main, h('h1', {}, 'Search'), form, status);
  if (!q) return;
  status.textContent = 'Searching…';
  const found = [];
  let scanned = 0;
  await api.pages('/v1/search', {q, limit: 100}, 'builds', (items, page) => {
    found.push(...items);
    scanned += page.scanned_execs || 0;
  }, 1000).then(() => {
    replace(main, h('h1', {}, 'Search'), form,
      h('p', {class: 'status'}, found.length + (found.length === 1 ? ' build' : ' builds') +
        (scanned ? ', ' + scanned + ' execs read back' : '')),
      found.length ? table([
        ['Build', (r) => h('a', {href: '/ui/builds/' + encodeURIComponent(r.build.id), dataset: {nav: ''}},
          buildName(r.build))],
        ['CI', (r) => r.build.ci], ['Branch', (r) => r.build.branch], ['Last event', (r) => time(r.build.last_ns)],
        ['Integrity', (r) => integrityBadge(r.build)],
        ['Alerts', (r) => alertCount(r.build) ? badge('bad', String(alertCount(r.build))) : ''],
        ['Matches', (r) => h('ul', {class: 'matches'}, (r.matches || []).map((m) => h('li', {}, m.term + ': ',
          (m.places || []).map((p, i) => [i ? ', ' : '', h('a', {class: 'place', dataset: {nav: ''},
            href: '/ui/builds/' + encodeURIComponent(r.build.id) + '/timeline?event=' +
              encodeURIComponent(p.seq + ':' + p.line)}, p.value || p.kind)]),
          m.events > (m.places || []).length ? ' (' + m.events + ' events)' : '')))],
      ], found, (r) => ({dataset: {build: String(r.build.id)}})) : h('p', {class: 'status'}, 'No build matches.'));
  }).catch(showError(status));
}
