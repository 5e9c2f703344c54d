//! Groups overage resolved through Microsoft Graph (`AAD_GROUPS_OVERAGE=graph`).
//!
//! Entra lists at most 200 groups in a token (fewer in some flows); a user in more gets an
//! overage indicator (`_claim_names`/`hasgroups`) instead of `groups`. A route that requires
//! groups then cannot decide from the token. With this feature on, it asks Graph instead,
//! `POST /v1.0/users/{oid}/checkMemberGroups` with the route's group ids, as the app itself
//! (an app-only token by client credentials, for `{graph}/.default`), and decides from Graph's
//! answer:
//!
//! * a member of one of the route's groups passes, anyone else gets the 403 a token without the
//!   group gets (`MissingGroup`);
//! * Graph unreachable, failing (5xx), slower than the HTTP timeout, throttling (429), or
//!   refusing the app (its token, or a missing permission: 403 from Graph, logged as an error
//!   naming the permissions) answers 503 with `Retry-After`: the caller's membership is
//!   unknown, which is neither the caller's fault nor a reason to let them in. After a 429 no
//!   call is made until Graph's `Retry-After` has elapsed, and the 503 carries what is left of
//!   it;
//! * answers are kept per (tenant, user, route's groups) for `AAD_GROUPS_CACHE_TTL`, bounded in
//!   number (`answers`), and a failure is never kept; concurrent identical checks make one call.
//!
//! Only requests that need it pay: the guard calls [`GroupsResolver::is_member`] only for an
//! overage on a route with groups, and the future it gets is boxed, so the guard's own future
//! does not grow (see `guard.rs`).

mod answers;
mod graph;

use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

pub(crate) use answers::Unavailable;

use crate::client::ClientConfig;
use crate::clock::SharedClock;
use crate::config::{AadAuthConfig, GroupsOverage};
use crate::user::User;

/// Membership answers kept at most, unless the app says otherwise
/// (`AadAuthBuilder::groups_cache_capacity`).
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// Resolves a groups overage through Microsoft Graph. Cheap to clone.
#[derive(Clone)]
pub(crate) struct GroupsResolver {
    graph: Arc<graph::Graph>,
    answers: Arc<answers::Answers>,
}

impl std::fmt::Debug for GroupsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupsResolver").finish_non_exhaustive()
    }
}

impl GroupsResolver {
    /// The resolver of `config`, or `None` when `AAD_GROUPS_OVERAGE` is off (or authentication
    /// is). `http` is the app's outbound client (its timeout, `AAD_CA_FILE`, no redirects).
    pub(crate) fn new(
        config: &AadAuthConfig,
        http: reqwest::Client,
        clock: SharedClock,
        capacity: usize,
    ) -> Option<Self> {
        if config.groups_overage() != GroupsOverage::Graph || !config.enabled() {
            return None;
        }
        // The configuration refuses `graph` without a Graph URL.
        let graph = graph::Graph::new(config.graph_url()?, ClientConfig::from(config), http, clock.clone())?;
        Some(Self {
            graph: Arc::new(graph),
            answers: answers::Answers::new(config.groups_cache_ttl(), capacity, clock),
        })
    }

    /// Whether `user` is in any of `groups`, from a kept answer or from Graph.
    pub(crate) fn is_member(&self, user: &User, groups: &[String]) -> BoxFuture<'static, Result<bool, Unavailable>> {
        let key = answers::key(&user.tid, &user.oid, groups);
        let (graph, answers) = (self.graph.clone(), self.answers.clone());
        let (tid, oid, groups) = (user.tid.clone(), user.oid.clone(), groups.to_vec());
        async move { answers.get_or_lookup(key, move || graph.is_member(tid, oid, groups)).await }.boxed()
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::Arc;

    use super::graph::Graph;
    use crate::client::ClientConfig;
    use crate::config::GroupsOverage;
    use crate::testing::{Endpoint, OVERAGE_TEAM_GROUP, Tenant, random_guid};

    #[actix_web::test]
    async fn groups_go_to_graph_twenty_at_a_time_until_one_is_found() {
        let tenant = Tenant::start().await;
        let config = tenant.api_config().groups_overage(GroupsOverage::Graph).build().unwrap();
        let http = crate::http::client(None, crate::http::TIMEOUT, crate::http::Redirects::Never).unwrap();
        let graph = Graph::new(config.graph_url().unwrap(), ClientConfig::from(&config), http, crate::clock::system());
        let graph = Arc::new(graph.unwrap());
        let dave = tenant.user("dave@contoso.onmicrosoft.com").unwrap().oid.clone();
        let tid = tenant.tenant_id().to_owned();
        let others: Vec<String> = (0..45).map(|_| random_guid()).collect();
        let ask = |groups: Vec<String>| graph.clone().is_member(tid.clone(), dave.clone(), groups);

        // 46 ids, the team group last: batches of 20, 20 and 6, and the emulator refuses more
        // than 20 in one call.
        let mut last = others.clone();
        last.push(OVERAGE_TEAM_GROUP.to_owned());
        assert_eq!(ask(last).await, Ok(true));
        assert_eq!(tenant.requests(Endpoint::Graph), 3);
        // None of them: every batch asked, the answer is no.
        assert_eq!(ask(others.clone()).await, Ok(false));
        assert_eq!(tenant.requests(Endpoint::Graph), 6);
        // The team group first: the first batch answers, the rest is not asked.
        let mut first = vec![OVERAGE_TEAM_GROUP.to_owned()];
        first.extend(others);
        assert_eq!(ask(first).await, Ok(true));
        assert_eq!(tenant.requests(Endpoint::Graph), 7);
        // One app-only token for all of it.
        assert_eq!(tenant.requests(Endpoint::Token), 1);
    }

    #[actix_web::test]
    async fn ids_that_are_not_guids_never_reach_graph() {
        let tenant = Tenant::start().await;
        let config = tenant.api_config().groups_overage(GroupsOverage::Graph).build().unwrap();
        let http = crate::http::client(None, crate::http::TIMEOUT, crate::http::Redirects::Never).unwrap();
        let graph = Graph::new(config.graph_url().unwrap(), ClientConfig::from(&config), http, crate::clock::system());
        let graph = Arc::new(graph.unwrap());
        let groups = vec![OVERAGE_TEAM_GROUP.to_owned()];
        let tid = tenant.tenant_id().to_owned();
        let dave = tenant.user("dave@contoso.onmicrosoft.com").unwrap().oid.clone();
        for (tid, oid) in
            [(tid.clone(), "../../groups".to_owned()), (tid, format!("{dave}/x")), ("x/..".to_owned(), dave)]
        {
            assert_eq!(graph.clone().is_member(tid, oid, groups.clone()).await, Ok(false));
        }
        assert_eq!(tenant.requests(Endpoint::Graph) + tenant.requests(Endpoint::Token), 0);
    }
}
