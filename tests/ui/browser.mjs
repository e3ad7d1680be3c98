// The UI in a real browser: Debian's chromium driven by playwright-core
// (tests/ui/package-lock.json; no browser is downloaded). Run by
// tests/ui/ui_test.cpp, which starts the collector, fills its store with a
// real build and makes the user; this script asserts what a person sees.
//   node browser.mjs trail   -- login, builds, tree by keyboard, egress, XSS as text, deep links, logout, lockout
//   node browser.mjs big     -- a 50,000-event build: times to the tree, to a subtree, to the timeline
// Environment: BT_URL, BT_USER, BT_PASS, BT_BUILD, BT_SHOTS (screenshot folder), BT_XSS (the
// hostile process name), BT_DNS (the DNS name egress must show; empty: not checked), BT_BIG_CHILD.
// Prints one JSON line {"ok":true,"times_ms":{...}} and exits 0, or names the failed check and exits 1.
import assert from 'node:assert/strict';
import {mkdirSync} from 'node:fs';
import {chromium} from 'playwright-core';

const env = (k, d) => process.env[k] ?? d;
const url = env('BT_URL');
const shots = env('BT_SHOTS', '/tmp/bt-ui-shots');
const times = {};
const dialogs = [];
const problems = [];
mkdirSync(shots, {recursive: true});

// Headless chromium refuses to start as root without --no-sandbox (its
// sandbox needs an unprivileged user); only the tests pass it.
const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
const browser = await chromium.launch({executablePath: env('BT_CHROMIUM', '/usr/bin/chromium'), args});
const context = await browser.newContext({viewport: {width: 1400, height: 900}});
const page = await context.newPage();
page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('console', (m) => {
  if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push('CSP: ' + m.text());
});
page.setDefaultTimeout(30000);

let step = 'start';
const shot = (name) => page.screenshot({path: `${shots}/${name}.png`, fullPage: false});
const ready = () => page.waitForFunction(() => document.body.dataset.ready === 'true');
async function timed(name, f) {
  const t0 = performance.now();
  const r = await f();
  times[name] = Math.round(performance.now() - t0);
  return r;
}

async function login(user, password) {
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  const answer = page.waitForResponse((r) => r.url().endsWith('/ui/login') && r.request().method() === 'POST');
  await page.click('#login button[type=submit]');
  return (await answer).status();
}

// Opens rows by keyboard (Right opens a closed row, Down moves on) until a
// row whose program is `exe` is drawn; returns the number of key presses.
async function openTreeUntil(exe, maxSteps = 400) {
  await page.focus('.tree');
  for (let i = 0; i < maxSteps; i++) {
    const found = await page.locator('.tree-row .exe', {hasText: exe}).count();
    if (found) return i;
    const active = page.locator('.tree-row.active');
    if ((await active.getAttribute('aria-expanded')) === 'false') {
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => {
        const a = document.querySelector('.tree-row.active');
        return a && a.getAttribute('aria-expanded') === 'true' && a.getAttribute('aria-busy') !== 'true';
      });
    }
    await page.keyboard.press('ArrowDown');
  }
  throw new Error('no row of ' + exe + ' after ' + maxSteps + ' keys');
}

