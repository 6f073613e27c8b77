//! HTTP front: authentication, routing of Kubernetes API paths, content
//! negotiation, and the answers for discovery, reads and writes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::{self, Attributes, User};
use crate::catalog::{ResourceType, fnv64};
use crate::request::{Ctx, Target, selectors};
use crate::response::{error_response, json_response, page_not_found};
use crate::shared::{RequestRecord, Shared, lock};
use crate::status::ApiError;
use crate::store::{ObjectKey, PatchKind, Store};
use crate::table::{self, Form, IncludeObject};
use crate::watch;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(entry).with_state(shared)
}

const AGGREGATED_ACCEPT: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Who is calling: the identity whose rules apply, and whether a credential
/// (or impersonation) named it.
struct Caller {
    user: User,
    authenticated: bool,
}

async fn entry(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let accept = header_str(req.headers(), header::ACCEPT);
    let caller = authenticate(&shared, req.headers());
    let user = match &caller {
        Ok(c) if c.authenticated => Some(c.user.name.clone()),
        _ => None,
    };
    let response = dispatch(&shared, caller, req).await;
    lock(&shared.requests).push(RequestRecord {
        method,
        path_and_query,
        user,
        accept,
        status: response.status().as_u16(),
    });
    response
}

fn header_str(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Resolves the bearer token (none: system:anonymous, with the anonymous
/// rules), then `Impersonate-User`, which kubectl sends even over plain HTTP
/// where it leaves tokens out.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = match headers.get(header::AUTHORIZATION) {
        None => Caller {
            user: User {
                name: auth::ANONYMOUS.to_string(),
                rules: lock(&shared.anonymous_rules).clone(),
            },
            authenticated: false,
        },
        Some(value) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|s| s.strip_prefix("Bearer "))
                .map(str::trim);
            match token.and_then(|t| lock(&shared.users).get(t).cloned()) {
                Some(user) => Caller {
                    user,
                    authenticated: true,
                },
                None => return Err(ApiError::unauthorized()),
            }
        }
    };
    let Some(target) = header_str(headers, "impersonate-user") else {
        return Ok(caller);
    };
    auth::authorize(
        &caller.user,
        &Attributes {
            verb: "impersonate",
            group: "",
            resource: "users",
            subresource: None,
            namespace: None,
            name: Some(&target),
        },
    )?;
    let user = lock(&shared.users)
        .values()
        .find(|u| u.name == target)
        .cloned()
        .unwrap_or(User {
            name: target,
            rules: Vec::new(),
        });
    Ok(Caller {
        user,
        authenticated: true,
    })
}

