// The read API (docs/collector-api.md) as the UI uses it: same origin, the
// session cookie sent by the browser (HttpOnly: this script never sees
// it). A 401 means the session is over: back to the login page, returning
// here afterwards.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign('/ui/login?next=' + encodeURIComponent(next));
}

// GET `path` with query `params` (undefined and '' left out); the JSON answer.
export async function get(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const url = path + (q.toString() ? '?' + q : '');
  const r = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
  if (r.status === 401) {
    toLogin();
    throw new ApiError(401, 'the session is over');
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || r.statusText);
  return body;
}

export async function post(path, object) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', Accept: 'application/json'},
    body: JSON.stringify(object || {}),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || r.statusText);
  return body;
}

// Every page of a paged list: calls onPage(items) as each arrives; stops
// after `max` items. `key` names the array in the answer.
export async function pages(path, params, key, onPage, max = Infinity) {
  let after;
  let seen = 0;
  for (;;) {
    const page = await get(path, {...params, after});
    const items = page[key] || [];
    seen += items.length;
    onPage(items, page);
    if (page.next === null || page.next === undefined || items.length === 0 || seen >= max) return page;
    after = page.next;
  }
}

export const session = () => get('/ui/session');
export const logout = () => post('/ui/logout', {});
