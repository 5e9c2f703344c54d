"""Real Python msal as the client of an aad-auth API whose route calls Microsoft Graph on behalf
of its caller (on-behalf-of through DownstreamTokens, to the local tenant's Graph).

Usage: python3 msal_obo.py '<JSON: authority_host, tenant_id, api_client_id, public_client_id, api_url>'

The tenant must serve https and sign users in automatically; set REQUESTS_CA_BUNDLE to its
certificate file and NO_PROXY=127.0.0.1,localhost. As a client app would:
  1. device code for the API's scope (`api://{api}/user_impersonation`);
  2. GET api_url with the token, twice (the second answer comes from the API's kept Graph token);
  3. acquire_token_silent from msal's cache, and one more call with that token.
Prints one JSON object on stdout; on any failure, prints what happened on stderr and exits 1.
"""

import json
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
            return response.status, json.loads(response.read().decode() or "null")
    except urllib.error.HTTPError as error:
        body = error.read().decode()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body


def main():
    config = json.loads(sys.argv[1])
    authority = f"{config['authority_host'].rstrip('/')}/{config['tenant_id']}"
    # The local tenant is not a known Entra host: no instance discovery on Microsoft's servers.
    app = msal.PublicClientApplication(
        config["public_client_id"], authority=authority, validate_authority=False, instance_discovery=False
    )
    scopes = [f"api://{config['api_client_id']}/user_impersonation"]

    flow = app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        fail("initiate_device_flow", flow)
    flow["expires_at"] = min(flow.get("expires_at", 0), time.time() + 60)
    token = app.acquire_token_by_device_flow(flow)
    if "access_token" not in token:
        fail("acquire_token_by_device_flow", token)

    first_status, first_body = call(config["api_url"], token["access_token"])
    second_status, second_body = call(config["api_url"], token["access_token"])

    accounts = app.get_accounts()
    if not accounts:
        fail("get_accounts", accounts)
    silent = app.acquire_token_silent(scopes, account=accounts[0])
    if not silent or "access_token" not in silent:
        fail("acquire_token_silent", silent)
    silent_status, silent_body = call(config["api_url"], silent["access_token"])

    print(json.dumps({
        "first_status": first_status,
        "first_body": first_body,
        "second_status": second_status,
        "second_body": second_body,
        "silent_status": silent_status,
        "silent_body": silent_body,
        "silent_source": silent.get("token_source"),
    }))


if __name__ == "__main__":
    main()
