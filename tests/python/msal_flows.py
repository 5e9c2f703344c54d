"""Real Python msal against the local tenant (aad_auth::testing, or examples/dev_tenant).

Usage: python3 msal_flows.py '<the JSON line examples/dev_tenant prints>'   (or the JSON on stdin)

The tenant must serve https and sign users in automatically (DEV_TENANT_AUTO_USER=first); set
REQUESTS_CA_BUNDLE to its certificate file and NO_PROXY=127.0.0.1,localhost.

Runs, as an app would:
  1. client credentials: ConfidentialClientApplication(api).acquire_token_for_client
  2. device code: PublicClientApplication(public).initiate_device_flow + acquire_token_by_device_flow
  3. the account msal made from the reply, a silent call answered from msal's cache, and a forced
     refresh (the refresh_token grant).
Prints one JSON object on stdout with the access tokens; on any failure, prints what msal returned
on stderr and exits 1.
"""

import json
import sys
import time

import msal


def fail(step, result):
    print(json.dumps({"failed": step, "result": result}, default=str), file=sys.stderr)
    sys.exit(1)


def main():
    config = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    authority = f"{config['authority_host']}/{config['tenant_id']}"
    api = config["api_client_id"]
    scopes = [f"{api}/.default"]

    confidential = msal.ConfidentialClientApplication(
        api,
        authority=authority,
        client_credential=config["api_client_secret"],
        validate_authority=False,
        instance_discovery=False,
    )
    app_token = confidential.acquire_token_for_client(scopes)
    if "access_token" not in app_token:
        fail("acquire_token_for_client", app_token)

    public = msal.PublicClientApplication(
        config["public_client_id"],
        authority=authority,
        validate_authority=False,
        instance_discovery=False,
    )
    flow = public.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        fail("initiate_device_flow", flow)
    print(flow["message"], file=sys.stderr)
    # The tenant approves at once (auto user); never wait long for it.
    flow["expires_at"] = min(flow.get("expires_at", 0), time.time() + 60)
    user_token = public.acquire_token_by_device_flow(flow)
    if "access_token" not in user_token:
        fail("acquire_token_by_device_flow", user_token)

    accounts = public.get_accounts()
    if len(accounts) != 1:
        fail("get_accounts", accounts)
    account = accounts[0]
    if account.get("username") != config["users"][0]:
        fail("account username", account)
    cached = public.acquire_token_silent(scopes, account=account)
    if not cached or cached.get("token_source") != "cache":
        fail("acquire_token_silent (cache)", cached)
    refreshed = public.acquire_token_silent(scopes, account=account, force_refresh=True)
    if not refreshed or "access_token" not in refreshed:
        fail("acquire_token_silent (force_refresh)", refreshed)
    if refreshed["access_token"] == user_token["access_token"]:
        fail("refresh returned the same access token", refreshed)

    print(
        json.dumps(
            {
                "client_credentials": app_token["access_token"],
                "device_code": user_token["access_token"],
                "refreshed": refreshed["access_token"],
                "username": account["username"],
                "home_account_id": account["home_account_id"],
            }
        )
    )


if __name__ == "__main__":
    main()
