// The login form: posts {"user","password"} as JSON to /ui/login (a body no
// cross-site form can send; the server also checks the Origin), then goes
// where the user was going -- one of our own paths only.
const form = document.getElementById('login');
const message = document.getElementById('message');

function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/ui/';
  return next.startsWith('/ui/') && !next.startsWith('//') && !next.includes('\\') ? next : '/ui/';
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  message.textContent = '';
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const r = await fetch('/ui/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({user: form.elements.user.value, password: form.elements.password.value}),
    });
    if (r.ok) {
      location.replace(nextPath());
      return;
    }
    const body = await r.json().catch(() => ({}));
    const said = body.error ? body.error.charAt(0).toUpperCase() + body.error.slice(1) + '.' : '';
    message.textContent = r.status === 401 ? 'Wrong user name or password.' : said || 'Cannot log in now.';
    message.dataset.status = String(r.status);
  } catch (err) {
    message.textContent = 'Cannot reach the collector: ' + err.message;
  } finally {
    button.disabled = false;
    form.elements.password.value = '';
    form.elements.password.focus();
  }
});
