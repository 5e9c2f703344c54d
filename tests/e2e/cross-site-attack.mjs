// A cross-site request forgery attempt, in headless Chromium against a running demo
// (`examples/basic` on its local tenant, the session cookie Lax):
//
//   sign in on the demo (pick a user on the tenant's page) -> an attack page on another loopback
//   origin, served by this script, tries to add a note with the user's cookie:
//     (a) a form that submits itself: POST /notes, enctype text/plain, the body shaped like JSON
//         `{"text":"pwned-form","x":"="}`;
//     (b) fetch(POST /notes, credentials: 'include') with content-type text/plain (a simple
//         request, sent without a preflight);
//     (c) the same with application/json (preflighted: the browser stops it, the POST is never
//         sent) -> the same note from the demo's own page is added (201), and GET /notes lists
//         only it.
//
// The attack page runs twice: from `http://127.0.0.1:<port>`, a same-site sibling of the demo
// (the Lax cookie IS sent, so only the app's Origin / Sec-Fetch-Site check stops it: 403
// cross_origin_request), and from `http://localhost:<port>`, another site (the Lax cookie is not
// sent: 401 or 403).
//
//   BASE_URL=http://127.0.0.1:8000 [USER_NAME="Alice Example"] node cross-site-attack.mjs
//
// Prints one JSON line on success; exits 1 with the reason (and a screenshot) on failure.

import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';

import { check, runScenario, watchPage } from './browser.mjs';

const base = (process.env.BASE_URL || '').replace(/\/$/, '');
const userName = process.env.USER_NAME || 'Alice Example';
const sessionCookie = process.env.SESSION_COOKIE || 'session';
if (!base) {
  console.error('set BASE_URL to the running demo, e.g. http://127.0.0.1:8000');
  process.exit(2);
}
const notesUrl = base + '/notes';
// The library's description of a 403 cross_origin_request (its HTML error page shows only this).
const CROSS_ORIGIN_DESCRIPTION = 'This request changes state with the session cookie but does not come from this site.';

// The attack page: `/form` submits itself to the demo's /notes; any other path is an empty page
// to run fetch() from. text/plain form encoding sends `name=value\r\n`, so this name and value
// make a body that parses as JSON.
const formPage = `<!doctype html><title>win a prize</title>
<form method="POST" enctype="text/plain" action="${notesUrl}">
<input type="hidden" name='{"text":"pwned-form","x":"' value='"}'>
</form>
<script>document.forms[0].submit()</script>`;

function serveAttackPage() {
  const server = createServer((request, response) => {
    const html = request.url === '/form' ? formPage : '<!doctype html><title>nothing to see</title><p>hello';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// What the attack page provokes on purpose: the demo refusing it, and the browser stopping the
// responses it may not read (CORS) and the preflighted request.
const isExpected = (url, status) =>
  url === notesUrl && ([401, 403].includes(status) || ['cors', 'net::ERR_FAILED'].includes(status));

// What reaches the demo's /notes from `page`, and its answers, seen through the DevTools protocol:
// Playwright reports no response for a fetch whose answer CORS hides from the page, but the
// Fetch domain pauses every response before the page's CORS check and can read its body. The
// headers are the ones sent on the wire (Network's extra info: the cookie, Sec-Fetch-Site,
// Origin). `next(method, origin)` waits for the next answer to such a request.
async function tapNotes(context, page) {
  const cdp = await context.newCDPSession(page);
  const wire = new Map();
  cdp.on('Network.requestWillBeSentExtraInfo', (event) => wire.set(event.requestId, event.headers));
  await cdp.send('Network.enable');
  const answers = [];
  const waiters = [];
  cdp.on('Fetch.requestPaused', async (event) => {
    let body = null;
    try {
      const got = await cdp.send('Fetch.getResponseBody', { requestId: event.requestId });
      body = got.base64Encoded ? Buffer.from(got.body, 'base64').toString() : got.body;
    } catch {
      // No body (a 401 without one).
    }
    const answer = {
      networkId: event.networkId,
      method: event.request.method,
      origin: event.request.headers.Origin || null,
      status: event.responseStatusCode,
      content_type: (event.responseHeaders || []).find((h) => h.name.toLowerCase() === 'content-type')?.value || null,
      body,
      sent_body: event.request.postData || null,
    };
    answers.push(answer);
    await cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => {});
    for (const waiter of waiters.splice(0)) {
      waiter();
    }
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: notesUrl, requestStage: 'Response' }] });

  // The request's headers as sent; a lookup that ignores case.
  const headersOf = (answer) => {
    const headers = Object.fromEntries(Object.entries(wire.get(answer.networkId) || {}).map(([k, v]) => [k.toLowerCase(), v]));
    const cookies = (headers.cookie || '').split(';').map((pair) => pair.split('=')[0].trim());
    return { sec_fetch_site: headers['sec-fetch-site'] || null, cookie_sent: cookies.includes(sessionCookie) };
  };
  // The answer, with the error's code from a JSON body, or from an HTML error page (what the
  // library shows a browser's navigation) its description.
  const report = (answer) => {
    const result = { method: answer.method, origin: answer.origin, status: answer.status, ...headersOf(answer) };
    if (/json/.test(answer.content_type || '')) {
      result.body = JSON.parse(answer.body);
    } else if (/html/.test(answer.content_type || '')) {
      result.page = /<p class="description">([^<]*)<\/p>/.exec(answer.body || '')?.[1] ?? answer.body;
    } else {
      result.body = answer.body;
    }
    return result;
  };
  return {
    answers,
    report,
    async next(method, origin, timeout = 15_000) {
      const from = answers.length;
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = answers.slice(from).find((answer) => answer.method === method && answer.origin === origin);
        if (found) {
          return found;
        }
        const left = deadline - Date.now();
        check(left > 0, `no answer to a ${method} of /notes from ${origin} within ${timeout} ms`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

// The three attempts from `origin`'s attack page.
async function attack(page, tap, origin) {
  // (b) and (c): fetch() from the attack page; the browser hides the answers from the page, and
  // sends the preflighted POST only if the preflight allows it.
  await page.goto(origin + '/');
  const seenBefore = tap.answers.length;
  const [simple, fetches] = await Promise.all([
    tap.next('POST', origin),
    page.evaluate(async (url) => {
      const attempt = async (contentType, text) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': contentType },
            body: JSON.stringify({ text }),
          });
          return { readable: true, status: response.status };
        } catch (error) {
          return { readable: false, error: `${error.name}: ${error.message}` };
        }
      };
      return { simple: await attempt('text/plain', 'pwned-fetch'), preflighted: await attempt('application/json', 'pwned-json') };
    }, notesUrl),
  ]);
  // Both fetches have settled in the page, so whatever they sent has been answered.
  const fetchAnswers = tap.answers.slice(seenBefore);
  // (a) the form that submits itself: a top-level navigation to the demo.
  const [form] = await Promise.all([tap.next('POST', origin), page.goto(origin + '/form')]);
  await page.waitForURL(notesUrl);
  return {
    form: { ...tap.report(form), sent_body: form.sent_body },
    simple_fetch: { ...tap.report(simple), in_page: fetches.simple },
    preflighted_fetch: {
      in_page: fetches.preflighted,
      preflight: fetchAnswers.filter((answer) => answer.method === 'OPTIONS').map((answer) => answer.status),
      posts_sent: fetchAnswers.filter((answer) => answer.method === 'POST' && answer !== simple).length,
    },
  };
}

