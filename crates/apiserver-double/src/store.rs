//! The object store and kube-apiserver's write rules: one global
//! `resourceVersion`, a change history that lists and watches replay, and
//! create/update/patch/delete with the preconditions, status-subresource
//! isolation, generation and finalizer semantics of the real registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::object::{self, meta_str, set_meta};
use super::requests::RequestRecord;
use super::resource::{Origin, ResourceKey, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, Cause};

/// Where one object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    /// Its resource.
    pub resource: ResourceKey,
    /// Its namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// What a write did to an object, as watch events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

/// One write in the history.
#[derive(Debug, Clone)]
pub struct Change {
    /// The `resourceVersion` the write produced.
    pub rv: u64,
    /// The object written.
    pub key: ObjectKey,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The object after the write (for deletes: its last state, new rv).
    pub object: Value,
    /// The object before the write (`None` for creates).
    pub previous: Option<Value>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: with a status subresource, `.status` is kept.
    Main,
    /// The `/status` subresource: only `.status` changes.
    Status,
    /// A test-side write that may change both.
    Whole,
}

/// The patch formats kube-apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchKind {
    /// The patch kind named by a `Content-Type` (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" => Some(Self::Apply),
            _ => None,
        }
    }

    /// The patch content types a resource accepts.
    pub fn accepted(rt: &ResourceType) -> &'static [&'static str] {
        match rt.origin {
            Origin::BuiltIn => &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ],
            Origin::Custom => &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ],
        }
    }
}

/// Options of a create.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateOpts {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// Keep `.status` even with a status subresource (test-side seeding).
    pub keep_status: bool,
    /// Skip the schema check (test-side insertion of malformed objects).
    pub skip_validation: bool,
}

