//! The test-side handle: start and stop the server, build `kube` clients
//! for it, seed and inspect objects, and read the request log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::object;
use super::requests::{RequestRecord, Verb};
use super::resource::{ResourceKey, ResourceType};
use super::server::{self, Shared};
use super::status::ApiError;
use super::store::{CreateOpts, DeleteOpts, Deleted, Store};

/// The `resourceVersion` of an empty server.
const FIRST_RESOURCE_VERSION: u64 = 1;

/// A running in-process API server on `127.0.0.1`. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Delivers every watch event `delay` late from now on (a lagging
    /// watch cache: a client's cached copy trails the writes it made).
    pub fn set_watch_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared
            .watch_delay_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Starts a server serving Secrets, ConfigMaps, Events (both APIs) and
    /// Leases; register custom resources with [`ApiServer::register`].
    ///
    /// # Panics
    /// When no loopback port can be bound (a broken test host).
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(server) => server,
            Err(e) => panic!("API server double: cannot listen on 127.0.0.1: {e}"),
        }
    }

    /// Starts a server, reporting a failure to bind.
    pub async fn try_start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (changes_tx, changes_rx) = watch::channel(FIRST_RESOURCE_VERSION);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut store = Store::new(changes_tx);
        for rt in [
            ResourceType::secrets(),
            ResourceType::config_maps(),
            ResourceType::events(),
            ResourceType::core_events(),
            ResourceType::leases(),
        ] {
            store.register(rt);
        }
        let shared = Arc::new(Shared::new(store, changes_rx, shutdown_rx.clone()));
        let app = server::router(Arc::clone(&shared));
        let mut stopping = shutdown_rx;
        let task = tokio::spawn(async move {
            // An accept error ends the server; tests then see connection
            // errors from their client, which is the signal they need.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(Self {
            shared,
            addr,
            shutdown: shutdown_tx,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A `kube::Config` for this server: plain HTTP, no credentials,
    /// default namespace `default`.
    ///
    /// # Panics
    /// Never in practice: the URL is built from a socket address.
    pub fn config(&self) -> kube::Config {
        match self.url().parse() {
            Ok(uri) => kube::Config::new(uri),
            Err(e) => panic!("API server double: bad URL {}: {e}", self.url()),
        }
    }

    /// A new `kube::Client` talking to this server.
    ///
    /// # Panics
    /// When kube cannot build an HTTP client (not expected for plain HTTP).
    pub fn client(&self) -> kube::Client {
        match kube::Client::try_from(self.config()) {
            Ok(client) => client,
            Err(e) => panic!("API server double: cannot build a kube client: {e}"),
        }
    }

    /// Serves another resource (as installing a CRD does).
    pub fn register(&self, rt: ResourceType) {
        self.shared.lock().register(rt);
    }

    fn resource_of<K: Resource<DynamicType = ()>>(&self) -> Result<Arc<ResourceType>, ApiError> {
        self.shared
            .lock()
            .resource(&ResourceKey::of::<K>())
            .ok_or_else(ApiError::path_not_found)
    }

    /// Creates an object directly (no HTTP, not in the request log) with
    /// create semantics (uid, resourceVersion, generation, timestamps) but
    /// keeping `.status`, so a test can seed an observed state. Watches see it.
    pub fn insert<K>(&self, obj: &K) -> Result<K, ApiError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let rt = self.resource_of::<K>()?;
        let value = serde_json::to_value(obj)
            .map_err(|e| ApiError::bad_request(format!("cannot serialize: {e}")))?;
        let namespace = object::meta_str(&value, "namespace")
            .unwrap_or("default")
            .to_owned();
        let opts = CreateOpts {
            keep_status: true,
            ..CreateOpts::default()
        };
        let created = self.shared.lock().create(&rt, &namespace, value, opts)?;
        serde_json::from_value(created)
            .map_err(|e| ApiError::bad_request(format!("stored object does not fit the type: {e}")))
    }

    /// Creates an object from raw JSON without the schema check, to seed
    /// malformed objects; the resource is found from `apiVersion` and `kind`.
    pub fn insert_value(&self, obj: Value) -> Result<Value, ApiError> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let mut store = self.shared.lock();
        let rt = store
            .resource_for(api_version, kind)
            .ok_or_else(ApiError::path_not_found)?;
        let namespace = object::meta_str(&obj, "namespace")
            .unwrap_or("default")
            .to_owned();
        let opts = CreateOpts {
            keep_status: true,
            skip_validation: true,
            ..CreateOpts::default()
        };
        store.create(&rt, &namespace, obj, opts)
    }

    /// The stored object, as JSON.
    pub fn get_value(
        &self,
        key: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let store = self.shared.lock();
        let rt = store.resource(key)?;
        store.get(&rt, namespace.unwrap_or(""), name).ok()
    }

    /// The stored object, typed.
    ///
    /// # Panics
    /// When the stored JSON does not deserialize as `K` (use
    /// [`ApiServer::get_value`] for malformed objects).
    pub fn get<K>(&self, namespace: Option<&str>, name: &str) -> Option<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let value = self.get_value(&ResourceKey::of::<K>(), namespace, name)?;
        match serde_json::from_value(value) {
            Ok(obj) => Some(obj),
            Err(e) => panic!("stored {name} does not deserialize: {e}"),
        }
    }

    /// Every stored object of a type (in one namespace, or all), ordered
    /// by namespace and name.
    ///
    /// # Panics
    /// When a stored object does not deserialize as `K`.
    pub fn list<K>(&self, namespace: Option<&str>) -> Vec<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let Ok(rt) = self.resource_of::<K>() else {
            return Vec::new();
        };
        let values = self.shared.lock().all(&rt, namespace);
        values
            .into_iter()
            .map(|v| match serde_json::from_value(v) {
                Ok(obj) => obj,
                Err(e) => panic!("stored object does not deserialize: {e}"),
            })
            .collect()
    }

    /// Changes a stored object directly, status included, as another
    /// writer would (resourceVersion and generation rules apply, watches
    /// see a MODIFIED event; no precondition, no schema check).
    pub fn modify<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut K),
    ) -> Result<K, ApiError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let rt = self.resource_of::<K>()?;
        let ns = namespace.unwrap_or("");
        let mut store = self.shared.lock();
        let current = store.get(&rt, ns, name)?;
        let mut typed: K = serde_json::from_value(current).map_err(|e| {
            ApiError::bad_request(format!("stored object does not fit the type: {e}"))
        })?;
        change(&mut typed);
        let candidate = serde_json::to_value(&typed)
            .map_err(|e| ApiError::bad_request(format!("cannot serialize: {e}")))?;
        let written = store.overwrite(&rt, ns, name, candidate)?;
        serde_json::from_value(written)
            .map_err(|e| ApiError::bad_request(format!("stored object does not fit the type: {e}")))
    }

    /// Deletes a stored object directly with DELETE semantics: with
    /// finalizers it only gets a `deletionTimestamp`. Returns whether it is gone.
    pub fn delete<K>(&self, namespace: Option<&str>, name: &str) -> Result<bool, ApiError>
    where
        K: Resource<DynamicType = ()>,
    {
        let rt = self.resource_of::<K>()?;
        let outcome = self.shared.lock().delete(
            &rt,
            namespace.unwrap_or(""),
            name,
            &DeleteOpts::default(),
        )?;
        Ok(matches!(outcome, Deleted::Gone(_)))
    }

    /// The newest `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version()
    }

    /// Drops the change history (etcd compaction): watches resuming from,
    /// and exact lists at, an older `resourceVersion` get `410 Gone`.
    pub fn compact(&self) {
        self.shared.lock().compact();
    }

    /// Every answered request, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many requests had this verb and targeted `resource`
    /// (`secrets`, or `mediantdevices/status` for a subresource).
    pub fn count(&self, verb: Verb, resource: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.verb == verb && r.is_for(resource))
            .count()
    }

    /// How many writes (create, update, patch, delete) targeted `resource`.
    pub fn writes(&self, resource: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.verb.is_write() && r.is_for(resource))
            .count()
    }

    /// Forgets the request log (e.g. after a test's setup phase).
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Stops the server: open watches end, idle connections close, and
    /// this waits (up to 5 s) for the listener task to finish.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            // A connection that never closes must not hang the test.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
