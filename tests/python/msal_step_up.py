"""Real Python msal answering a Conditional Access claims challenge from an aad-auth API.

Usage: python3 msal_step_up.py '<JSON: authority_host, tenant_id, api_client_id, public_client_id, api_url>'

The tenant must serve https and sign users in automatically; set REQUESTS_CA_BUNDLE to its
certificate file and NO_PROXY=127.0.0.1,localhost. As a client app would:
  1. device code: a token without any authentication context; the API answers 401 with
     `error="insufficient_claims", claims="<base64>"`;
  2. the claims, decoded, passed to acquire_token_silent(claims_challenge=...) (msal skips its
     cache and redeems the refresh token with the claims); the retried call succeeds;
  3. a new device flow with initiate_device_flow/acquire_token_by_device_flow(claims_challenge=...);
     its token succeeds too.
Prints one JSON object on stdout; on any failure, prints what happened on stderr and exits 1.
"""

import base64
import json
import re
import sys
import time
import urllib.error
import urllib.request

import msal


def fail(step, result):
    print(json.dumps({"failed": step, "result": result}, default=str), file=sys.stderr)
    sys.exit(1)


def call(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers.get("WWW-Authenticate"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("WWW-Authenticate"), error.read().decode()


def claims_challenge(www_authenticate):
    """The decoded claims of an insufficient_claims challenge, as msal takes them."""
    if not www_authenticate or 'error="insufficient_claims"' not in www_authenticate:
        return None
    match = re.search(r'claims="([^"]+)"', www_authenticate)
    return base64.b64decode(match.group(1)).decode() if match else None


def device_flow(app, scopes, claims=None):
    flow = app.initiate_device_flow(scopes=scopes, claims_challenge=claims)
    if "user_code" not in flow:
        fail("initiate_device_flow", flow)
    # The tenant approves at once (auto user); never wait long for it.
    flow["expires_at"] = min(flow.get("expires_at", 0), time.time() + 60)
    token = app.acquire_token_by_device_flow(flow, claims_challenge=claims)
    if "access_token" not in token:
        fail("acquire_token_by_device_flow", token)
    return token


def main():
    config = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    authority = f"{config['authority_host']}/{config['tenant_id']}"
    scopes = [f"{config['api_client_id']}/.default"]
    api_url = config["api_url"]
    app = msal.PublicClientApplication(
        config["public_client_id"], authority=authority, validate_authority=False, instance_discovery=False
    )

    first = device_flow(app, scopes)
    status, challenge, body = call(api_url, first["access_token"])
    claims = claims_challenge(challenge)
    if status != 401 or claims is None:
        fail("the first call should get a claims challenge", {"status": status, "challenge": challenge, "body": body})

    account = app.get_accounts()[0]
    silent = app.acquire_token_silent(scopes, account=account, claims_challenge=claims)
    if not silent or "access_token" not in silent:
        fail("acquire_token_silent(claims_challenge)", silent)
    silent_status, _, silent_body = call(api_url, silent["access_token"])
    if silent_status != 200:
        fail("the retried call after acquire_token_silent", {"status": silent_status, "body": silent_body})

    again = device_flow(app, scopes, claims)
    device_status, _, _ = call(api_url, again["access_token"])
    if device_status != 200:
        fail("the call with the claims device-flow token", device_status)

    print(
        json.dumps(
            {
                "first_status": status,
                "claims": claims,
                "silent_status": silent_status,
                "silent_body": json.loads(silent_body),
                "silent_source": silent.get("token_source"),
                "device_status": device_status,
            }
        )
    )


if __name__ == "__main__":
    main()
