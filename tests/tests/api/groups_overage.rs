//! Groups overage resolved through Microsoft Graph (`AAD_GROUPS_OVERAGE=graph`), end to end
//! against the local tenant, which serves Graph's `checkMemberGroups` and counts its calls.
//!
//! `dave` (a default user) is in 250 groups, so his tokens carry an overage indicator instead of
//! `groups`; the first of them is `OVERAGE_TEAM_GROUP`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::config::GroupsOverage;
use aad_auth::testing::{AppRegistration, Endpoint, Fault, GRAPH_APP_ID, ManualClock, OVERAGE_TEAM_GROUP, Tenant};
use aad_auth::{AadAuth, AadAuthBuilder, AuthenticationState, Policy, RequireAuth};
use aad_auth_tests::site::{Browser, Site, login_config};
use aad_auth_tests::{Reply, get};
use actix_web::{App, HttpResponse, test, web};
use serde_json::json;

const DAVE: &str = "dave@contoso.onmicrosoft.com";
/// A group nobody is in.
const NOBODYS: &str = "0e9b7c1d-5a4f-4c3b-9d2e-1f0a9b8c7d6e";

/// 24 groups dave is not in, then his team group: two `checkMemberGroups` calls.
fn many_groups() -> Vec<String> {
    let mut groups: Vec<String> = (0..24).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
    groups.push(OVERAGE_TEAM_GROUP.to_owned());
    groups
}

fn routes(cfg: &mut web::ServiceConfig) {
    let policies = [
        ("/team", Policy::api().allow_session().groups([OVERAGE_TEAM_GROUP])),
        ("/other", Policy::api().allow_session().groups([NOBODYS])),
        ("/many", Policy::api().allow_session().groups(many_groups())),
        ("/b1", Policy::api().groups([OVERAGE_TEAM_GROUP, "11111111-0000-4000-8000-000000000001"])),
        ("/b2", Policy::api().groups([OVERAGE_TEAM_GROUP, "11111111-0000-4000-8000-000000000002"])),
        ("/b3", Policy::api().groups([OVERAGE_TEAM_GROUP, "11111111-0000-4000-8000-000000000003"])),
    ];
    for (path, policy) in policies {
        cfg.service(web::scope(path).wrap(RequireAuth::new(policy)).route("", web::get().to(ok)));
    }
}

async fn ok(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "oid": state.user().map(|user| user.oid.clone()) }))
}

struct Setup {
    tenant: Tenant,
    clock: Arc<ManualClock>,
    auth: AadAuth,
}

impl Setup {
    /// A tenant with the default registrations and users, and a bearer-only app with the
    /// feature on (`adjust` sets more of the builder).
    async fn new(adjust: impl FnOnce(AadAuthBuilder) -> AadAuthBuilder) -> Self {
        Self::on(Tenant::builder(), adjust).await
    }

    async fn on(
        tenant: aad_auth::testing::TenantBuilder,
        adjust: impl FnOnce(AadAuthBuilder) -> AadAuthBuilder,
    ) -> Self {
        let clock = Arc::new(ManualClock::new());
        let tenant = tenant.clock(clock.clone()).start().await;
        let config = tenant.api_config().groups_overage(GroupsOverage::Graph).build().unwrap();
        let auth = adjust(AadAuth::builder(config).clock(clock.clone()).bearer_only()).build().unwrap();
        Self { tenant, clock, auth }
    }

    fn dave(&self) -> String {
        self.tenant.token().for_user(self.tenant.user(DAVE).unwrap()).sign()
    }

    fn graph_calls(&self) -> u64 {
        self.tenant.requests(Endpoint::Graph)
    }
}

macro_rules! app {
    ($auth:expr) => {
        test::init_service(App::new().configure($auth.configure()).configure(routes)).await
    };
}

fn assert_unavailable(reply: &Reply, retry_after: &str) {
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.retry_after.as_deref(), Some(retry_after), "{reply:?}");
    assert_eq!(reply.json()["error"], "temporarily_unavailable", "{reply:?}");
}

