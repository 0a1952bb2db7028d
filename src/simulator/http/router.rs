//! The HTTP application of one device: the core resources, the auxiliary
//! routers, the control endpoint and the guard in front of `/api`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use crate::simulator::device::Device;
use crate::simulator::http::ApiError;
use crate::simulator::http::control;
use crate::simulator::http::guard;
use crate::simulator::resources::actions;
use crate::simulator::resources::alarms;
use crate::simulator::resources::files;
use crate::simulator::resources::files::package as config_package;
use crate::simulator::resources::kpi;
use crate::simulator::resources::license;
use crate::simulator::resources::mc_status;
use crate::simulator::resources::navigation;
use crate::simulator::resources::status;
use crate::simulator::resources::tls;

/// Largest request body accepted (software loads are the big ones).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The core resources, relative to `/api/v1`.
fn core_routes() -> Router<Arc<Device>> {
    let mut router = Router::new()
        .route("/actions", get(navigation::actions))
        .route("/actions/reset", post(actions::reset))
        .route(
            "/actions/saveConfiguration",
            post(actions::save_configuration),
        )
        .route("/actions/authToken", post(actions::auth_token))
        .route("/files", get(navigation::files))
        .route("/files/ini", get(files::get_ini).put(files::put_ini))
        .route("/files/ini/incremental", put(files::put_ini_incremental))
        .route("/files/cliScript", get(files::get_cli).put(files::put_cli))
        .route(
            "/files/cliScript/incremental",
            put(files::put_cli_incremental),
        )
        .route("/files/software", put(files::put_software))
        .route("/files/software/hitless", put(files::put_software_hitless))
        .route(
            "/files/configurationPackage.tar.gz",
            get(config_package::get_package).put(config_package::put_package),
        )
        // Table 2-2's `/api/v1/versions` answers as `/api` does (section 4).
        .route("/versions", get(navigation::api_root))
        .route("/mc_status", get(mc_status::get_mc_status));
    for name in files::AUXILIARY_FILES {
        router = router.route(&format!("/files/{name}"), put(files::put_auxiliary));
    }
    router
}

async fn not_found(uri: Uri) -> Response {
    ApiError::NotFound(format!("Resource {} not found", uri.path())).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::MethodNotAllowed(format!("Method {method} is not allowed for {}", uri.path()))
        .into_response()
}

/// The whole application of one device.
pub(crate) fn app(device: Arc<Device>) -> Router {
    let v1 = core_routes()
        .merge(tls::routes())
        .merge(alarms::routes())
        .merge(kpi::routes())
        .merge(license::routes())
        .merge(status::routes());
    let routes = Router::new()
        .route("/api", get(navigation::api_root))
        .route("/api/", get(navigation::api_root))
        .route("/api/v1", get(navigation::v1_root))
        .route("/api/v1/", get(navigation::v1_root))
        .nest("/api/v1", v1)
        .nest("/_simulator", control::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&device));
    // `Router::layer` wraps every route separately; wrapping the whole
    // router once, as the fallback of an otherwise empty one, keeps each
    // device's router smaller (it matters at 1,000 devices).
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(device, guard::guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}
