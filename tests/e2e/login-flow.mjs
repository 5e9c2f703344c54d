// The browser login, end to end in headless Chromium against a running demo
// (`examples/basic` on its local tenant, no auto user):
//
//   open a protected page -> the login page -> "Sign in with Microsoft" -> pick a user on the
//   tenant's page -> back on the protected page, signed in -> the user page shows the name and
//   reveals a token that the API accepts -> sign out -> the protected page asks to sign in again.
//
//   BASE_URL=http://127.0.0.1:8000 [USER_NAME="Alice Example"] [SESSION_COOKIE=session] [SAME_SITE=Lax] node login-flow.mjs
//
// SAME_SITE is the session cookie's expected SameSite (`Lax`, or `Strict` for a demo started with
// SESSION_SAME_SITE=strict). Either way the login takes exactly one trip to the tenant's authorize
// endpoint. A Strict cookie is only a real test when the tenant is on another site than the app
// (BASE_URL on `localhost` with the tenant on 127.0.0.1): a Strict cookie is not sent on a
// navigation that the tenant's page started, so a callback that only redirected to the target
// would land there signed out.
//
// Prints one JSON line on success; exits 1 with the reason (and a screenshot) on failure.

import { check, runScenario, watchPage } from './browser.mjs';

const base = (process.env.BASE_URL || '').replace(/\/$/, '');
const userName = process.env.USER_NAME || 'Alice Example';
const sessionCookie = process.env.SESSION_COOKIE || 'session';
const sameSite = process.env.SAME_SITE || 'Lax';
if (!base) {
  console.error('set BASE_URL to the running demo, e.g. http://127.0.0.1:8000');
  process.exit(2);
}

// After sign-out, the page's own check of /me/token answers 401 on purpose.
const isExpected = (url, status) => status === 401 && new URL(url).pathname === '/hello';

await runScenario('login-flow', async (context, problems) => {
  const page = await context.newPage();
  watchPage(page, problems, isExpected);
  // Trips to the tenant: GETs of its authorize endpoint (picking a user there POSTs to it), and
  // how the callback hands over to the target (a redirect, or with Strict a page that refreshes).
  const authorizeRequests = [];
  context.on('request', (request) => {
    if (request.method() === 'GET' && new URL(request.url()).pathname.endsWith('/oauth2/v2.0/authorize')) {
      authorizeRequests.push(request.url());
    }
  });
  const callbacks = [];
  context.on('response', (response) => {
    if (response.url().startsWith(base + '/oauth/aad/redirect')) {
      callbacks.push(response.status());
    }
  });

  // 1. An anonymous browser on a protected page lands on the login page, target kept.
  await page.goto(base + '/test');
  check(page.url() === base + '/login?redirect=%2Ftest', `expected the login page, got ${page.url()}`);

  // 2. "Sign in with Microsoft" leaves for the tenant's account picker (PKCE, state, nonce).
  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  await page.waitForURL((url) => url.pathname.endsWith('/oauth2/v2.0/authorize'));
  const authorize = new URL(page.url());
  check(authorize.origin !== base, 'the account picker should be on the tenant, not the app');
  for (const parameter of ['state', 'nonce', 'code_challenge']) {
    check(authorize.searchParams.get(parameter), `the authorize request has no ${parameter}`);
  }
  check(authorize.searchParams.get('code_challenge_method') === 'S256', 'PKCE is not S256');

  // 3. Pick the user; the callback signs in and returns to the page first asked for.
  await page.getByRole('button', { name: new RegExp(userName) }).click();
  await page.waitForURL((url) => url.origin === base && ['/test', '/login'].includes(url.pathname));
  check(page.url() === base + '/test', `back from the tenant on ${page.url()}, not signed in`);
  const signedInAs = (await page.textContent('#user')).trim();
  check(signedInAs === `Signed in as ${userName}`, `the protected page says "${signedInAs}"`);
  check(authorizeRequests.length === 1, `${authorizeRequests.length} trips to the tenant's authorize endpoint`);

  // The session cookie is HttpOnly, small, and holds no token.
  const cookies = await context.cookies(base);
  const session = cookies.find((cookie) => cookie.name === sessionCookie);
  check(session, `no cookie ${sessionCookie} among ${cookies.map((c) => c.name).join(', ')}`);
  check(session.httpOnly, 'the session cookie is readable from JavaScript');
  check(session.sameSite === sameSite, `the session cookie's SameSite is ${session.sameSite}, expected ${sameSite}`);
  check(session.value.length < 4096 && !session.value.includes('eyJ'), 'the session cookie looks like it holds a token');
  check(!cookies.some((cookie) => cookie.name === `${sessionCookie}_login`), 'the login transaction cookie outlived the callback');

  // 4. The home page greets the user, and the API accepts the session (allow_session).
  await page.goto(base + '/');
  const greeting = (await page.textContent('h1')).trim();
  check(greeting === `Hello, ${userName}`, `the home page says "${greeting}"`);
  const helloWithSession = await page.evaluate(async () => {
    const response = await fetch('/hello');
    return { status: response.status, body: await response.text() };
  });
  check(helloWithSession.status === 200, `/hello with the session answered ${helloWithSession.status}`);

  // 5. The user page shows the name, reveals and copies a token.
  await page.goto(base + '/me');
  check((await page.textContent('main')).includes(userName), 'the user page does not show the name');
  await page.click('#token-toggle');
  await page.waitForFunction(() => document.getElementById('token-value').value.startsWith('eyJ'));
  const expiry = (await page.textContent('#token-expiry')).trim();
  check(/^Expires /.test(expiry), `expiry not shown: "${expiry}"`);
  await page.click('#token-copy');
  await page.waitForFunction(() => document.getElementById('token-status').textContent.includes('copied'));
  const token = await page.evaluate(() => navigator.clipboard.readText());
  check(token === (await page.inputValue('#token-value')), 'the clipboard does not hold the shown token');

  // 6. The copied token works as a bearer token outside the browser, on a bearer-only route.
  const bearer = await fetch(base + '/test_auth_decorator?name=e2e', { headers: { Authorization: `Bearer ${token}` } });
  const bearerBody = await bearer.json();
  check(bearer.status === 200, `the copied token was refused: ${bearer.status} ${JSON.stringify(bearerBody)}`);
  check(bearerBody.caller === userName && bearerBody.hello === 'e2e', `unexpected answer ${JSON.stringify(bearerBody)}`);
  const noToken = await fetch(base + '/test_auth_decorator');
  check(noToken.status === 401, `without a token the API answered ${noToken.status}`);

  // 7. Sign out: GET confirms, POST ends the session here and at the tenant, then comes back.
  await page.goto(base + '/logout');
  check((await page.textContent('main')).includes(userName), 'the sign-out page does not name the user');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.origin === base && !url.pathname.startsWith('/logout'));
  const afterLogout = page.url();
  const signedOut = await page.evaluate(async () => (await fetch('/hello')).status);
  check(signedOut === 401, `/hello with the old session answered ${signedOut} after sign-out`);

  // 8. The protected page asks to sign in again.
  await page.goto(base + '/test');
  check(page.url() === base + '/login?redirect=%2Ftest', `after sign-out /test went to ${page.url()}`);

  check(authorizeRequests.length === 1, `${authorizeRequests.length} trips to the tenant's authorize endpoint in all`);

  return {
    user: signedInAs.replace('Signed in as ', ''),
    same_site: session.sameSite,
    authorize_requests: authorizeRequests.length,
    callback_statuses: callbacks,
    token_length: token.length,
    after_logout: afterLogout,
  };
});