#[actix_web::test]
async fn an_overage_is_resolved_by_graph_allow_and_deny_and_the_answer_is_kept() {
    let setup = Setup::new(|builder| builder).await;
    let app = app!(setup.auth);
    let dave = setup.dave();

    let reply = get(&app, "/team", Some(&dave)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(setup.graph_calls(), 1);
    for _ in 0..3 {
        assert_eq!(get(&app, "/team", Some(&dave)).await.status, 200);
    }
    assert_eq!(setup.graph_calls(), 1, "repeated requests use the kept answer");

    let reply = get(&app, "/other", Some(&dave)).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.error_code().as_deref(), Some("insufficient_scope"));
    assert!(reply.json()["error_description"].as_str().unwrap().contains("not in a group"), "{reply:?}");
    assert_eq!(setup.graph_calls(), 2);
    assert_eq!(get(&app, "/other", Some(&dave)).await.status, 403);
    assert_eq!(setup.graph_calls(), 2, "a no is kept too");
    assert_eq!(setup.tenant.requests(Endpoint::Token), 1, "one app-only token for Graph, kept");

    // Someone without an overage is decided from the token, without Graph.
    let bob = setup.tenant.token().for_user(&setup.tenant.users()[1]).sign();
    assert_eq!(get(&app, "/team", Some(&bob)).await.status, 403);
    assert_eq!(setup.graph_calls(), 2);

    // Past AAD_GROUPS_CACHE_TTL (3600 s) Graph is asked again.
    setup.clock.advance(Duration::from_secs(3601));
    let dave = setup.dave();
    assert_eq!(get(&app, "/team", Some(&dave)).await.status, 200);
    assert_eq!(setup.graph_calls(), 3);
}

#[actix_web::test]
async fn without_the_setting_an_overage_is_refused_and_graph_never_called() {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().clock(clock.clone()).start().await;
    let auth = AadAuth::builder(tenant.api_config().build().unwrap()).clock(clock).bearer_only().build().unwrap();
    let app = app!(auth);
    let dave = tenant.token().for_user(tenant.user(DAVE).unwrap()).sign();
    let reply = get(&app, "/team", Some(&dave)).await;
    assert_eq!(reply.status, 403);
    assert!(reply.json()["error_description"].as_str().unwrap().contains("groups overage"), "{reply:?}");
    assert_eq!(tenant.requests(Endpoint::Graph), 0);
}

#[actix_web::test]
async fn more_than_twenty_groups_are_asked_in_batches() {
    let setup = Setup::new(|builder| builder).await;
    let app = app!(setup.auth);
    // The local Graph refuses more than 20 ids in one call, as Graph does.
    assert_eq!(get(&app, "/many", Some(&setup.dave())).await.status, 200);
    assert_eq!(setup.graph_calls(), 2);
}

#[actix_web::test]
async fn concurrent_identical_checks_make_one_graph_call() {
    let setup = Setup::new(|builder| builder).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    let replies = futures_util::future::join_all((0..8).map(|_| get(&app, "/team", Some(&dave)))).await;
    assert!(replies.iter().all(|reply| reply.status == 200), "{replies:?}");
    assert_eq!(setup.graph_calls(), 1);
    assert_eq!(setup.tenant.requests(Endpoint::Token), 1);
}

#[actix_web::test]
async fn graph_down_is_503_with_retry_after_never_kept_and_recovers() {
    let setup = Setup::new(|builder| builder).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    setup.tenant.set_fault(Endpoint::Graph, Fault::Status(503));
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "5");
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "5");
    assert_eq!(setup.graph_calls(), 2, "a failure is not kept: the next request asks again");
    setup.tenant.set_fault(Endpoint::Graph, Fault::Garbage);
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "5");
    setup.tenant.clear_fault(Endpoint::Graph);
    assert_eq!(get(&app, "/team", Some(&dave)).await.status, 200);
    assert_eq!(setup.graph_calls(), 4);
}

