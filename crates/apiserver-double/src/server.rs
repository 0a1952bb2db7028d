//! The HTTP side: maps kube-apiserver's URL space and verbs onto the store,
//! and records every request.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::object;
use super::requests::{RequestRecord, Verb};
use super::resource::{ResourceKey, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{CreateOpts, DeleteOpts, Deleted, ListQuery, Part, PatchKind, PatchOpts, Store};
use super::watch::{self as watching, WatchQuery};

/// kube-apiserver's request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// State shared by the HTTP handlers, open watches and the test handle.
pub struct Shared {
    store: Mutex<Store>,
    /// The newest `resourceVersion`, for watches to wait on.
    pub changes: watch::Receiver<u64>,
    /// Becomes `true` when the server stops; open watches end.
    pub shutdown: watch::Receiver<bool>,
    /// How late each watch event is delivered (milliseconds; 0: at once),
    /// set by a test to model a lagging watch cache.
    pub watch_delay_ms: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Shared state over a store.
    pub fn new(
        store: Store,
        changes: watch::Receiver<u64>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            store: Mutex::new(store),
            changes,
            shutdown,
            watch_delay_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The store. A panic while holding the lock leaves consistent data
    /// (every write is committed in one step), so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router answering every path.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Query parameters in request order.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            ))),
        }
    }
}

/// A resolved resource path.
struct Target {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

enum Route {
    Version,
    Resource(Target),
}

fn resolve(store: &Store, group: &str, version: &str, rest: &[&str]) -> Result<Route, ApiError> {
    let lookup = |plural: &str| {
        store.resource(&ResourceKey {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
        })
    };
    let owned = |s: Option<&&str>| s.map(|s| (*s).to_owned());
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if tail.len() <= 2 && lookup(plural).is_some_and(|rt| rt.namespaced()) =>
        {
            let rt = lookup(plural).ok_or_else(ApiError::path_not_found)?;
            Target {
                rt,
                namespace: Some((*ns).to_owned()),
                name: owned(tail.first()),
                subresource: owned(tail.get(1)),
            }
        }
        [plural, tail @ ..] if tail.len() <= 2 => {
            let rt = lookup(plural).ok_or_else(ApiError::path_not_found)?;
            // Namespaced objects are only reachable inside their namespace;
            // the cluster-wide path serves list and watch only.
            if rt.namespaced() && !tail.is_empty() {
                return Err(ApiError::path_not_found());
            }
            Target {
                rt,
                namespace: None,
                name: owned(tail.first()),
                subresource: owned(tail.get(1)),
            }
        }
        _ => return Err(ApiError::path_not_found()),
    };
    if let Some(sub) = &target.subresource
        && !(sub == "status" && target.rt.status_subresource)
    {
        return Err(ApiError::path_not_found());
    }
    Ok(Route::Resource(target))
}

fn route(store: &Store, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(ApiError::path_not_found());
    }
    match segments.as_slice() {
        ["version"] => Ok(Route::Version),
        ["api", "v1", rest @ ..] if !rest.is_empty() => resolve(store, "", "v1", rest),
        ["apis", group, version, rest @ ..]
            if !rest.is_empty() && store.serves_group_version(group, version) =>
        {
            resolve(store, group, version, rest)
        }
        _ => Err(ApiError::path_not_found()),
    }
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether the client asked for `PartialObjectMetadata`; other `as=`
/// forms (tables) are not served.
fn metadata_only(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(false);
    };
    if accept.contains("as=PartialObjectMetadata") {
        Ok(true)
    } else if accept.contains("as=") {
        Err(ApiError::not_acceptable())
    } else {
        Ok(false)
    }
}

fn render(obj: &Value, metadata_only: bool) -> Value {
    if metadata_only {
        object::partial_metadata(obj)
    } else {
        obj.clone()
    }
}

fn render_list(mut list: Value, metadata_only: bool) -> Value {
    if !metadata_only {
        return list;
    }
    let items: Vec<Value> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(object::partial_metadata).collect())
        .unwrap_or_default();
    if let Some(map) = list.as_object_mut() {
        map.insert("kind".to_owned(), json!("PartialObjectMetadataList"));
        map.insert("apiVersion".to_owned(), json!("meta.k8s.io/v1"));
        map.insert("items".to_owned(), Value::Array(items));
    }
    list
}