async fn dispatch(
    shared: &Arc<Shared>,
    caller: Result<Caller, ApiError>,
    req: Request,
) -> Response {
    let params: HashMap<String, String> = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|q| q.0.into_iter().collect())
        .unwrap_or_default();
    let curl = header_str(req.headers(), header::USER_AGENT)
        .is_some_and(|ua| ua.starts_with("curl") || ua.starts_with("Wget"));
    let ctx = Ctx {
        accept: header_str(req.headers(), header::ACCEPT),
        content_type: header_str(req.headers(), header::CONTENT_TYPE),
        pretty: params
            .get("pretty")
            .is_some_and(|p| p == "true" || p == "1")
            || curl,
        params,
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return error_response(&e, ctx.pretty),
    };
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

    match segs.as_slice() {
        ["version"] => return json_response(200, &version(), ctx.pretty),
        ["healthz"] | ["readyz"] | ["livez"] => return (StatusCode::OK, "ok").into_response(),
        _ => {}
    }
    let is_discovery = matches!(
        segs.as_slice(),
        ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _]
    );
    if is_discovery {
        // Discovery is for authenticated users (system:discovery), or an
        // anonymous caller the test granted rights to.
        if !caller.authenticated && caller.user.rules.is_empty() {
            return error_response(&auth::forbidden_path(req.uri().path()), ctx.pretty);
        }
        if req.method() != Method::GET {
            return error_response(
                &ApiError::method_not_allowed(req.method().as_str()),
                ctx.pretty,
            );
        }
        return discovery(shared, &segs, &ctx);
    }

    let target = {
        let store = lock(&shared.store);
        match Target::parse(&store.catalog, &segs) {
            Some(t) => t,
            None => return page_not_found(),
        }
    };
    let method = req.method().clone();
    let body = match axum::body::to_bytes(req.into_body(), 64 << 20).await {
        Ok(b) => b,
        Err(e) => {
            return error_response(&ApiError::bad_request(e.to_string()), ctx.pretty);
        }
    };
    // Injected failures hit object requests only, after authentication and
    // before authorization, where the apiserver's priority-and-fairness and
    // max-in-flight filters answer 429 (and its handlers 5xx).
    if let Some(e) = lock(&shared.faults).take_failure() {
        return error_response(&e, ctx.pretty);
    }
    resource_request(shared, &caller.user, target, method, body, &ctx).await
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.13",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.12",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn discovery(shared: &Shared, segs: &[&str], ctx: &Ctx) -> Response {
    let store = lock(&shared.store);
    let catalog = &store.catalog;
    let aggregated = shared.aggregated_discovery
        && ctx.accept.as_deref().is_some_and(|a| {
            a.split(',').any(|m| {
                let p: Vec<&str> = m.split(';').map(str::trim).collect();
                p.contains(&"g=apidiscovery.k8s.io")
                    && p.contains(&"v=v2")
                    && p.contains(&"as=APIGroupDiscoveryList")
            })
        });
    let body = match segs {
        ["api"] if aggregated => return aggregated_response(&catalog.aggregated_core(), ctx),
        ["apis"] if aggregated => return aggregated_response(&catalog.aggregated_groups(), ctx),
        ["api"] => catalog.legacy_core(&shared.addr.to_string()),
        ["apis"] => catalog.legacy_groups(),
        ["api", "v1"] => catalog.legacy_resources("", "v1"),
        ["apis", g] => match catalog.legacy_group(g) {
            Some(v) => v,
            None => return page_not_found(),
        },
        ["apis", g, v] if catalog.has_group_version(g, v) => catalog.legacy_resources(g, v),
        _ => return page_not_found(),
    };
    json_response(200, &body, ctx.pretty)
}

fn aggregated_response(body: &Value, ctx: &Ctx) -> Response {
    let mut r = json_response(200, body, ctx.pretty);
    let etag = format!("\"{:016X}\"", fnv64(body.to_string().as_bytes()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AGGREGATED_ACCEPT),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}

async fn resource_request(
    shared: &Arc<Shared>,
    user: &User,
    t: Target,
    method: Method,
    body: Bytes,
    ctx: &Ctx,
) -> Response {
    let verb = match (&method, t.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if ctx.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return error_response(&ApiError::method_not_allowed(method.as_str()), ctx.pretty);
        }
    };
    // As the apiserver's RequestInfo: a list or watch whose field selector
    // pins metadata.name asks for that name, so `resourceNames` may allow it.
    let pinned = match verb {
        "list" | "watch" => selectors(&t, ctx)
            .ok()
            .and_then(|(_, fields)| fields.exact_name().map(String::from)),
        _ => None,
    };
    let attrs = Attributes {
        verb,
        group: &t.rt.group,
        resource: &t.rt.plural,
        subresource: t.subresource.as_deref(),
        namespace: t.namespace.as_deref(),
        name: t.name.as_deref().or(pinned.as_deref()),
    };
    if let Err(e) = auth::authorize(user, &attrs) {
        return error_response(&e, ctx.pretty);
    }
    if verb == "watch" {
        return watch::serve(shared.clone(), t, ctx).await;
    }
    let result = {
        let mut store = lock(&shared.store);
        run(&mut store, verb, &t, body, ctx)
    };
    match result {
        Ok((code, v)) => json_response(code, &v, ctx.pretty),
        Err(e) => error_response(&e, ctx.pretty),
    }
}

/// POST and PUT bodies must be JSON; protobuf (kubectl's choice for built-in
/// types) is refused with 415, after which client-go retries with JSON.
fn parse_body(body: &Bytes, ctx: &Ctx) -> Result<Value, ApiError> {
    let media = ctx
        .content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("application/json");
    if media != "application/json" {
        return Err(ApiError::unsupported_media_type("application/json"));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be JSON): {e}"
        ))
    })
}