#[actix_web::test]
async fn graph_unreachable_is_503() {
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().clock(clock.clone()).start().await;
    let config = tenant
        .api_config()
        .groups_overage(GroupsOverage::Graph)
        .graph_url(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let auth = AadAuth::builder(config).clock(clock).bearer_only().build().unwrap();
    let app = app!(auth);
    let dave = tenant.token().for_user(tenant.user(DAVE).unwrap()).sign();
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "5");
}

#[actix_web::test]
async fn graph_throttling_is_honoured_no_call_before_retry_after() {
    let setup = Setup::new(|builder| builder).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    setup.tenant.set_fault(Endpoint::Graph, Fault::Throttled(Duration::from_secs(30)));
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "30");
    assert_eq!(setup.graph_calls(), 1);
    setup.tenant.clear_fault(Endpoint::Graph);
    // Graph said 30 s: until then nobody asks it, and the client is told what is left.
    setup.clock.advance(Duration::from_secs(10));
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "20");
    assert_unavailable(&get(&app, "/other", Some(&dave)).await, "20");
    assert_eq!(setup.graph_calls(), 1);
    setup.clock.advance(Duration::from_secs(20));
    assert_eq!(get(&app, "/team", Some(&dave)).await.status, 200);
    assert_eq!(setup.graph_calls(), 2);
}

#[actix_web::test]
async fn a_graph_slower_than_the_http_timeout_is_503() {
    let setup = Setup::new(|builder| builder.http_timeout(Duration::from_millis(500))).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    // A token first, so that only Graph is slow.
    assert_eq!(get(&app, "/team", Some(&dave)).await.status, 200);
    setup.tenant.set_fault(Endpoint::Graph, Fault::Hang);
    assert_unavailable(&get(&app, "/other", Some(&dave)).await, "5");
    setup.tenant.clear_fault(Endpoint::Graph);
    assert_eq!(get(&app, "/other", Some(&dave)).await.status, 403);
}

#[actix_web::test]
async fn the_kept_answers_are_bounded() {
    let setup = Setup::new(|builder| builder.groups_cache_capacity(2)).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    for path in ["/b1", "/b2", "/b3"] {
        assert_eq!(get(&app, path, Some(&dave)).await.status, 200);
    }
    assert_eq!(setup.graph_calls(), 3);
    // The two newest are kept; the oldest went to make room.
    assert_eq!(get(&app, "/b3", Some(&dave)).await.status, 200);
    assert_eq!(get(&app, "/b2", Some(&dave)).await.status, 200);
    assert_eq!(setup.graph_calls(), 3);
    assert_eq!(get(&app, "/b1", Some(&dave)).await.status, 200);
    assert_eq!(setup.graph_calls(), 4);
}

#[actix_web::test]
async fn an_app_without_the_graph_permission_gets_503_not_a_silent_answer() {
    // The API registration holds no Graph permission: Graph answers 403 Authorization_RequestDenied.
    let tenant = Tenant::builder().app(AppRegistration::confidential("API without Graph permissions"));
    let setup = Setup::on(tenant, |builder| builder).await;
    let app = app!(setup.auth);
    let dave = setup.dave();
    assert_unavailable(&get(&app, "/team", Some(&dave)).await, "5");
    assert_unavailable(&get(&app, "/other", Some(&dave)).await, "5");
    assert_eq!(setup.graph_calls(), 2, "not kept: an admin granting consent takes effect at once");
}

