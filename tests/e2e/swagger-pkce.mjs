// Swagger UI's sign-in, end to end in headless Chromium against a running demo
// (`examples/basic` on its local tenant with an auto-approving user):
//
//   /docs -> Authorize -> the `entra_id` scheme (client id and scopes prefilled, PKCE) -> the
//   tenant's authorize page in a popup -> /docs/oauth2-redirect -> Swagger redeems the code at
//   the tenant's token endpoint (CORS) -> "Try it out" on GET /hello -> 200 {"hello":"world"},
//   sent with a bearer token (no session cookie in this browser).
//
//   BASE_URL=http://127.0.0.1:8000 node swagger-pkce.mjs
//
// Prints one JSON line on success; exits 1 with the reason (and a screenshot) on failure.

import { check, completeSwaggerAuthorize, openSwaggerAuthorize, recordRequests, runScenario, swaggerTryGet, watchPage } from './browser.mjs';

const base = (process.env.BASE_URL || '').replace(/\/$/, '');
const sessionCookie = process.env.SESSION_COOKIE || 'session';
if (!base) {
  console.error('set BASE_URL to the running demo, e.g. http://127.0.0.1:8000');
  process.exit(2);
}

await runScenario('swagger-pkce', async (context, problems) => {
  const page = await context.newPage();
  watchPage(page, problems);
  context.on('page', (popup) => watchPage(popup, problems));

  // Every request Swagger makes to the tenant and to the API, to check what it sent.
  const { token: tokenRequests, authorize: authorizeRequests, hello: helloRequests } = recordRequests(context, base);

  // 1. Authorize with the OAuth2 scheme; the client id comes from the server's initOAuth.
  const { scheme, clientId } = await openSwaggerAuthorize(page, base);
  // The configured login scope (`{client id}/.default`, initOAuth) is preselected; the scopes
  // that guards require (`/hello`'s user_impersonation) are listed but not: Entra refuses
  // `.default` together with a named scope of the same resource.
  const scopeBoxes = scheme.locator('.scopes input[type=checkbox]');
  check((await scopeBoxes.count()) > 1, 'the scheme lists the login scope and the guards\' scopes');
  for (let i = 0; i < (await scopeBoxes.count()); i += 1) {
    const box = scopeBoxes.nth(i);
    const scope = (await scheme.locator(`label[for="${await box.getAttribute('id')}"]`).textContent()) || '';
    const expected = scope.includes(`${clientId}/.default`);
    check((await box.isChecked()) === expected, `scope "${scope}" preselected: ${!expected}`);
  }
  await completeSwaggerAuthorize(context, scheme);

  check(authorizeRequests.length === 1, `${authorizeRequests.length} authorize requests`);
  const authorize = authorizeRequests[0];
  check(authorize.searchParams.get('client_id') === clientId, 'the authorize request has another client id');
  check(authorize.searchParams.get('code_challenge_method') === 'S256', 'Swagger did not use PKCE S256');
  check(authorize.searchParams.get('redirect_uri') === base + '/docs/oauth2-redirect', 'unexpected redirect_uri');
  check(tokenRequests.length === 1, `${tokenRequests.length} token requests`);
  const redemption = new URLSearchParams(tokenRequests[0].postData() || '');
  check(redemption.get('grant_type') === 'authorization_code', 'the token request is not a code redemption');
  check(redemption.get('code_verifier'), 'the code was redeemed without a PKCE verifier');
  check(!redemption.get('client_secret'), 'Swagger sent a client secret');

  // 2. "Try it out" on GET /hello.
  const { code, body } = await swaggerTryGet(page, '/hello');
  check(code === '200', `GET /hello answered ${code}: ${body}`);
  check(JSON.stringify(JSON.parse(body)) === '{"hello":"world"}', `unexpected body ${body}`);

  // 3. It was the token that authorised the call: a bearer header, and no session cookie.
  check(helloRequests.length === 1, `${helloRequests.length} requests to /hello`);
  const headers = await helloRequests[0].allHeaders();
  check(/^Bearer eyJ/.test(headers.authorization || ''), 'Swagger did not send a bearer token');
  // (The tenant's own cookie may go along: cookies are per host, and both run on 127.0.0.1.)
  const cookieNames = (headers.cookie || '').split(';').map((pair) => pair.split('=')[0].trim());
  check(!cookieNames.includes(sessionCookie), `the app's session cookie went along: ${cookieNames}`);

  return { status: Number(code), body: JSON.parse(body), client_id: clientId };
});
