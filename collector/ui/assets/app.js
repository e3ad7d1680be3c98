// The UI's entry point: the header, and a router over the address, so every
// view has a URL of its own and a reload or a shared link opens it again.
//   /ui/                               builds (filters in the query)
//   /ui/builds/ID[/tree|timeline|egress|secrets|uploads|file-writes|alerts]
//   /ui/alerts  /ui/agents  /ui/search?q=...
import * as api from './api.js';
import {h, replace} from './dom.js';
import {buildsView} from './builds.js';
import {buildView} from './build.js';
import {agentsView, alertsView, searchView} from './lists.js';

const main = document.getElementById('main');

function route() {
  const path = location.pathname.replace(/^\/ui\/?/, '');
  const params = new URLSearchParams(location.search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('nav.top a')) {
    a.classList.toggle('active', a.dataset.section === (parts[0] || 'builds'));
  }
  if (parts.length === 0 || (parts[0] === 'builds' && parts.length === 1)) return buildsView(main, params);
  if (parts[0] === 'builds') return buildView(main, parts[1], parts[2], params);
  if (parts[0] === 'alerts') return alertsView(main, params);
  if (parts[0] === 'agents') return agentsView(main);
  if (parts[0] === 'search') return searchView(main, params);
  replace(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page in the UI.'));
  return Promise.resolve();
}

// Goes to one of our paths without reloading the page.
window.navigate = (path) => {
  history.pushState(null, '', path);
  window.scrollTo(0, 0);
  return render();
};

let rendering = Promise.resolve();
function render() {
  document.body.dataset.ready = 'false';
  rendering = route().catch((e) => {
    if (e && e.status !== 401) replace(main, h('p', {class: 'error'}, 'Error: ' + (e.message || e)));
  }).finally(() => { document.body.dataset.ready = 'true'; });
  return rendering;
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  window.navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);

async function header() {
  const who = document.getElementById('who');
  try {
    const s = await api.session();
    replace(who, h('span', {class: 'user'}, s.user), ' ', h('span', {class: 'role'}, '(' + s.role + ')'));
    if (s.via === 'session') {
      who.append(' ', h('button', {type: 'button', id: 'logout', onclick: async () => {
        await api.logout().catch(() => {});
        location.assign('/ui/login');
      }}, 'Log out'));
    }
  } catch {
    // api.get went to the login page already on a 401.
  }
}

header();
render();