/// Options of a patch.
#[derive(Debug, Clone, Default)]
pub struct PatchOpts {
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force` (apply only).
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// Finalizers remain: `deletionTimestamp` is set and the object stays.
    Pending(Value),
    /// The object is gone.
    Gone(Value),
}

/// Options of a list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `limit` (0 or absent: no paging).
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: Option<String>,
}

/// The held state. Guarded by one mutex in [`super::ApiServer`].
pub struct Store {
    types: BTreeMap<ResourceKey, Arc<ResourceType>>,
    objects: BTreeMap<ObjectKey, Value>,
    history: Vec<Change>,
    resource_version: u64,
    compacted_through: u64,
    /// Every answered request, oldest first.
    pub requests: Vec<RequestRecord>,
    notify: watch::Sender<u64>,
}

fn continue_token(rv: u64, namespace: &str, name: &str) -> String {
    let raw = json!({ "rv": rv, "ns": namespace, "name": name }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let parsed: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = parsed.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let ns = parsed.get("ns").and_then(Value::as_str).ok_or_else(bad)?;
    let name = parsed.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rv, ns.to_owned(), name.to_owned()))
}

/// Parses a `resourceVersion` the way kube-apiserver validates it.
pub fn parse_rv(rv: &str) -> Result<u64, ApiError> {
    rv.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: \"{rv}\": must be a valid resourceVersion"
        ))
    })
}

fn set_top(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => {
                map.insert(field.to_owned(), v);
            }
            None => {
                map.remove(field);
            }
        }
    }
}

/// Checks `apiVersion`/`kind` against the resource and fills them in.
fn check_type_meta(rt: &ResourceType, obj: &mut Value, required: bool) -> Result<(), ApiError> {
    let expected_version = rt.api_version();
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the object provided is unrecognized (not a JSON object)",
        ));
    };
    for (field, expected) in [
        ("apiVersion", expected_version.as_str()),
        ("kind", &rt.kind),
    ] {
        match map
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(found) if found == expected => {}
            Some(found) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} in the data ({found}) does not match the expected {field} ({expected})"
                )));
            }
            None if required => {
                return Err(ApiError::bad_request(format!("{field} must be set")));
            }
            None => {
                map.insert(field.to_owned(), Value::String(expected.to_owned()));
            }
        }
    }
    Ok(())
}

/// The name in the body must be the name in the URL.
fn check_name(obj: &Value, name: &str) -> Result<(), ApiError> {
    match meta_str(obj, "name") {
        Some(found) if found == name => Ok(()),
        found => Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            found.unwrap_or("")
        ))),
    }
}

/// Parses a server-side apply body: JSON, or YAML as the content type says.
fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    let parsed = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(_) => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("apply patch is not UTF-8"))?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| {
                ApiError::bad_request(format!("error decoding YAML apply patch: {e}"))
            })?
        }
    };
    if parsed.is_object() {
        Ok(parsed)
    } else {
        Err(ApiError::bad_request(
            "apply patch must be an object (a partial configuration)",
        ))
    }
}

/// System-owned metadata a client cannot change with an update.
const SYSTEM_META: [&str; 9] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
    "resourceVersion",
    "managedFields",
];

impl Store {
    /// An empty store that announces each new `resourceVersion` on `notify`.
    pub fn new(notify: watch::Sender<u64>) -> Self {
        let resource_version = *notify.borrow();
        Self {
            types: BTreeMap::new(),
            objects: BTreeMap::new(),
            history: Vec::new(),
            resource_version,
            compacted_through: resource_version,
            requests: Vec::new(),
            notify,
        }
    }

    /// Serves a resource (replacing an earlier registration of the same key).
    pub fn register(&mut self, rt: ResourceType) {
        self.types.insert(rt.key(), Arc::new(rt));
    }

    /// The resource registered under a key.
    pub fn resource(&self, key: &ResourceKey) -> Option<Arc<ResourceType>> {
        self.types.get(key).cloned()
    }

    /// The resource whose objects carry this `apiVersion` and `kind`.
    pub fn resource_for(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .values()
            .find(|rt| rt.api_version() == api_version && rt.kind == kind)
            .cloned()
    }

    /// Whether any resource is served under this group and version.
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.types
            .keys()
            .any(|k| k.group == group && k.version == version)
    }

    /// The newest `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Forgets the change history, as etcd compaction does: watches and
    /// consistent lists from an older `resourceVersion` then get `410 Gone`.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_through = self.resource_version;
    }

    fn key(rt: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            resource: rt.key(),
            namespace: if rt.namespaced() {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }

    /// The stored object, or `404 NotFound`.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&Self::key(rt, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Every stored object of a resource (in one namespace, or all).
    pub fn all(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<Value> {
        let resource = rt.key();
        self.objects
            .iter()
            .filter(|(k, _)| k.resource == resource)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn bump(&mut self, obj: &mut Value) -> u64 {
        self.resource_version += 1;
        set_meta(
            obj,
            "resourceVersion",
            Some(Value::String(self.resource_version.to_string())),
        );
        self.resource_version
    }

    fn commit_put(
        &mut self,
        key: ObjectKey,
        mut obj: Value,
        kind: ChangeKind,
        previous: Option<Value>,
    ) -> Value {
        let rv = self.bump(&mut obj);
        self.objects.insert(key.clone(), obj.clone());
        self.history.push(Change {
            rv,
            key,
            kind,
            object: obj.clone(),
            previous,
        });
        self.notify.send_replace(rv);
        obj
    }

    fn commit_remove(&mut self, key: ObjectKey, mut obj: Value, previous: Value) -> Value {
        let rv = self.bump(&mut obj);
        self.objects.remove(&key);
        self.history.push(Change {
            rv,
            key,
            kind: ChangeKind::Deleted,
            object: obj.clone(),
            previous: Some(previous),
        });
        self.notify.send_replace(rv);
        obj
    }

    fn check_namespace(
        rt: &ResourceType,
        namespace: &str,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if rt.namespaced() {
            match meta_str(obj, "namespace") {
                Some(found) if found != namespace => Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                )),
                _ => {
                    set_meta(obj, "namespace", Some(Value::String(namespace.to_owned())));
                    Ok(())
                }
            }
        } else {
            set_meta(obj, "namespace", None);
            Ok(())
        }
    }

    /// The type's schema check: `422 Invalid` for custom resources (schema
    /// validation), `400 BadRequest` for built-ins (a decoding failure).
    fn check_schema(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
        let Some(validator) = &rt.validator else {
            return Ok(());
        };
        validator(obj).map_err(|why| match rt.origin {
            Origin::Custom => ApiError::invalid_object(
                rt,
                name,
                vec![Cause {
                    reason: "FieldValueInvalid",
                    field: String::new(),
                    message: why,
                }],
            ),
            Origin::BuiltIn => ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
                kind = rt.kind,
                version = rt.version
            )),
        })
    }

    /// Creates an object (POST, or apply of an absent object).
    pub fn create(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
        opts: CreateOpts,
    ) -> Result<Value, ApiError> {
        check_type_meta(rt, &mut obj, false)?;
        Self::check_namespace(rt, namespace, &mut obj)?;
        if meta_str(&obj, "resourceVersion").is_some() {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (Some(name), _) => name.to_owned(),
            (None, Some(prefix)) => self.generate_name(rt, namespace, prefix),
            (None, None) => {
                return Err(ApiError::invalid_object(
                    rt,
                    "",
                    vec![Cause::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ));
            }
        };
        if !object::is_dns_subdomain(&name) {
            return Err(ApiError::invalid_object(
                rt,
                &name,
                vec![Cause::invalid(
                    "metadata.name",
                    &name,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                     characters, '-' or '.', and must start and end with an alphanumeric character",
                )],
            ));
        }
        set_meta(&mut obj, "name", Some(Value::String(name.clone())));
        if rt.status_subresource && !opts.keep_status {
            set_top(&mut obj, "status", None);
        }
        if !opts.skip_validation {
            Self::check_schema(rt, &name, &obj)?;
        }
        if let Some(normalize) = rt.normalizer {
            normalize(&mut obj);
        }
        set_meta(&mut obj, "uid", Some(Value::String(object::new_uid())));
        set_meta(&mut obj, "creationTimestamp", Some(object::now()));
        set_meta(
            &mut obj,
            "generation",
            rt.tracks_generation.then(|| Value::from(1)),
        );
        for cleared in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ] {
            set_meta(&mut obj, cleared, None);
        }
        let key = Self::key(rt, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        if opts.dry_run {
            return Ok(obj);
        }
        Ok(self.commit_put(key, obj, ChangeKind::Added, None))
    }

    fn generate_name(&self, rt: &ResourceType, namespace: &str, prefix: &str) -> String {
        // Random suffixes rarely collide; a few tries make it negligible.
        let mut candidate = format!("{prefix}{}", object::name_suffix());
        for _ in 0..8 {
            if !self
                .objects
                .contains_key(&Self::key(rt, namespace, &candidate))
            {
                break;
            }
            candidate = format!("{prefix}{}", object::name_suffix());
        }
        candidate
    }

    fn check_stale(
        rt: &ResourceType,
        name: &str,
        candidate: &Value,
        old: &Value,
    ) -> Result<(), ApiError> {
        match meta_str(candidate, "resourceVersion") {
            Some(rv) if Some(rv) != meta_str(old, "resourceVersion") => {
                Err(ApiError::stale(rt, name))
            }
            _ => Ok(()),
        }
    }

    /// Replaces an object (PUT of the main resource or of `/status`).
    pub fn replace(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        mut body: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        check_type_meta(rt, &mut body, false)?;
        check_name(&body, name)?;
        Self::check_namespace(rt, namespace, &mut body)?;
        let old = self.get(rt, namespace, name)?;
        if meta_str(&body, "resourceVersion").is_none() && !rt.allow_unconditional_update {
            return Err(ApiError::invalid_object(
                rt,
                name,
                vec![Cause::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        Self::check_stale(rt, name, &body, &old)?;
        self.finish_update(rt, namespace, name, old, body, part, dry_run, false)
    }

    /// Patches an object; apply of an absent object creates it (`201`).
    #[allow(clippy::too_many_arguments)] // mirrors the request's parts one to one
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        kind: PatchKind,
        body: &[u8],
        opts: &PatchOpts,
    ) -> Result<(u16, Value), ApiError> {
        if opts.force && kind != PatchKind::Apply {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                vec![Cause::forbidden(
                    "force",
                    "may not be specified for non-apply patch",
                )],
            ));
        }
        let manager = opts.field_manager.as_deref().unwrap_or("");
        if kind == PatchKind::Apply && manager.is_empty() {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                vec![Cause::required(
                    "fieldManager",
                    "is required for apply patch",
                )],
            ));
        }
        if kind == PatchKind::Strategic && rt.origin == Origin::Custom {
            return Err(ApiError::unsupported_media_type(PatchKind::accepted(rt)));
        }
        let existing = self.objects.get(&Self::key(rt, namespace, name)).cloned();
        let (old, mut candidate) = match kind {
            PatchKind::Apply => {
                let mut applied = parse_apply(body)?;
                check_type_meta(rt, &mut applied, true)?;
                if meta_str(&applied, "name").is_some() {
                    check_name(&applied, name)?;
                }
                let Some(old) = existing else {
                    if part != Part::Main {
                        return Err(ApiError::not_found(rt, name));
                    }
                    set_meta(&mut applied, "name", Some(Value::String(name.to_owned())));
                    let created = self.create(
                        rt,
                        namespace,
                        applied,
                        CreateOpts {
                            dry_run: opts.dry_run,
                            ..CreateOpts::default()
                        },
                    )?;
                    return Ok((201, created));
                };
                let mut candidate = old.clone();
                json_patch::merge(&mut candidate, &applied);
                (old, candidate)
            }
            PatchKind::Merge | PatchKind::Strategic => {
                let patch: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                let old = existing.ok_or_else(|| ApiError::not_found(rt, name))?;
                let mut candidate = old.clone();
                json_patch::merge(&mut candidate, &patch);
                (old, candidate)
            }
            PatchKind::Json => {
                let ops: json_patch::Patch = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                let old = existing.ok_or_else(|| ApiError::not_found(rt, name))?;
                let mut candidate = old.clone();
                for op in ops.iter() {
                    // kube-apiserver's JSON patch library (evanphx/json-patch)
                    // lets `test` with a null value pass on a missing path;
                    // kube's finalizer helper relies on it.
                    if let json_patch::PatchOperation::Test(test) = op
                        && test.value.is_null()
                        && candidate.pointer(test.path.as_str()).is_none()
                    {
                        continue;
                    }
                    json_patch::patch(&mut candidate, std::slice::from_ref(op))
                        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
                }
                (old, candidate)
            }
        };
        check_type_meta(rt, &mut candidate, false)?;
        check_name(&candidate, name)?;
        Self::check_namespace(rt, namespace, &mut candidate)?;
        Self::check_stale(rt, name, &candidate, &old)?;
        let updated = self.finish_update(
            rt,
            namespace,
            name,
            old,
            candidate,
            part,
            opts.dry_run,
            false,
        )?;
        Ok((200, updated))
    }

    /// Test-side whole-object write: status included, no resourceVersion
    /// precondition, no schema check.
    pub fn overwrite(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        mut candidate: Value,
    ) -> Result<Value, ApiError> {
        let old = self.get(rt, namespace, name)?;
        check_type_meta(rt, &mut candidate, false)?;
        self.finish_update(
            rt,
            namespace,
            name,
            old,
            candidate,
            Part::Whole,
            false,
            true,
        )
    }

    /// The common tail of every update: the registry strategy's rules, then
    /// the write (or none, when nothing changed).
    #[allow(clippy::too_many_arguments)] // one call site per write kind
    fn finish_update(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        old: Value,
        candidate: Value,
        part: Part,
        dry_run: bool,
        skip_validation: bool,
    ) -> Result<Value, ApiError> {
        let mut new = match part {
            Part::Status => {
                let mut n = old.clone();
                set_top(&mut n, "status", candidate.get("status").cloned());
                n
            }
            Part::Main if rt.status_subresource => {
                let mut n = candidate;
                set_top(&mut n, "status", old.get("status").cloned());
                n
            }
            Part::Main | Part::Whole => candidate,
        };
        let old_meta = object::meta(&old).cloned().unwrap_or_default();
        for field in SYSTEM_META {
            set_meta(&mut new, field, old_meta.get(field).cloned());
        }
        if !skip_validation {
            Self::check_schema(rt, name, &new)?;
        }
        if part != Part::Status
            && let Some(normalize) = rt.normalizer
        {
            normalize(&mut new);
        }
        if object::is_deleting(&old) {
            let before = object::finalizers(&old);
            let added: Vec<String> = object::finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid_object(
                    rt,
                    name,
                    vec![Cause::forbidden(
                        "metadata.finalizers",
                        &format!(
                            "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                    )],
                ));
            }
        }
        if rt.tracks_generation && part != Part::Status {
            let ignored: &[&str] = if rt.status_subresource {
                &["metadata", "status"]
            } else {
                &["metadata"]
            };
            if object::without(&new, ignored) != object::without(&old, ignored) {
                set_meta(
                    &mut new,
                    "generation",
                    Some(Value::from(object::generation(&old) + 1)),
                );
            }
        }
        if new == old {
            // kube-apiserver skips writes that change nothing: same
            // resourceVersion, no watch event.
            return Ok(old);
        }
        if dry_run {
            return Ok(new);
        }
        let key = Self::key(rt, namespace, name);
        if object::is_deleting(&old) && object::finalizers(&new).is_empty() {
            return Ok(self.commit_remove(key, new, old));
        }
        Ok(self.commit_put(key, new, ChangeKind::Modified, Some(old)))
    }

    /// Deletes an object, or starts its deletion when finalizers remain.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        let old = self.get(rt, namespace, name)?;
        if let Some(uid) = &opts.uid {
            let actual = meta_str(&old, "uid").unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.resource_version {
            let actual = meta_str(&old, "resourceVersion").unwrap_or("");
            if rv != actual {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    ),
                ));
            }
        }
        let key = Self::key(rt, namespace, name);
        if !object::finalizers(&old).is_empty() {
            if object::is_deleting(&old) {
                return Ok(Deleted::Pending(old));
            }
            let mut new = old.clone();
            let generation = object::generation(&new);
            if generation > 0 {
                // The registry bumps generation when deletion starts.
                set_meta(&mut new, "generation", Some(Value::from(generation + 1)));
            }
            set_meta(&mut new, "deletionTimestamp", Some(object::now()));
            set_meta(&mut new, "deletionGracePeriodSeconds", Some(Value::from(0)));
            if opts.dry_run {
                return Ok(Deleted::Pending(new));
            }
            return Ok(Deleted::Pending(self.commit_put(
                key,
                new,
                ChangeKind::Modified,
                Some(old),
            )));
        }
        if opts.dry_run {
            return Ok(Deleted::Gone(old));
        }
        Ok(Deleted::Gone(self.commit_remove(key, old.clone(), old)))
    }

    /// The `resourceVersion` a list is served at.
    fn list_rv(&self, query: &ListQuery) -> Result<u64, ApiError> {
        let current = self.resource_version;
        let asked = match query.resource_version.as_deref() {
            None | Some("") | Some("0") => return Ok(current),
            Some(rv) => parse_rv(rv)?,
        };
        if asked > current {
            return Err(ApiError::too_large_resource_version(asked, current));
        }
        match query.version_match.as_deref() {
            Some("Exact") => {
                if asked < self.compacted_through {
                    Err(self.too_old(asked))
                } else {
                    Ok(asked)
                }
            }
            None | Some("") | Some("NotOlderThan") => Ok(current),
            Some(other) => Err(ApiError::bad_request(format!(
                "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
            ))),
        }
    }

    fn too_old(&self, rv: u64) -> ApiError {
        ApiError::expired(format!(
            "too old resource version: {rv} ({})",
            self.compacted_through + 1
        ))
    }

    /// The objects of a resource as they were at `rv`, rebuilt by undoing
    /// newer changes. The caller checks `rv` is not compacted.
    fn snapshot(&self, rt: &ResourceType, rv: u64) -> BTreeMap<(String, String), Value> {
        let resource = rt.key();
        let mut state: BTreeMap<(String, String), Value> = self
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource)
            .map(|(k, v)| ((k.namespace.clone(), k.name.clone()), v.clone()))
            .collect();
        for change in self.history.iter().rev() {
            if change.rv <= rv {
                break;
            }
            if change.key.resource != resource {
                continue;
            }
            let at = (change.key.namespace.clone(), change.key.name.clone());
            match (&change.kind, &change.previous) {
                (ChangeKind::Added, _) => {
                    state.remove(&at);
                }
                (_, Some(previous)) => {
                    state.insert(at, previous.clone());
                }
                (_, None) => {}
            }
        }
        state
    }

    /// Lists a collection as kube-apiserver answers it (`{Kind}List`).
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &ListQuery,
    ) -> Result<Value, ApiError> {
        let (rv, start_after) = match &query.continue_token {
            Some(token) => {
                let (rv, ns, name) = parse_continue(token)?;
                if rv < self.compacted_through {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list \
                         result. You can start a new list without the continue parameter."
                            .to_owned(),
                    ));
                }
                (rv, Some((ns, name)))
            }
            None => (self.list_rv(query)?, None),
        };
        let matching: Vec<((String, String), Value)> = self
            .snapshot(rt, rv)
            .into_iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|want| ns == want))
            .filter(|(at, _)| start_after.as_ref().is_none_or(|after| at > after))
            .filter(|(_, obj)| query.labels.matches(obj) && query.fields.matches(obj))
            .collect();
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let remaining = matching.len().saturating_sub(limit);
        let mut list_meta = Map::new();
        list_meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
        let page: Vec<((String, String), Value)> = matching.into_iter().take(limit).collect();
        if remaining > 0
            && let Some(((ns, name), _)) = page.last()
        {
            list_meta.insert(
                "continue".to_owned(),
                Value::String(continue_token(rv, ns, name)),
            );
            list_meta.insert("remainingItemCount".to_owned(), Value::from(remaining));
        }
        let items: Vec<Value> = page
            .into_iter()
            .map(|(_, obj)| match rt.origin {
                // Typed lists of built-ins carry no per-item apiVersion/kind.
                Origin::BuiltIn => object::without(&obj, &["apiVersion", "kind"]),
                Origin::Custom => obj,
            })
            .collect();
        Ok(json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": list_meta,
            "items": items,
        }))
    }

    /// The changes after `cursor` (all resources), or `410` when compacted.
    pub fn changes_after(&self, cursor: u64) -> Result<&[Change], ApiError> {
        if cursor < self.compacted_through {
            return Err(self.too_old(cursor));
        }
        let start = self.history.partition_point(|c| c.rv <= cursor);
        Ok(&self.history[start..])
    }
}
