// Incremental consent, end to end in headless Chromium against a running demo (`examples/basic`
// on its local tenant, no auto user), whose dev apps start without consent to Microsoft Graph:
//
//   open /me/graph -> the login page -> pick a user on the tenant's page -> back on /me/graph,
//   whose Graph token needs consent to User.Read -> through the login again, asking the tenant
//   for User.Read (the tenant's single sign-on session signs the user in without the picker and
//   records the consent, where Entra would show its consent screen) -> back on /me/graph, which
//   shows the user's Graph profile -> a reload is answered from the kept token, without the
//   tenant.
//
//   BASE_URL=http://127.0.0.1:8000 [USER_NAME="Alice Example"] node incremental-consent.mjs
//
// Prints one JSON line on success; exits 1 with the reason (and a screenshot) on failure.

import { check, runScenario, watchPage } from './browser.mjs';

const base = (process.env.BASE_URL || '').replace(/\/$/, '');
const userName = process.env.USER_NAME || 'Alice Example';
if (!base) {
  console.error('set BASE_URL to the running demo, e.g. http://127.0.0.1:8000');
  process.exit(2);
}

await runScenario('incremental-consent', async (context, problems) => {
  const page = await context.newPage();
  watchPage(page, problems, () => false);
  const authorizeScopes = [];
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'GET' && url.pathname.endsWith('/oauth2/v2.0/authorize')) {
      authorizeScopes.push(url.searchParams.get('scope') || '');
    }
  });

  // 1. Anonymous: the login page, then the tenant's picker.
  await page.goto(base + '/me/graph');
  check(page.url() === base + '/login?redirect=%2Fme%2Fgraph', `expected the login page, got ${page.url()}`);
  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  await page.waitForURL((url) => url.pathname.endsWith('/oauth2/v2.0/authorize'));
  await page.getByRole('button', { name: new RegExp(userName) }).click();

  // 2. Signed in, /me/graph needs consent to User.Read: the app sends the browser to the tenant
  //    again, asking for it, and the tenant's session brings it straight back.
  await page.waitForURL((url) => url.origin === base && url.pathname === '/me/graph' && authorizeScopes.length === 2);
  const consent = authorizeScopes[1].split(' ');
  check(consent.some((scope) => scope.endsWith('/User.Read')), `the second authorize asks for ${authorizeScopes[1]}`);
  check(!authorizeScopes[0].includes('User.Read'), `the first login already asked for User.Read: ${authorizeScopes[0]}`);

  // 3. Back on the page, which shows the Graph profile.
  await page.waitForURL((url) => url.origin === base && url.pathname === '/me/graph');
  await page.waitForSelector('#displayName');
  const displayName = (await page.textContent('#displayName')).trim();
  const upn = (await page.textContent('#userPrincipalName')).trim();
  check(displayName === userName, `the page shows "${displayName}"`);
  check(upn.includes('@'), `no user principal name: "${upn}"`);

  // 4. A reload: the kept token, no trip to the tenant.
  await page.reload();
  await page.waitForSelector('#displayName');
  check(page.url() === base + '/me/graph', `the reload went to ${page.url()}`);
  check(authorizeScopes.length === 2, `${authorizeScopes.length} trips to the tenant's authorize endpoint`);

  return { display_name: displayName, user_principal_name: upn, authorize_scopes: authorizeScopes };
});