await runScenario('cross-site-attack', async (context, problems) => {
  const servers = [await serveAttackPage(), await serveAttackPage()];
  try {
    const origins = {
      same_site: `http://127.0.0.1:${servers[0].address().port}`,
      cross_site: `http://localhost:${servers[1].address().port}`,
    };
    const page = await context.newPage();
    watchPage(page, problems, isExpected);
    const tap = await tapNotes(context, page);

    // 1. Sign in on the demo: the tenant's account picker, back on the protected page.
    await page.goto(base + '/test');
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await page.getByRole('button', { name: new RegExp(userName) }).click();
    await page.waitForURL(base + '/test');
    check((await page.textContent('#user')).trim() === `Signed in as ${userName}`, 'not signed in');
    const session = (await context.cookies(base)).find((cookie) => cookie.name === sessionCookie);
    check(session?.sameSite === 'Lax', `the session cookie's SameSite is ${session?.sameSite}`);

    // 2. The attack pages.
    const attacks = {};
    for (const [name, origin] of Object.entries(origins)) {
      attacks[name] = { origin, ...(await attack(page, tap, origin)) };
    }
    for (const [name, result] of Object.entries(attacks)) {
      const { form, simple_fetch: simple, preflighted_fetch: preflighted } = result;
      for (const [what, response] of [['form POST', form], ['simple fetch', simple]]) {
        // The same-site sibling gets the Lax cookie along, so only the app's check stops it.
        check(response.cookie_sent === (name === 'same_site'), `${name} ${what}: cookie sent: ${response.cookie_sent}`);
        if (response.cookie_sent) {
          // The JSON error to fetch(); to the form's navigation, the HTML page of the same error.
          const refused = response.body?.error === 'cross_origin_request' || response.page === CROSS_ORIGIN_DESCRIPTION;
          check(response.status === 403 && refused, `${name} ${what}: ${JSON.stringify(response)}`);
        } else {
          check([401, 403].includes(response.status), `${name} ${what}: ${JSON.stringify(response)}`);
        }
      }
      check(!simple.in_page.readable, `${name}: the attack page read the answer to its fetch: ${JSON.stringify(simple.in_page)}`);
      check(!preflighted.in_page.readable && preflighted.in_page.error.startsWith('TypeError'), `${name}: the preflighted fetch: ${JSON.stringify(preflighted.in_page)}`);
      check(preflighted.posts_sent === 0, `${name}: the preflighted POST was sent`);
    }

    // 3. The same action from the demo's own page succeeds, and only it is there.
    await page.goto(base + '/');
    const ownAnswer = tap.next('POST', base);
    const own = await page.evaluate(async () => {
      const post = await fetch('/notes', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'from the app' }),
      });
      const posted = { status: post.status, body: await post.json() };
      const list = await fetch('/notes');
      return { post: posted, list: { status: list.status, body: await list.json() } };
    });
    check(own.post.status === 201, `POST /notes from the app: ${own.post.status} ${JSON.stringify(own.post.body)}`);
    check(own.list.status === 200, `GET /notes: ${own.list.status}`);
    // (A fresh demo has only this one; the test asserts that.)
    const notes = own.list.body.notes;
    check(notes.at(-1) === 'from the app' && !notes.some((note) => note.includes('pwned')), `the notes are ${JSON.stringify(notes)}`);

    const { status, sec_fetch_site: ownSite, cookie_sent: ownCookie } = tap.report(await ownAnswer);
    return { attacks, own_post: { status, sec_fetch_site: ownSite, cookie_sent: ownCookie }, notes };
  } finally {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
});
