// Screenshots every page of the login UI preview (examples/ui_preview) at desktop and phone
// widths, exercises the user page's token controls and the sign-out form, and fails on any
// console error, page error, CSP violation, failed request or JavaScript dialog.
//
//   node screenshot-pages.mjs [OUT_DIR]        (default /tmp/aad-auth-screens)
//
// PREVIEW_URL=http://127.0.0.1:8765 uses a running preview; without it the script builds and
// starts one (target/debug/examples/ui_preview, on a free port) and stops it at the end.
// The browser is the system's Chromium (CHROMIUM, default /usr/bin/chromium), driven by
// playwright-core: no browser is downloaded.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, executablePath } from './browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const outDir = resolve(process.argv[2] || '/tmp/aad-auth-screens');

const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
];

const XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>';

// name, path, the document's status (default 200), other responses expected to fail
// (`expected`: url pattern and status), text that must appear verbatim, and an action run
// before the screenshot.
const PAGES = [
  { name: 'login', path: '/login' },
  { name: 'login-error', path: '/login?error=' + encodeURIComponent('Sign-in was cancelled. Try again.') },
  {
    name: 'login-explanation',
    path:
      '/login?explanation=' +
      encodeURIComponent('Access is limited to Contoso employees. Contact the service desk if you cannot sign in.') +
      '&copyright=' +
      encodeURIComponent('© 2026 Contoso Ltd.'),
  },
  { name: 'login-xss', path: '/login?error=' + encodeURIComponent(XSS), expectText: XSS },
  { name: 'me', path: '/me' },
  { name: 'me-token', path: '/me', action: revealAndCopyToken },
  { name: 'me-guest-overage', path: '/me?guest&overage', expectText: 'Overage: too many groups to list' },
  { name: 'me-app', path: '/me?app', expectText: 'App-only' },
  {
    name: 'me-expired',
    path: '/me?expired',
    action: expiredSessionRedirects,
    expected: [{ url: /\/me\/token\?expired$/, status: 401 }],
  },
  { name: 'error', path: '/error', status: 400 },
  {
    name: 'error-xss',
    path: '/error?status=502&error_description=' + encodeURIComponent(XSS),
    status: 502,
    expectText: XSS,
  },
  { name: 'not-found', path: '/no-such-page', status: 404 },
  { name: 'logout', path: '/logout' },
  { name: 'signed-out', path: '/logout', action: signOut },
];

async function revealAndCopyToken(page) {
  await page.click('#token-toggle');
  await page.waitForFunction(() => document.getElementById('token-value').value.startsWith('eyJ'));
  const expiry = await page.textContent('#token-expiry');
  if (!/^Expires /.test(expiry)) {
    throw new Error(`expiry not shown: "${expiry}"`);
  }
  if ((await page.textContent('#token-toggle')) !== 'Hide token') {
    throw new Error('toggle did not switch to "Hide token"');
  }
  await page.click('#token-copy');
  await page.waitForFunction(() => document.getElementById('token-status').textContent.includes('copied'));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const shown = await page.inputValue('#token-value');
  if (copied !== shown) {
    throw new Error('the clipboard does not hold the token');
  }
  // Hide and show again: masked, then the same token.
  await page.click('#token-toggle');
  if ((await page.inputValue('#token-value')).startsWith('eyJ')) {
    throw new Error('hiding did not mask the token');
  }
  await page.click('#token-toggle');
  await page.waitForFunction(() => document.getElementById('token-value').value.startsWith('eyJ'));
}

async function expiredSessionRedirects(page) {
  await Promise.all([page.waitForURL(/\/login\?redirect=%2Fme$/), page.click('#token-toggle')]);
}

