// The deployment of tests/tests/deployment.rs in headless Chromium: two instances of the demo
// behind nginx at https://localhost:PORT (a test CA's certificate: the browser ignores the
// certificate error rather than trusting the CA), sessions in Redis, the local tenant over https
// with an auto-approving user:
//
//   a protected page -> the login page -> "Sign in with Microsoft" -> the tenant -> back signed
//   in (callback on the proxy's origin) -> /hello with the session -> the user page reveals and
//   copies a token that the API accepts -> Swagger UI's Authorize (PKCE, redirect on the proxy's
//   origin) and "Try it out" on /hello -> sign out through the tenant's end-session endpoint
//   and back to the app's /login -> /me sends the browser to the login page on each instance
//   (pinned with PIN_HEADER).
//
//   BASE_URL=https://localhost:8443 [PIN_HEADER=x-pin-instance] [UPSTREAM_HEADER=x-upstream] node deployment.mjs
//
// Prints one JSON line on success; exits 1 with the reason (and a screenshot) on failure.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'playwright-core';
import { check, completeSwaggerAuthorize, openBrowser, openSwaggerAuthorize, recordRequests, swaggerTryGet, watchPage } from './browser.mjs';

const base = (process.env.BASE_URL || '').replace(/\/$/, '');
const pinHeader = process.env.PIN_HEADER || 'x-pin-instance';
const upstreamHeader = (process.env.UPSTREAM_HEADER || 'x-upstream').toLowerCase();
const userName = process.env.USER_NAME || 'Alice Example';
const sessionCookie = process.env.SESSION_COOKIE || 'session';
const instances = (process.env.INSTANCES || 'a,b').split(',');
if (!base) {
  console.error('set BASE_URL to the proxy in front of the demo, e.g. https://localhost:8443');
  process.exit(2);
}

// After sign-out, /hello with the old session answers 401 on purpose.
const isExpected = (url, status) => status === 401 && new URL(url).pathname === '/hello';

/** The port of the instance that answered (the last address nginx tried). */
const upstreamPort = (response) => {
  const value = response.headers()[upstreamHeader];
  const last = value ? value.split(/[ ,]+/).filter(Boolean).pop() : undefined;
  return last ? Number(last.split(':').pop()) : undefined;
};