fn run(
    store: &mut Store,
    verb: &str,
    t: &Target,
    body: Bytes,
    ctx: &Ctx,
) -> Result<(u16, Value), ApiError> {
    let key = t.rt.key();
    let ns = t.namespace.as_deref();
    let name = t.name.as_deref().unwrap_or("");
    let status_only = t.subresource.is_some();
    let form = Form::from_accept(ctx.accept.as_deref());
    match verb {
        "get" => {
            let obj = store
                .get(&key, ns, name)
                .ok_or_else(|| ApiError::not_found(&t.rt, name))?;
            Ok((
                200,
                match form {
                    Form::Object => obj.clone(),
                    Form::Metadata => table::partial(obj),
                    Form::Table => {
                        let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
                        let include = IncludeObject::parse(ctx.param("includeObject"));
                        table::table(&t.rt, &[obj], meta, true, include)
                    }
                },
            ))
        }
        "list" => list(store, t, ctx, form),
        "create" => Ok((201, store.create(&key, ns, parse_body(&body, ctx)?)?)),
        "update" => Ok((
            200,
            store.replace(&key, ns, name, parse_body(&body, ctx)?, status_only)?,
        )),
        "patch" => {
            let content_type = ctx.content_type.as_deref().unwrap_or("");
            let kind = patch_kind(content_type).ok_or_else(|| {
                ApiError::unsupported_media_type(
                    "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
                )
            })?;
            let patch: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            Ok((200, store.patch(&key, ns, name, kind, &patch, status_only)?))
        }
        "delete" => {
            if let Ok(opts) = serde_json::from_slice::<Value>(&body) {
                check_preconditions(store, t, &opts)?;
            }
            let obj = store.delete(&key, ns, name)?;
            if obj["metadata"].get("deletionTimestamp").is_some() {
                // Held by finalizers: the object as it now is.
                return Ok((200, obj));
            }
            Ok((200, deleted_answer(&t.rt, obj)))
        }
        "deletecollection" => {
            let (labels, fields) = selectors(t, ctx)?;
            let victims: Vec<ObjectKey> = store
                .objects(&key)
                .filter(|((ons, _), o)| {
                    ns.is_none_or(|n| n == ons) && labels.matches(o) && fields.matches(o)
                })
                .map(|(k, _)| k.clone())
                .collect();
            let mut items = Vec::new();
            for (ons, oname) in victims {
                let ons = (!ons.is_empty()).then_some(ons);
                items.push(store.delete(&key, ons.as_deref(), &oname)?);
            }
            Ok((
                200,
                json!({
                    "apiVersion": t.rt.api_version(),
                    "kind": format!("{}List", t.rt.kind),
                    "metadata": {"resourceVersion": store.current_rv().to_string()},
                    "items": items,
                }),
            ))
        }
        _ => Err(ApiError::method_not_allowed(verb)),
    }
}

fn patch_kind(content_type: &str) -> Option<PatchKind> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            Some(PatchKind::Merge)
        }
        "application/json-patch+json" => Some(PatchKind::Json),
        _ => None,
    }
}

fn check_preconditions(store: &Store, t: &Target, opts: &Value) -> Result<(), ApiError> {
    let name = t.name.as_deref().unwrap_or("");
    let Some(pre) = opts.get("preconditions") else {
        return Ok(());
    };
    let Some(obj) = store.get(&t.rt.key(), t.namespace.as_deref(), name) else {
        return Ok(());
    };
    for field in ["uid", "resourceVersion"] {
        if let Some(want) = pre.get(field).and_then(Value::as_str)
            && obj["metadata"][field].as_str() != Some(want)
        {
            let mut e = ApiError::conflict(&t.rt, name);
            e.message = format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {field} in precondition: {want}, {field} in object meta: {}",
                t.rt.key(),
                obj["metadata"][field].as_str().unwrap_or("")
            );
            return Err(e);
        }
    }
    Ok(())
}