/// The body of a POST or PUT: JSON, or YAML as kube-apiserver also accepts.
fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let base = content_type.split(';').next().unwrap_or("").trim();
    let parsed = match base {
        "application/json" => serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))?,
        "application/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("YAML body is not UTF-8"))?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))?
        }
        _ => {
            return Err(ApiError::unsupported_media_type(&[
                "application/json",
                "application/yaml",
            ]));
        }
    };
    if parsed.is_object() {
        Ok(parsed)
    } else {
        Err(ApiError::bad_request(
            "the object provided is unrecognized (not a JSON object)",
        ))
    }
}

/// `DeleteOptions` from the body (as kube sends it) and the query.
fn delete_opts(params: &Params, body: &[u8]) -> Result<DeleteOpts, ApiError> {
    let mut opts = DeleteOpts {
        dry_run: params.dry_run()?,
        ..DeleteOpts::default()
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(opts);
    }
    let options: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?;
    if options
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|modes| modes.iter().any(|m| m == "All"))
    {
        opts.dry_run = true;
    }
    if let Some(pre) = options.get("preconditions") {
        opts.uid = pre.get("uid").and_then(Value::as_str).map(str::to_owned);
        opts.resource_version = pre
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    Ok(opts)
}

fn deleted_status(rt: &ResourceType, obj: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": object::meta_str(obj, "name").unwrap_or(""),
            "group": rt.group,
            "kind": rt.plural,
            "uid": object::meta_str(obj, "uid").unwrap_or(""),
        }
    })
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "gitVersion": "v1.37.0-apiserver-double",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut record = RequestRecord {
        verb: Verb::Other,
        group: String::new(),
        resource: String::new(),
        subresource: None,
        namespace: None,
        name: None,
        patch_type: None,
        code: 0,
        path: parts.uri.path().to_owned(),
        metadata_only: false,
    };
    let response = match dispatch(&shared, &parts, body, &mut record).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    record.code = response.status().as_u16();
    shared.lock().requests.push(record);
    response
}