#[actix_web::test]
async fn a_session_with_an_overage_is_resolved_like_its_bearer_token() {
    let tenant = Tenant::builder().dev_defaults().auto_user(DAVE).start().await;
    let config = login_config(tenant.api_config()).groups_overage(GroupsOverage::Graph).build().unwrap();
    let site = Site::start_with(config, None, routes).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert!(hops.last().is_some_and(|hop| hop.status == 200 || hop.status == 404), "{hops:#?}");
    let api = |path: &str| browser.client.get(site.url(path)).header("accept", "application/json");
    let team = browser.send(api("/team")).await;
    assert_eq!(team.status, 200, "{team:?}");
    assert_eq!(team.json()["oid"], tenant.user(DAVE).unwrap().oid.as_str());
    assert_eq!(browser.send(api("/other")).await.status, 403);
    assert_eq!(browser.send(api("/many")).await.status, 200);
    assert_eq!(tenant.requests(Endpoint::Graph), 1 + 1 + 2);
    assert_eq!(browser.send(api("/team")).await.status, 200);
    assert_eq!(tenant.requests(Endpoint::Graph), 4, "the session's answers are kept too");
}

#[actix_web::test]
async fn graph_without_a_client_secret_refuses_to_start_naming_both_variables() {
    let tenant_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    let vars = [
        ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
        ("AAD_TENANT_ID", tenant_id),
        ("AAD_GROUPS_OVERAGE", "graph"),
    ];
    let error = aad_auth::AadAuthConfig::from_lookup(|name| {
        vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("AAD_GROUPS_OVERAGE") && error.contains("AAD_CLIENT_SECRET"), "{error}");
}

/// The local Graph checks its caller as Graph does.
#[actix_web::test]
async fn the_local_graph_checks_the_token_the_permission_and_the_body() {
    let tenant = Tenant::start().await;
    let dave = tenant.user(DAVE).unwrap().oid.clone();
    let url = format!("{}/v1.0/users/{dave}/checkMemberGroups", tenant.authority_host());
    let graph_token =
        |roles: &[&str]| tenant.token().app_only().audience(json!(GRAPH_APP_ID)).roles(roles.iter().copied()).sign();
    let granted = graph_token(&["User.Read.All", "GroupMember.Read.All"]);
    let post = |token: Option<String>, body: serde_json::Value| {
        let url = url.clone();
        async move {
            let mut request = reqwest::Client::new().post(url).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let ids = json!({ "groupIds": [OVERAGE_TEAM_GROUP, NOBODYS] });

    let (status, body) = post(Some(granted.clone()), ids.clone()).await;
    assert_eq!((status, &body["value"]), (200, &json!([OVERAGE_TEAM_GROUP])), "{body}");
    let cases = [
        ("no token", None, ids.clone(), 401, "InvalidAuthenticationToken"),
        ("API token", Some(tenant.token().app_only().sign()), ids.clone(), 401, "InvalidAuthenticationToken"),
        (
            "expired",
            Some(tenant.token().app_only().audience(json!(GRAPH_APP_ID)).expired().sign()),
            ids.clone(),
            401,
            "InvalidAuthenticationToken",
        ),
        (
            "GroupMember.Read.All alone",
            Some(graph_token(&["GroupMember.Read.All"])),
            ids.clone(),
            403,
            "Authorization_RequestDenied",
        ),
        ("no permission", Some(graph_token(&[])), ids.clone(), 403, "Authorization_RequestDenied"),
        (
            "delegated",
            Some(tenant.token().member().audience(json!(GRAPH_APP_ID)).roles(["Directory.Read.All"]).sign()),
            ids.clone(),
            403,
            "Authorization_RequestDenied",
        ),
        ("21 ids", Some(granted.clone()), json!({ "groupIds": vec![NOBODYS; 21] }), 400, "Request_BadRequest"),
        ("no groupIds", Some(granted.clone()), json!({}), 400, "Request_BadRequest"),
    ];
    for (name, token, body, status, code) in cases {
        let (got, answer) = post(token, body).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{name}: {answer}");
    }
    let (status, body) = post(Some(graph_token(&["Directory.Read.All"])), ids.clone()).await;
    assert_eq!(status, 200, "Directory.Read.All suffices: {body}");
    let unknown = url.replace(&dave, NOBODYS);
    let response = reqwest::Client::new().post(unknown).bearer_auth(&granted).json(&ids).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