async function steps(context, problems) {
  const page = await context.newPage();
  watchPage(page, problems, isExpected);
  context.on('page', (popup) => popup !== page && watchPage(popup, problems));

  // Which instances served the browser, and what went to the tenant.
  const upstreamPorts = new Set();
  const { authorize: authorizeRequests, token: tokenRequests, logout: logoutRequests, hello: helloRequests } =
    recordRequests(context, base);
  context.on('response', (response) => {
    if (new URL(response.url()).origin === base) {
      const port = upstreamPort(response);
      if (port) {
        upstreamPorts.add(port);
      } else {
        problems.push(`no ${upstreamHeader} header on ${response.url()}: the answer did not come through the proxy`);
      }
    }
  });

  // 1. An anonymous browser on a protected page lands on the login page, target kept.
  await page.goto(base + '/test');
  check(page.url() === base + '/login?redirect=%2Ftest', `expected the login page, got ${page.url()}`);

  // 2. "Sign in with Microsoft": the tenant (auto user) and back through the callback on the
  //    proxy's origin, to the page first asked for.
  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  await page.waitForURL(base + '/test');
  check(authorizeRequests.length === 1, `expected one authorize request, saw ${authorizeRequests.length}`);
  const authorize = authorizeRequests[0];
  check(authorize.origin !== base, 'expected the authorize request to go to the tenant, not the app');
  check(
    authorize.searchParams.get('redirect_uri') === base + '/oauth/aad/redirect',
    `expected the callback on the proxy's origin, got redirect_uri=${authorize.searchParams.get('redirect_uri')}`,
  );
  const signedInAs = (await page.textContent('#user')).trim();
  check(signedInAs === `Signed in as ${userName}`, `expected "Signed in as ${userName}", the page says "${signedInAs}"`);

  const cookies = await context.cookies(base);
  const session = cookies.find((cookie) => cookie.name === sessionCookie);
  check(session, `expected a cookie ${sessionCookie}, got ${cookies.map((c) => c.name).join(', ')}`);
  check(session.secure, 'expected the session cookie to be Secure on the https origin');
  check(session.httpOnly, 'expected the session cookie to be HttpOnly');
  check(session.sameSite === 'Lax', `expected SameSite=Lax on the session cookie, got ${session.sameSite}`);

  // 3. The API accepts the session (allow_session), whichever instance answers.
  for (let i = 0; i < 2; i += 1) {
    const hello = await page.evaluate(async () => {
      const response = await fetch('/hello');
      return { status: response.status, body: await response.text() };
    });
    check(hello.status === 200, `expected /hello with the session to answer 200, got ${hello.status} ${hello.body}`);
  }

  // 4. The user page shows the name, reveals and copies a token.
  await page.goto(base + '/me');
  check((await page.textContent('main')).includes(userName), `expected the user page to show ${userName}`);
  await page.click('#token-toggle');
  await page.waitForFunction(() => document.getElementById('token-value').value.startsWith('eyJ'));
  await page.click('#token-copy');
  await page.waitForFunction(() => document.getElementById('token-status').textContent.includes('copied'));
  const token = await page.evaluate(() => navigator.clipboard.readText());
  check(token === (await page.inputValue('#token-value')), 'expected the clipboard to hold the shown token');

  // The copied token works as a bearer token outside the browser (no cookies), through the proxy.
  const api = await request.newContext({ ignoreHTTPSErrors: true });
  try {
    const bearer = await api.get(base + '/test_auth_decorator?name=e2e', { headers: { Authorization: `Bearer ${token}` } });
    const bearerBody = await bearer.json().catch(() => ({}));
    check(bearer.status() === 200, `expected the copied token to be accepted, got ${bearer.status()} ${JSON.stringify(bearerBody)}`);
    check(bearerBody.caller === userName, `expected the API to name ${userName}, got ${JSON.stringify(bearerBody)}`);
  } finally {
    await api.dispose();
  }

  // 5. Swagger UI: Authorize with PKCE (redirect on the proxy's origin), then "Try it out" on /hello.
  authorizeRequests.length = 0;
  const { scheme } = await openSwaggerAuthorize(page, base);
  await completeSwaggerAuthorize(context, scheme);
  check(authorizeRequests.length === 1, `expected one authorize request from Swagger UI, saw ${authorizeRequests.length}`);
  const swaggerAuthorize = authorizeRequests[0];
  check(
    swaggerAuthorize.searchParams.get('redirect_uri') === base + '/docs/oauth2-redirect',
    `expected Swagger's redirect_uri on the proxy's origin, got ${swaggerAuthorize.searchParams.get('redirect_uri')}`,
  );
  check(swaggerAuthorize.searchParams.get('code_challenge_method') === 'S256', 'expected PKCE with S256');
  const redemption = new URLSearchParams(tokenRequests[tokenRequests.length - 1]?.postData() || '');
  check(redemption.get('grant_type') === 'authorization_code', 'expected Swagger to redeem an authorization code');
  check(redemption.get('code_verifier'), 'expected the code redeemed with a PKCE verifier');

  helloRequests.length = 0;
  const { code, body } = await swaggerTryGet(page, '/hello');
  check(code === '200', `expected Try it out on GET /hello to answer 200, got ${code}: ${body}`);
  check(helloRequests.length === 1, `expected one request to /hello from Swagger UI, saw ${helloRequests.length}`);
  const headers = await helloRequests[0].allHeaders();
  check(/^Bearer eyJ/.test(headers.authorization || ''), 'expected Swagger UI to send a bearer token');

  // 6. Sign out: the confirmation page, POST (Origin: the proxy's), the tenant's end-session
  //    endpoint, and back to the app's login page.
  await page.goto(base + '/logout');
  check((await page.textContent('main')).includes(userName), 'expected the sign-out page to name the user');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.origin === base && url.pathname === '/login');
  const afterLogout = page.url();
  check(logoutRequests.length === 1, `expected the sign-out to pass through the tenant's end-session endpoint once, saw ${logoutRequests.length}`);
  check(
    logoutRequests[0].searchParams.get('post_logout_redirect_uri') === base + '/login',
    `expected post_logout_redirect_uri on the proxy's origin, got ${logoutRequests[0].searchParams.get('post_logout_redirect_uri')}`,
  );
  const signedOut = await page.evaluate(async () => (await fetch('/hello')).status);
  check(signedOut === 401, `expected /hello with the old session to answer 401 after sign-out, got ${signedOut}`);

  // 7. /me sends the browser to the login page on every instance (pinned through the proxy).
  const meAfterLogout = {};
  const meUpstream = {};
  for (const instance of instances) {
    await page.setExtraHTTPHeaders({ [pinHeader]: instance });
    const response = await page.goto(base + '/me');
    const first = response.request().redirectedFrom() ? firstOf(response.request()) : response.request();
    const firstResponse = await first.response();
    meUpstream[instance] = firstResponse ? upstreamPort(firstResponse) : undefined;
    meAfterLogout[instance] = page.url();
    check(
      new URL(page.url()).pathname === '/login',
      `expected /me on ${instance} to send the browser to the login page, it is at ${page.url()}`,
    );
  }
  await page.setExtraHTTPHeaders({});

  return {
    user: signedInAs.replace('Signed in as ', ''),
    token_length: token.length,
    swagger: { status: Number(code), body: JSON.parse(body) },
    after_logout: afterLogout,
    me_after_logout: meAfterLogout,
    me_upstream: meUpstream,
    upstream_ports: [...upstreamPorts].sort(),
  };
}

/** The first request of a redirect chain. */
function firstOf(req) {
  let first = req;
  while (first.redirectedFrom()) {
    first = first.redirectedFrom();
  }
  return first;
}

// As `runScenario` of browser.mjs, with the proxy's certificate (a test CA) accepted.
const problems = [];
const browser = await openBrowser({ ignoreHTTPSErrors: true });
try {
  const result = await steps(browser.context, problems);
  if (problems.length) {
    throw new Error(`the steps passed, but:\n  ${problems.join('\n  ')}`);
  }
  console.log(JSON.stringify({ scenario: 'deployment', ok: true, ...result }));
} catch (error) {
  const pages = browser.context.pages();
  const last = pages[pages.length - 1];
  if (last) {
    const shot = join(tmpdir(), 'aad-auth-deployment-failure.png');
    await last.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`last page: ${last.url()} (screenshot: ${shot})`);
  }
  console.error(`deployment failed: ${error.stack || error}`);
  if (problems.length) {
    console.error(`problems seen:\n  ${problems.join('\n  ')}`);
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
