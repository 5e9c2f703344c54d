// aad-auth user page: reveal, hide and copy the session's access token.
//
// Loaded as a file (the page's Content-Security-Policy forbids inline scripts). The token URL
// comes from the section's data-token-url attribute; the token is fetched only when asked for,
// kept in memory only, and never written into the page while it is hidden.
'use strict';

(function () {
  var section = document.getElementById('token');
  if (!section) {
    return;
  }
  var tokenUrl = section.getAttribute('data-token-url');
  var field = document.getElementById('token-value');
  var toggle = document.getElementById('token-toggle');
  var copyButton = document.getElementById('token-copy');
  var expiry = document.getElementById('token-expiry');
  var status = document.getElementById('token-status');
  if (!tokenUrl || !field || !toggle || !copyButton || !expiry || !status) {
    return;
  }

  var MASK = field.value;
  var token = null; // {accessToken, expiresAt (ms since epoch) or null}
  var shown = false;
  var statusTimer = null;

  function setStatus(message, isError) {
    if (statusTimer) {
      clearTimeout(statusTimer);
      statusTimer = null;
    }
    status.textContent = message;
    status.classList.toggle('is-error', Boolean(isError));
  }

  function flash(message) {
    setStatus(message, false);
    statusTimer = setTimeout(function () {
      setStatus('', false);
    }, 2500);
  }

  // Only a same-origin URL is followed (the login route with its redirect parameter).
  function sameOrigin(url) {
    if (typeof url !== 'string' || url === '') {
      return null;
    }
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.origin === window.location.origin ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function expiryTime(data) {
    var on = Number(data.expires_on);
    if (Number.isFinite(on) && on > 0) {
      return on * 1000;
    }
    var inSeconds = Number(data.expires_in);
    if (Number.isFinite(inSeconds) && inSeconds > 0) {
      return Date.now() + inSeconds * 1000;
    }
    return null;
  }

  function isExpired() {
    return token !== null && token.expiresAt !== null && token.expiresAt <= Date.now();
  }

  function showExpiry() {
    if (token === null || token.expiresAt === null) {
      expiry.textContent = '';
      return;
    }
    var at = new Date(token.expiresAt);
    var when = at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    var minutes = Math.round((token.expiresAt - Date.now()) / 60000);
    if (minutes <= 0) {
      expiry.textContent = 'Expired at ' + when;
    } else if (minutes < 120) {
      expiry.textContent = 'Expires ' + when + ' (in ' + minutes + ' min)';
    } else {
      expiry.textContent = 'Expires ' + when;
    }
    expiry.setAttribute('title', at.toString());
  }

  async function load() {
    if (token !== null && !isExpired()) {
      return token;
    }
    var response;
    try {
      response = await fetch(tokenUrl, {
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { Accept: 'application/json' },
      });
    } catch (e) {
      throw new Error('The token could not be loaded: the server did not answer.');
    }
    var data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (response.status === 401) {
      var target = data && sameOrigin(data.login_url);
      if (target) {
        setStatus('Your session has ended. Redirecting to sign-in…', false);
        window.location.assign(target);
        return null;
      }
      throw new Error('Your session has ended. Sign in again to see the token.');
    }
    if (!response.ok || !data || typeof data.access_token !== 'string' || data.access_token === '') {
      throw new Error('The token could not be loaded (HTTP ' + response.status + ').');
    }
    token = { accessToken: data.access_token, expiresAt: expiryTime(data) };
    showExpiry();
    return token;
  }

  function mask() {
    shown = false;
    field.value = MASK;
    field.classList.add('is-masked');
    toggle.textContent = 'Show token';
    toggle.setAttribute('aria-pressed', 'false');
  }

  function reveal() {
    shown = true;
    field.value = token.accessToken;
    field.classList.remove('is-masked');
    toggle.textContent = 'Hide token';
    toggle.setAttribute('aria-pressed', 'true');
  }

  async function withBusy(button, work) {
    button.disabled = true;
    try {
      await work();
    } catch (e) {
      setStatus(e && e.message ? e.message : 'Something went wrong.', true);
    } finally {
      button.disabled = false;
    }
  }

  toggle.addEventListener('click', function () {
    if (shown) {
      mask();
      setStatus('', false);
      return;
    }
    withBusy(toggle, async function () {
      var loaded = await load();
      if (loaded) {
        reveal();
        setStatus('', false);
      }
    });
  });

  // Clipboard API first; on insecure origins or older browsers, select the text and copy it.
  function fallbackCopy(text) {
    var wasShown = shown;
    field.value = text;
    field.focus();
    field.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    field.setSelectionRange(0, 0);
    if (!wasShown) {
      field.value = MASK;
    }
    return ok;
  }

  copyButton.addEventListener('click', function () {
    withBusy(copyButton, async function () {
      var loaded = await load();
      if (!loaded) {
        return;
      }
      var copied = false;
      if (navigator.clipboard && window.isSecureContext) {
        try {
          await navigator.clipboard.writeText(loaded.accessToken);
          copied = true;
        } catch (e) {
          copied = false;
        }
      }
      if (!copied) {
        copied = fallbackCopy(loaded.accessToken);
      }
      if (copied) {
        flash('Token copied to the clipboard.');
      } else {
        setStatus('Copying is blocked by the browser: show the token and copy it by hand.', true);
      }
    });
  });

  // Keep the "in N min" hint current while the page stays open.
  setInterval(showExpiry, 30000);
})();