async function signOut(page) {
  await Promise.all([page.waitForURL(/\/signed-out$/), page.click('form[method="post"] button[type="submit"]')]);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitFor(url, child, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`the preview server exited with ${child.exitCode}`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

async function startPreview() {
  if (process.env.PREVIEW_URL) {
    const base = process.env.PREVIEW_URL.replace(/\/$/, '');
    await waitFor(base + '/login', null, 30);
    return { base, stop: () => {} };
  }
  console.log('building examples/ui_preview ...');
  const build = spawnSync('cargo', ['build', '--quiet', '--example', 'ui_preview'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    throw new Error('cargo build --example ui_preview failed');
  }
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target');
  const binary = join(targetDir, 'debug', 'examples', 'ui_preview');
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found`);
  }
  const port = await freePort();
  const child = spawn(binary, [], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), RUST_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(base + '/login', child, 60);
  return {
    base,
    stop: () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
      }
    },
  };
}

async function run() {
  mkdirSync(outDir, { recursive: true });
  const preview = await startPreview();
  const problems = [];
  const shots = [];
  try {
    for (const device of VIEWPORTS) {
      const userDataDir = mkdtempSync(join(tmpdir(), 'aad-auth-chromium-'));
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: device.viewport,
        deviceScaleFactor: device.deviceScaleFactor,
        isMobile: device.isMobile,
        hasTouch: device.hasTouch,
        permissions: ['clipboard-read', 'clipboard-write'],
        locale: 'en-GB',
        timezoneId: 'Europe/London',
      });
      try {
        for (const spec of PAGES) {
          const label = `${spec.name} (${device.name})`;
          const page = await context.newPage();
          const pageProblems = [];
          const documentUrl = preview.base + spec.path;
          // A 4xx/5xx the page is meant to get (the error page itself, the 401 of an ended
          // session) is not a problem, nor is Chromium's console line about it.
          const isExpected = (url, status) =>
            (url === documentUrl && status === (spec.status || 200)) ||
            (spec.expected || []).some((e) => e.url.test(url) && e.status === status);
          page.on('console', (message) => {
            if (message.type() !== 'error' && message.type() !== 'warning') {
              return;
            }
            const failed = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text());
            if (failed && isExpected(message.location().url, Number(failed[1]))) {
              return;
            }
            pageProblems.push(`console ${message.type()}: ${message.text()}`);
          });
          page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
          page.on('dialog', async (dialog) => {
            pageProblems.push(`JavaScript dialog opened: ${dialog.message()}`);
            await dialog.dismiss();
          });
          page.on('requestfailed', (request) =>
            pageProblems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`),
          );
          page.on('response', (response) => {
            if (response.status() >= 400 && !isExpected(response.url(), response.status())) {
              pageProblems.push(`HTTP ${response.status()} for ${response.url()}`);
            }
          });
          await page.addInitScript(() => {
            window.__cspViolations = [];
            document.addEventListener('securitypolicyviolation', (event) => {
              window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
            });
          });
          try {
            const response = await page.goto(documentUrl, { waitUntil: 'networkidle' });
            const expected = spec.status || 200;
            if (response.status() !== expected) {
              pageProblems.push(`status ${response.status()}, expected ${expected}`);
            }
            const csp = response.headers()['content-security-policy'] || '';
            if (!csp.includes("script-src 'self'") || csp.includes('unsafe-inline')) {
              pageProblems.push(`unexpected CSP: "${csp}"`);
            }
            const title = await page.title();
            if (!title || /\bNone\b/.test(title)) {
              pageProblems.push(`bad title: "${title}"`);
            }
            if (spec.expectText && !(await page.textContent('body')).includes(spec.expectText)) {
              pageProblems.push(`text not shown verbatim: ${spec.expectText}`);
            }
            if (spec.action) {
              await spec.action(page);
            }
            await page.waitForLoadState('networkidle');
            const violations = await page.evaluate(() => window.__cspViolations || []);
            pageProblems.push(...violations.map((v) => `CSP violation: ${v}`));
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            if (overflow > 0) {
              pageProblems.push(`horizontal overflow of ${overflow}px`);
            }
            const file = join(outDir, `${spec.name}-${device.name}.png`);
            await page.screenshot({ path: file, fullPage: true });
            shots.push(file);
          } catch (error) {
            pageProblems.push(`failed: ${error.message}`);
          }
          await page.close();
          for (const problem of pageProblems) {
            problems.push(`${label}: ${problem}`);
          }
          console.log(`${pageProblems.length ? 'FAIL' : 'ok  '} ${label}`);
        }
      } finally {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      }
    }
  } finally {
    preview.stop();
  }
  console.log(`\n${shots.length} screenshots in ${outDir}`);
  if (problems.length) {
    console.error(`\n${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('no console errors, CSP violations or failed requests');
  }
}

run().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
