// The user's side of the relying-party scripts (interop.mjs, register.mjs):
// a browser played with fetch. It keeps the provider's cookies, follows
// redirects by hand while they stay on the provider, and posts its login
// and consent forms as a user would. Plus the scripts' small helpers.

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

export function ok(step) {
  console.log(`ok - ${step}`);
}

function unescapeHTML(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, e) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[e.toLowerCase()]) return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

// formOf returns the action and the named inputs of the page's first form.
function formOf(page) {
  const m = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
  if (!m) throw new Error(`no form on ${page.url} (status ${page.status}):\n${page.body}`);
  const fields = {};
  for (const input of m[2].match(/<input[^>]*>/gi) ?? []) {
    const attrs = Object.fromEntries([...input.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, unescapeHTML(v)]));
    if (attrs.name && attrs.type !== 'password') fields[attrs.name] = attrs.value ?? '';
  }
  return { action: new URL(unescapeHTML(m[1]), page.url), fields };
}
const isLogin = (page) => page.body?.includes('name="password"');
const isConsent = (page) => page.body?.includes('name="decision"');

// browser returns a fresh browser (its own cookie jar) for the provider at
// issuer, signing in as user ({ username, password }).
export function browser(issuer, user) {
  const jar = new Map();
  function storeCookies(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
  }
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

  // navigate loads url (GET, or POST with form) and follows redirects while
  // they stay on the provider. It returns { redirect } when the provider
  // sends the browser elsewhere (to the client), else { status, url, body }.
  async function navigate(url, form) {
    let target = new URL(url);
    let init = form ? { method: 'POST', body: new URLSearchParams(form) } : { method: 'GET' };
    for (let hop = 0; hop < 10; hop++) {
      const headers = { cookie: cookieHeader() };
      if (init.method === 'POST') {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        headers.origin = issuer.origin; // a browser names the page's origin
      }
      const res = await fetch(target, { ...init, headers, redirect: 'manual' });
      storeCookies(res);
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location'), target);
        await res.arrayBuffer();
        if (next.origin !== issuer.origin) return { redirect: next };
        target = next;
        init = { method: 'GET' };
        continue;
      }
      return { status: res.status, url: target, body: await res.text() };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  // signIn plays the user from an authorization URL back to the client:
  // login (if asked), consent (if asked). It returns the redirect and which
  // pages were shown.
  async function signIn(url, { interact = true } = {}) {
    const shown = [];
    let step = await navigate(url);
    for (let i = 0; i < 4 && !step.redirect; i++) {
      if (isLogin(step)) {
        shown.push('login');
        if (!interact) break;
        const { action, fields } = formOf(step);
        step = await navigate(action, { ...fields, username: user.username, password: user.password });
      } else if (isConsent(step)) {
        shown.push('consent');
        if (!interact) break;
        const { action, fields } = formOf(step);
        step = await navigate(action, { ...fields, decision: 'allow' });
      } else {
        break;
      }
    }
    if (!step.redirect) throw new Error(`no redirect to the client after ${shown}: ${step.status} at ${step.url}\n${step.body}`);
    return { redirect: step.redirect, shown };
  }

  return { navigate, signIn };
}