async fn dispatch(
    shared: &Arc<Shared>,
    parts: &Parts,
    body: Body,
    record: &mut RequestRecord,
) -> Result<Response, ApiError> {
    let params = Params(
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?
            .0,
    );
    let route = route(&shared.lock(), parts.uri.path())?;
    let target = match route {
        Route::Version => {
            record.verb = Verb::Get;
            return Ok(json_response(StatusCode::OK, &version_info()));
        }
        Route::Resource(target) => target,
    };
    let Target {
        rt,
        namespace,
        name,
        subresource,
    } = target;
    record.group.clone_from(&rt.group);
    record.resource.clone_from(&rt.plural);
    record.subresource.clone_from(&subresource);
    record.namespace.clone_from(&namespace);
    record.name.clone_from(&name);
    record.verb = match (&parts.method, &name) {
        (&Method::GET, None) if params.flag("watch") => Verb::Watch,
        (&Method::GET, None) => Verb::List,
        (&Method::GET, Some(_)) => Verb::Get,
        (&Method::POST, None) => Verb::Create,
        (&Method::PUT, Some(_)) => Verb::Update,
        (&Method::PATCH, Some(_)) => Verb::Patch,
        (&Method::DELETE, Some(_)) => Verb::Delete,
        (&Method::DELETE, None) => Verb::DeleteCollection,
        _ => return Err(ApiError::method_not_allowed()),
    };
    // Collection writes need the object's own scope: a namespaced
    // resource's cluster-wide path only lists and watches.
    if matches!(record.verb, Verb::Create | Verb::DeleteCollection)
        && rt.namespaced() != namespace.is_some()
    {
        return Err(ApiError::method_not_allowed());
    }
    let meta_only = metadata_only(&parts.headers)?;
    record.metadata_only = meta_only;
    let ns = namespace.as_deref().unwrap_or("");
    let part = if subresource.is_some() {
        Part::Status
    } else {
        Part::Main
    };
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large())?;
    let name = name.unwrap_or_default();
    match record.verb {
        Verb::Watch => {
            let query = WatchQuery {
                labels: LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?,
                fields: FieldSelector::parse(
                    params.get("fieldSelector").unwrap_or(""),
                    rt.namespaced(),
                )?,
                resource_version: params.get("resourceVersion").map(str::to_owned),
                version_match: params.get("resourceVersionMatch").map(str::to_owned),
                allow_bookmarks: params.flag("allowWatchBookmarks"),
                send_initial_events: params.flag("sendInitialEvents"),
                timeout_seconds: params
                    .get("timeoutSeconds")
                    .map(|s| {
                        s.parse::<u64>().map_err(|_| {
                            ApiError::bad_request(format!("timeoutSeconds: invalid value {s:?}"))
                        })
                    })
                    .transpose()?,
            };
            let body = watching::open(shared, &rt, namespace.as_deref(), query, meta_only)?;
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response())
        }
        Verb::List => {
            let query = ListQuery {
                labels: LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?,
                fields: FieldSelector::parse(
                    params.get("fieldSelector").unwrap_or(""),
                    rt.namespaced(),
                )?,
                limit: params
                    .get("limit")
                    .map(|s| {
                        s.parse::<usize>().map_err(|_| {
                            ApiError::bad_request(format!("limit: invalid value {s:?}"))
                        })
                    })
                    .transpose()?,
                continue_token: params.get("continue").map(str::to_owned),
                resource_version: params.get("resourceVersion").map(str::to_owned),
                version_match: params.get("resourceVersionMatch").map(str::to_owned),
            };
            let list = shared.lock().list(&rt, namespace.as_deref(), &query)?;
            Ok(json_response(StatusCode::OK, &render_list(list, meta_only)))
        }
        Verb::Get => {
            let obj = shared.lock().get(&rt, ns, &name)?;
            Ok(json_response(StatusCode::OK, &render(&obj, meta_only)))
        }
        Verb::Create => {
            if part == Part::Status {
                return Err(ApiError::method_not_allowed());
            }
            let obj = decode_object(&parts.headers, &bytes)?;
            let opts = CreateOpts {
                dry_run: params.dry_run()?,
                ..CreateOpts::default()
            };
            let created = shared.lock().create(&rt, ns, obj, opts)?;
            Ok(json_response(
                StatusCode::CREATED,
                &render(&created, meta_only),
            ))
        }
        Verb::Update => {
            let obj = decode_object(&parts.headers, &bytes)?;
            let dry_run = params.dry_run()?;
            let updated = shared.lock().replace(&rt, ns, &name, part, obj, dry_run)?;
            Ok(json_response(StatusCode::OK, &render(&updated, meta_only)))
        }
        Verb::Patch => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            record.patch_type = Some(content_type.to_owned());
            let kind = PatchKind::from_content_type(content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(PatchKind::accepted(&rt)))?;
            let opts = PatchOpts {
                field_manager: params.get("fieldManager").map(str::to_owned),
                force: params.flag("force"),
                dry_run: params.dry_run()?,
            };
            let (code, patched) = shared
                .lock()
                .patch(&rt, ns, &name, part, kind, &bytes, &opts)?;
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            Ok(json_response(code, &render(&patched, meta_only)))
        }
        Verb::Delete => {
            if part == Part::Status {
                return Err(ApiError::method_not_allowed());
            }
            let opts = delete_opts(&params, &bytes)?;
            match shared.lock().delete(&rt, ns, &name, &opts)? {
                Deleted::Pending(obj) => {
                    Ok(json_response(StatusCode::OK, &render(&obj, meta_only)))
                }
                Deleted::Gone(obj) => Ok(json_response(StatusCode::OK, &deleted_status(&rt, &obj))),
            }
        }
        Verb::DeleteCollection => {
            let opts = delete_opts(&params, &bytes)?;
            let labels = LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?;
            let fields =
                FieldSelector::parse(params.get("fieldSelector").unwrap_or(""), rt.namespaced())?;
            let mut store = shared.lock();
            let mut items = Vec::new();
            for obj in store.all(&rt, namespace.as_deref()) {
                if !(labels.matches(&obj) && fields.matches(&obj)) {
                    continue;
                }
                let Some(obj_name) = object::meta_str(&obj, "name").map(str::to_owned) else {
                    continue;
                };
                let result = store.delete(&rt, ns, &obj_name, &opts)?;
                let (Deleted::Pending(done) | Deleted::Gone(done)) = result;
                items.push(done);
            }
            let list = json!({
                "kind": format!("{}List", rt.kind),
                "apiVersion": rt.api_version(),
                "metadata": { "resourceVersion": store.resource_version().to_string() },
                "items": items,
            });
            drop(store);
            Ok(json_response(StatusCode::OK, &render_list(list, meta_only)))
        }
        Verb::Other => Err(ApiError::method_not_allowed()),
    }
}
