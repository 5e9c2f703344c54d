// Shared by the browser scripts: the system's Chromium driven by playwright-core (no browser
// download), and a watcher that turns console errors, page errors, CSP violations, failed
// requests and unexpected HTTP errors into a list of problems.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** The Chromium binary: `CHROMIUM`, default the Debian package's `/usr/bin/chromium`. */
export const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

/** Headless, sandbox-free (CI runs as root), and nothing that calls the internet. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-proxy-server',
];

/**
 * A fresh browser profile (no cookies from another run) with clipboard access; `close()` ends
 * the browser and deletes the profile.
 */
export async function openBrowser(options = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'aad-auth-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
    locale: 'en-GB',
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Records what goes wrong on `page` (and on pages it opens) in `problems`. `isExpected(url,
 * status)` excuses HTTP errors a step provokes on purpose (a 401 after sign-out); for a request
 * the browser itself stops, it is asked with the error instead of a number: `'cors'` for the
 * console's "blocked by CORS policy", or the network error (`'net::ERR_FAILED'`).
 */
export function watchPage(page, problems, isExpected = () => false) {
  const label = () => new URL(page.url() || 'about:blank').pathname;
  page.on('console', (message) => {
    if (message.type() !== 'error') {
      return;
    }
    const failed = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text());
    if (failed && isExpected(message.location().url, Number(failed[1]))) {
      return;
    }
    const networkError = /^Failed to load resource: (net::[A-Z_]+)/.exec(message.text());
    if (networkError && isExpected(message.location().url, networkError[1])) {
      return;
    }
    const cors = /^Access to \w+ at '([^']+)' from origin '[^']+' has been blocked by CORS policy/.exec(message.text());
    if (cors && isExpected(cors[1], 'cors')) {
      return;
    }
    problems.push(`${label()}: console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`${label()}: page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`${label()}: JavaScript dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on('requestfailed', (request) => {
    // A navigation that a redirect or a newer navigation replaces is aborted, not failed.
    const error = request.failure()?.errorText;
    if (error !== 'net::ERR_ABORTED' && !isExpected(request.url(), error)) {
      problems.push(`${label()}: request failed: ${request.url()} ${error}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !isExpected(response.url(), response.status())) {
      problems.push(`${label()}: HTTP ${response.status()} for ${response.url()}`);
    }
  });
  // A popup may close before this lands; its own errors are still reported above.
  page
    .addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
      });
    })
    .catch(() => {});
}

/** Throws with `message` unless `condition` holds. */
// Records the browser's requests that scenarios assert on: the tenant's authorize, token and
// end-session endpoints, and the app's `/hello` (on `base`). Each list can be emptied between
// steps (`list.length = 0`).
export function recordRequests(context, base) {
  const seen = { authorize: [], token: [], logout: [], hello: [] };
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith('/oauth2/v2.0/authorize')) {
      seen.authorize.push(url);
    } else if (url.pathname.endsWith('/oauth2/v2.0/token')) {
      seen.token.push(request);
    } else if (url.pathname.endsWith('/oauth2/v2.0/logout')) {
      seen.logout.push(url);
    } else if (url.origin === base && url.pathname === '/hello') {
      seen.hello.push(request);
    }
  });
  return seen;
}

// Opens Swagger UI's Authorize dialog at `base + '/docs/'`; returns the Entra ID scheme's part of
// it and the client id the server configured (initOAuth).
export async function openSwaggerAuthorize(page, base) {
  await page.goto(base + '/docs/');
  await page.waitForSelector('.swagger-ui .opblock');
  await page.click('.swagger-ui .auth-wrapper button.authorize');
  const modal = page.locator('.swagger-ui .dialog-ux');
  await modal.waitFor();
  const scheme = modal.locator('.auth-container').filter({ hasText: 'entra_id' });
  const clientId = await scheme.locator('input[data-name="clientId"]').inputValue();
  check(clientId.length > 0, 'expected Swagger UI to have a client id (initOAuth)');
  return { scheme, clientId };
}

// Clicks Authorize in the dialog and waits for the sign-in popup to hand the code back and close
// itself (an auto-approving user completes at once), then closes the dialog.
export async function completeSwaggerAuthorize(context, scheme) {
  const [popup] = await Promise.all([
    context.waitForEvent('page'),
    scheme.locator('button.authorize', { hasText: 'Authorize' }).click(),
  ]);
  await scheme.locator('button', { hasText: 'Logout' }).waitFor({ timeout: 30_000 });
  check(popup.isClosed(), `expected the sign-in popup to close itself, it is at ${popup.url()}`);
  await scheme.locator('button.btn-done').click();
}

// Swagger UI's "Try it out" on `GET path`: opens the operation, turns "Try it out" on when the
// page has not already (the demo sets `tryItOutEnabled`), executes, and returns the status code
// and body shown.
export async function swaggerTryGet(page, path) {
  const operation = page.locator('.opblock-get').filter({ has: page.locator(`[data-path="${path}"]`) });
  await operation.locator('.opblock-summary').click();
  const tryItOut = operation.locator('button.try-out__btn', { hasText: 'Try it out' });
  if (await tryItOut.count()) {
    await tryItOut.click();
  }
  await operation.locator('button.execute').click();
  const status = operation.locator('.live-responses-table .response .response-col_status');
  await status.waitFor({ timeout: 30_000 });
  const code = (await status.textContent()).trim();
  const body = (await operation.locator('.live-responses-table .response-col_description pre').first().textContent()).trim();
  return { code, body };
}

export function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/**
 * Runs `steps(context)` in a fresh browser and exits 0 with its result as one JSON line, or 1
 * with the error, the problems seen, and a screenshot of the last page in `tmpdir()`.
 */
export async function runScenario(name, steps) {
  const problems = [];
  const browser = await openBrowser();
  try {
    const result = await steps(browser.context, problems);
    if (problems.length) {
      throw new Error(`the steps passed, but:\n  ${problems.join('\n  ')}`);
    }
    console.log(JSON.stringify({ scenario: name, ok: true, ...result }));
  } catch (error) {
    const pages = browser.context.pages();
    const last = pages[pages.length - 1];
    if (last) {
      const shot = join(tmpdir(), `aad-auth-${name}-failure.png`);
      await last.screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.error(`last page: ${last.url()} (screenshot: ${shot})`);
    }
    console.error(`${name} failed: ${error.stack || error}`);
    if (problems.length) {
      console.error(`problems seen:\n  ${problems.join('\n  ')}`);
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