/// DELETE answers the object for CRDs, pods and namespaces, a Success Status otherwise.
fn deleted_answer(rt: &ResourceType, obj: Value) -> Value {
    if rt.returns_deleted_object {
        return obj;
    }
    let mut details = json!({
        "name": obj["metadata"]["name"],
        "kind": rt.plural,
        "uid": obj["metadata"]["uid"],
    });
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

const CONTINUE_TOO_OLD: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn list(store: &Store, t: &Target, ctx: &Ctx, form: Form) -> Result<(u16, Value), ApiError> {
    let key = t.rt.key();
    let (labels, fields) = selectors(t, ctx)?;
    let limit: usize = ctx.param("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let current = store.current_rv();

    // Which state to list, and where to start in it.
    let (rv, start_after): (u64, Option<ObjectKey>) =
        match ctx.param("continue").filter(|c| !c.is_empty()) {
            Some(token) => {
                let mut parts = token.splitn(3, '/');
                let rv = parts.next().and_then(|r| r.parse::<u64>().ok());
                let (Some(rv), Some(ns), Some(name)) = (rv, parts.next(), parts.next()) else {
                    return Err(ApiError::bad_request(format!(
                        "invalid continue token: {token}"
                    )));
                };
                (rv, Some((ns.to_string(), name.to_string())))
            }
            None => {
                let exact = ctx.param("resourceVersionMatch") == Some("Exact");
                match ctx
                    .param("resourceVersion")
                    .and_then(|r| r.parse::<u64>().ok())
                {
                    Some(rv) if exact && rv < store.compacted_rv() => {
                        return Err(ApiError::expired(
                            "The resourceVersion for the provided list is too old.",
                        ));
                    }
                    Some(rv) if exact && rv <= current => (rv, None),
                    _ => (current, None),
                }
            }
        };
    let snapshot;
    let objects: Box<dyn Iterator<Item = (&ObjectKey, &Value)>> = if rv == current {
        Box::new(store.objects(&key))
    } else {
        snapshot = store
            .snapshot(&key, rv)
            .ok_or_else(|| ApiError::expired(CONTINUE_TOO_OLD))?;
        Box::new(snapshot.iter())
    };
    let ns = t.namespace.as_deref();
    let mut matching = objects
        .filter(|(k, _)| start_after.as_ref().is_none_or(|s| *k > s))
        .filter(|((ons, _), o)| {
            ns.is_none_or(|n| n == ons) && labels.matches(o) && fields.matches(o)
        });
    let mut items: Vec<&Value> = Vec::new();
    let mut page_end: Option<&ObjectKey> = None;
    for (k, o) in matching.by_ref() {
        items.push(o);
        page_end = Some(k);
        if limit > 0 && items.len() == limit {
            break;
        }
    }
    let remaining = matching.count();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if remaining > 0
        && let Some((ens, ename)) = page_end
    {
        metadata["continue"] = json!(format!("{rv}/{ens}/{ename}"));
        if labels.is_empty() && fields.is_empty() {
            metadata["remainingItemCount"] = json!(remaining);
        }
    } else if t.rt.custom {
        // Custom resource lists always carry the (empty) continue field.
        metadata["continue"] = json!("");
    }
    match form {
        Form::Object => {}
        Form::Table => {
            let include = IncludeObject::parse(ctx.param("includeObject"));
            return Ok((200, table::table(&t.rt, &items, metadata, true, include)));
        }
        Form::Metadata => {
            let items: Vec<Value> = items.iter().map(|o| table::partial(o)).collect();
            return Ok((
                200,
                json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                    "items": items,
                }),
            ));
        }
    }
    // A real apiserver leaves apiVersion and kind out of the items of a
    // built-in type's list (its PodList items are bare); custom resources
    // keep them.
    let items: Vec<Value> = items
        .into_iter()
        .map(|o| {
            let mut o = o.clone();
            if !t.rt.custom
                && let Some(map) = o.as_object_mut()
            {
                map.remove("apiVersion");
                map.remove("kind");
            }
            o
        })
        .collect();
    Ok((
        200,
        json!({
            "apiVersion": t.rt.api_version(),
            "items": items,
            "kind": format!("{}List", t.rt.kind),
            "metadata": metadata,
        }),
    ))
}