async function trail() {
  const build = env('BT_BUILD');
  const xss = env('BT_XSS');
  step = 'a page without a session goes to the login form';
  await page.goto(url + '/ui/builds/' + build + '/egress');
  assert.match(page.url(), /\/ui\/login\?next=/);
  await shot('01-login');

  step = 'log in through the form';
  assert.equal(await login(env('BT_USER'), env('BT_PASS')), 200);
  await page.waitForURL(/\/ui\/builds\/\d+\/egress$/);  // back where the user was going
  await ready();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name.endsWith('buildtrail_session'));
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/');

  step = 'the build list shows the build with its badges';
  await page.click('nav.top a[data-section=builds]');
  await ready();
  const row = page.locator(`tr[data-build="${build}"]`);
  await row.waitFor();
  assert.match(await row.locator('.badge-bad').last().textContent(), /alert/);
  assert.ok(await row.locator('.integrity').count(), 'an integrity badge');
  await shot('02-builds');

  step = 'filter the list';
  await page.fill('form.filters input[name=job]', 'no-such-job');
  await page.click('form.filters button[type=submit]');
  await ready();
  assert.match(page.url(), /job=no-such-job/);
  assert.equal(await page.locator(`tr[data-build="${build}"]`).count(), 0);
  await page.goBack();
  await ready();
  await page.locator(`tr[data-build="${build}"]`).waitFor();

  step = 'the build page: integrity shown, the tree opened by keyboard down to the hostile process';
  await page.click(`tr[data-build="${build}"] a`);
  await page.waitForURL(new RegExp(`/ui/builds/${build}$`));
  await ready();
  assert.ok(await page.locator('.integrity-banner .integrity').count(), 'the integrity banner');
  await page.locator('.tree-row').first().waitFor();
  times.tree_keys = await openTreeUntil(xss);
  const xssRow = page.locator('.tree-row .exe', {hasText: xss}).first();
  assert.equal(await xssRow.textContent(), xss);
  await xssRow.click();
  await page.locator('.process-details h3').waitFor();
  assert.equal(await page.locator('.process-details h3').textContent(), xss);
  await page.focus('.tree');
  await page.keyboard.press('Enter');
  await shot('03-tree');

  step = 'the hostile strings are text: no element, no script, no dialog';
  assert.equal(await page.locator('main img').count(), 0, 'an <img> from a process name');
  assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([src])').length), 0);
  assert.deepEqual(dialogs, []);
  const argv = await page.locator('.process-details ol.argv-list li').allTextContents();
  assert.ok(argv.includes('<script>alert(2)</script>'), 'argv shown as text: ' + JSON.stringify(argv));
  assert.ok(argv.some((a) => a.includes('\\u{202E}')), 'the RTL override shown escaped: ' + JSON.stringify(argv));

  step = 'copy an event as JSON';
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: url});
  await page.click('.process-details button.copy');
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.ok(JSON.stringify(copied).includes('onerror'), 'the copied JSON is the process');

  const dns = env('BT_DNS', '');
  step = 'egress names the DNS name';
  await page.click('nav.tabs a[data-tab=egress]');
  await page.waitForURL(/\/egress$/);
  await ready();
  if (dns) await page.locator('table.grid td', {hasText: dns}).first().waitFor();
  await shot('04-egress');

  step = 'a deep link survives a reload';
  await page.reload();
  await ready();
  assert.match(page.url(), new RegExp(`/ui/builds/${build}/egress$`));
  assert.equal(await page.locator('nav.tabs a.active').getAttribute('data-tab'), 'egress');
  if (dns) await page.locator('table.grid td', {hasText: dns}).first().waitFor();

  step = 'an alert links to its evidence';
  await page.click('nav.tabs a[data-tab=alerts]');
  await ready();
  await page.locator('a.evidence').first().click();
  await page.waitForURL(/\/timeline\?event=/);
  await ready();
  await page.locator('.event-row.active').waitFor();
  await shot('05-evidence');

  step = 'search across builds finds the build by its hostile program';
  await page.click('nav.top a[data-section=search]');
  await ready();
  await page.fill('form.filters input[name=q]', 'exe:*onerror*');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/\/ui\/search\?q=/);
  await ready();
  await page.locator(`tr[data-build="${build}"]`).waitFor();
  assert.equal(await page.locator('main img').count(), 0);
  await shot('06-search');

  step = 'agents and alerts pages';
  await page.click('nav.top a[data-section=agents]');
  await ready();
  await page.locator('table.grid tbody tr').first().waitFor();
  await shot('07-agents');
  await page.click('nav.top a[data-section=alerts]');
  await ready();
  await page.locator('table.grid tbody tr').first().waitFor();
  await shot('08-alerts');

  step = 'logging out ends the session: its cookie is refused afterwards';
  await page.click('#logout');
  await page.waitForURL(/\/ui\/login/);
  const replay = await fetch(url + '/v1/alerts', {headers: {Cookie: `${session.name}=${session.value}`}});
  assert.equal(replay.status, 401);
  await page.goto(url + '/ui/');
  assert.match(page.url(), /\/ui\/login/);

  step = 'a wrong password is refused, then the address is refused for a while';
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push(await login(env('BT_USER'), 'wrong password ' + i));
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.equal(statuses[5], 429);
  assert.match(await page.locator('#message').textContent(), /^Too many failed logins from this address; retry in \d+ s\.$/);
  assert.equal(await login(env('BT_USER'), env('BT_PASS')), 429, 'the right password is refused while limited');
  await shot('09-refused');
}

async function big() {
  const build = env('BT_BUILD');
  step = 'log in';
  await page.goto(url + '/ui/login');
  assert.equal(await login(env('BT_USER'), env('BT_PASS')), 200);
  await page.waitForURL(/\/ui\/$/);
  step = 'the build page of 50,000 events';
  await timed('build_page_to_tree', async () => {
    await page.goto(url + '/ui/builds/' + build);
    await page.locator('.tree-row').first().waitFor();
  });
  step = 'open the root and one child of it with many children, by keyboard';
  await page.focus('.tree');
  await timed('open_root', async () => {
    await page.keyboard.press('ArrowRight');
    await page.locator('.tree-row[aria-level="2"]').first().waitFor();
  });
  await page.keyboard.press('ArrowDown');
  await timed('open_child', async () => {
    await page.keyboard.press('ArrowRight');
    await page.locator('.tree-row[aria-level="3"]').first().waitFor();
  });
  times.rows_drawn = await page.locator('.tree-row').count();
  assert.ok(times.rows_drawn < 400, 'a virtual list draws what is in view, not ' + times.rows_drawn + ' rows');
  await shot('10-big-tree');
  step = 'the timeline';
  await timed('timeline_first_rows', async () => {
    await page.click('nav.tabs a[data-tab=timeline]');
    await page.locator('.event-row').first().waitFor();
  });
  await timed('timeline_scroll_to_end_of_first_page', async () => {
    await page.locator('.events').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.waitForFunction(() => document.querySelectorAll('.event-row').length > 0 &&
      /\d/.test(document.querySelector('p.status').textContent));
  });
  await shot('11-big-timeline');
}

try {
  const scenario = process.argv[2];
  if (scenario === 'trail') await trail();
  else if (scenario === 'big') await big();
  else throw new Error('scenario: trail or big');
  step = 'no CSP violation, no page error';
  assert.deepEqual(problems, []);
  console.log(JSON.stringify({ok: true, times_ms: times}));
  await browser.close();
} catch (e) {
  await shot('failed-' + process.argv[2]).catch(() => {});
  console.log(JSON.stringify({ok: false, step, error: String(e && e.stack || e), problems, times_ms: times}));
  await browser.close();
  process.exit(1);
}
