//! `jury serve`: the leaderboard, battles, question sets, runs and human voting, as pages
//! and as a JSON API, on one embedded database.

mod api;
mod charts;
pub mod error;
mod evals;
mod guards;
mod hosts;
mod imports;
pub mod judges;
mod leaderboard;
mod markdown;
mod nav;
mod openai;
mod pages;
mod perf;
mod registry;
mod runs;
mod security;
mod state;
mod uploads;
mod voting;

use sha2::Digest;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::error::{ApiError, PageError, WebError};
use self::hosts::HostCheck;
use self::judges::AllowedJudge;
use self::registry::{DEMO_QUESTIONS, Registry};
use self::security::{AdminGate, Secrets};
use self::state::{AppState, DemoModelStatus, Limits, ProxySettings};
use crate::config::ModelSpec;
use crate::llm::ModelPool;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub db: String,
    pub admin_token: Option<String>,
    /// Signs sessions, form tokens and voters' pseudonyms (the same on every replica);
    /// `None`: a key kept in the database.
    pub secret_key: Option<String>,
    /// Where web-started runs keep their files.
    pub data_dir: PathBuf,
    /// The shipped configs and demo data (`registry/`).
    pub registry_dir: PathBuf,
    pub max_upload_bytes: usize,
    /// Votes per client per minute (0: no limit).
    pub votes_per_minute: u32,
    /// Requests in flight at once in a run.
    pub concurrency: usize,
    /// The judges a web run may choose (`--judges FILE`).
    pub judges: Vec<AllowedJudge>,
    /// The header a trusted reverse proxy puts the client's address in.
    pub client_ip_header: Option<String>,
    /// Mark cookies `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Host names the site answers to besides the address it listens on (and, on a loopback
    /// address, `localhost`); requests naming another host are refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Where evals started from the pages read their benchmark files.
    pub dataset_dir: PathBuf,
    /// Local models served on `/v1` by name, besides the demo model.
    pub models: Vec<(String, PathBuf)>,
    /// Keys `/v1` callers must give (`JURY_API_KEYS`); none: callers on this machine only.
    pub api_keys: Vec<String>,
    /// Requests one `/v1` model admits at once, running and waiting; more are answered 429.
    pub queue_size: usize,
    /// Serve `/v1` alone: no pages, no other API, no job worker.
    pub models_only: bool,
    /// Run no queued runs here: `jury worker` processes on the same database do.
    pub no_worker: bool,
}

impl ServeOptions {
    /// The defaults `jury serve` starts with, on `addr` and database `db`.
    pub fn new(addr: SocketAddr, db: &str) -> ServeOptions {
        ServeOptions {
            addr,
            db: db.to_string(),
            admin_token: None,
            secret_key: None,
            data_dir: PathBuf::from("jury-data"),
            registry_dir: PathBuf::from("registry"),
            max_upload_bytes: 10 * 1024 * 1024,
            votes_per_minute: 30,
            concurrency: 8,
            judges: Vec::new(),
            client_ip_header: None,
            secure_cookies: false,
            allowed_hosts: Vec::new(),
            dataset_dir: PathBuf::from("datasets"),
            models: Vec::new(),
            api_keys: Vec::new(),
            queue_size: 16,
            models_only: false,
            no_worker: false,
        }
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    worker: JoinHandle<()>,
    store: Store,
    pool: Arc<ModelPool>,
}

impl Server {
    /// Stops taking requests, lets the run in progress store its work and requeue itself,
    /// and closes the database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.worker.await;
        let _ = self.http.await;
        self.store.close().await;
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Local model files loaded so far (each once, however many runs use it).
    pub fn models_loaded(&self) -> usize {
        self.pool.loaded()
    }
}

/// Opens the database, seeds it when empty, starts the job worker and the HTTP server.
pub async fn start(options: ServeOptions) -> anyhow::Result<Server> {
    // The address first: a port in use should not leave a new database behind.
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let store = Store::connect(&options.db).await?;
    let registry = Registry::load(&options.registry_dir);
    seed(&store, &registry).await?;
    let demo_model = DemoModelStatus::default();
    fetch_demo_model(&registry, &demo_model);
    std::fs::create_dir_all(&options.data_dir)?;
    let shutdown = CancellationToken::new();
    let pool = Arc::new(ModelPool::new());
    let addr = listener.local_addr()?;
    let api_keys: Vec<String> =
        options.api_keys.iter().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
    let (jobs, worker) = if options.models_only || options.no_worker {
        (crate::jobs::Jobs::none(), tokio::spawn(async {}))
    } else {
        let own = crate::perf::job::OwnServer { base_url: own_base_url(addr), api_key: api_keys.first().cloned() };
        let sharing = crate::jobs::share::Sharing::this_process();
        crate::jobs::spawn_worker(
            store.clone(),
            shutdown.clone(),
            options.concurrency,
            pool.clone(),
            Some(own),
            sharing,
        )
    };
    let limits = Limits::new(options.votes_per_minute);
    prune_limits(limits.clone(), shutdown.clone());
    let served = openai::served::ServedModels::new(
        served_models(&options.models, &registry),
        api_keys,
        options.queue_size,
        pool.clone(),
    );
    let state = AppState {
        store: store.clone(),
        secrets: match options.secret_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            Some(secret) => Secrets::shared(sha2::Sha256::digest(secret.as_bytes()).into()),
            None => Secrets::shared(store.server_key("sessions").await?),
        },
        admin: AdminGate::new(options.admin_token.clone()),
        boards: Default::default(),
        vote_pairs: Default::default(),
        limits,
        proxy: ProxySettings {
            client_ip_header: options.client_ip_header.clone().filter(|h| !h.trim().is_empty()),
            secure_cookies: options.secure_cookies,
        },
        jobs,
        registry: Arc::new(registry),
        judges: Arc::new(options.judges.clone()),
        demo_model,
        data_dir: std::path::absolute(&options.data_dir)?,
        max_upload_bytes: options.max_upload_bytes,
        dataset_dir: std::path::absolute(&options.dataset_dir)?,
        served: Arc::new(served),
        hosts: HostCheck::new(
            &options.allowed_hosts,
            options.admin_token.as_ref().is_some_and(|t| !t.trim().is_empty()),
            options.client_ip_header.as_ref().is_some_and(|h| !h.trim().is_empty()),
        ),
    };
    if state.hosts.checks_names() && !addr.ip().is_loopback() && options.allowed_hosts.is_empty() {
        tracing::warn!(
            "listening on {addr}: requests must name this server by its IP address until JURY_ALLOWED_HOSTS \
             lists the names it is reached by (other names are refused: DNS rebinding)"
        );
    }
    if state.admin.enabled() {
        tracing::info!("uploads, deletions and runs need the admin token");
    } else {
        tracing::warn!(
            "no JURY_ADMIN_TOKEN: anyone who can reach {addr} can upload, delete and start runs (writes are unprotected)"
        );
    }
    let app = if options.models_only {
        tracing::info!("serving the OpenAI-compatible /v1 only");
        models_router(state, options.max_upload_bytes)
    } else {
        router(state, options.max_upload_bytes)
    };
    let stop = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    tracing::info!("jury is serving on http://{addr}");
    Ok(Server { addr, shutdown, http, worker, store, pool })
}

/// Where this server's job worker reaches its own `/v1`: the address it listens on, or the
/// loopback address when it listens on every address.
fn own_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/v1", SocketAddr::new(ip, addr.port()))
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let server = start(options).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: letting the current run store its work");
    server.stop().await;
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// On an empty database: the demo question set, so the site has something to show at once.
async fn seed(store: &Store, registry: &Registry) -> anyhow::Result<()> {
    if !store.list_question_sets().await?.is_empty() {
        return Ok(());
    }
    let (text, label) = match registry.dir.as_ref().map(|d| d.join("data/questions/demo_questions.jsonl")) {
        Some(path) if path.is_file() => (std::fs::read_to_string(&path)?, path.display().to_string()),
        _ => (DEMO_QUESTIONS.to_string(), "demo_questions.jsonl".to_string()),
    };
    let questions = crate::data::parse_questions(&text, std::path::Path::new(&label))?;
    store.create_question_set("demo", Some("registry:demo"), &questions).await?;
    tracing::info!(questions = questions.len(), "seeded the demo question set");
    Ok(())
}

/// The models `/v1` serves: those named on the command line, then the demo model (under
/// `smollm2-135m-instruct`) when a shipped candidate uses it and no model took that name.
fn served_models(named: &[(String, PathBuf)], registry: &Registry) -> Vec<(String, PathBuf)> {
    let mut models = named.to_vec();
    let demo = registry.candidates.iter().find_map(|c| match &c.model {
        ModelSpec::Local { path } if crate::llm::demo::is_demo_model_path(path) => Some(path.clone()),
        _ => None,
    });
    if let Some(path) = demo
        && !models.iter().any(|(name, _)| name == openai::served::DEMO_MODEL_NAME)
    {
        models.push((openai::served::DEMO_MODEL_NAME.to_string(), path));
    }
    models
}

/// Forgets, every minute, the clients whose limits are full again.
fn prune_limits(limits: Limits, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => limits.prune(),
            }
        }
    });
}

/// Starts fetching the demo model in the background if a shipped candidate needs it; how it
/// goes is shown on the runs page.
fn fetch_demo_model(registry: &Registry, status: &DemoModelStatus) {
    let missing = registry.candidates.iter().find_map(|c| match &c.model {
        ModelSpec::Local { path } if crate::llm::demo::is_demo_model_path(path) && !path.is_file() => {
            Some(path.clone())
        }
        _ => None,
    });
    if let Some(path) = missing {
        let status = status.clone();
        status.set(Some(format!("Fetching the demo model into {} …", path.display())));
        tokio::task::spawn_blocking(move || match crate::llm::demo::ensure_demo_model(&path) {
            Ok(()) => status.set(None),
            Err(e) => {
                tracing::warn!("cannot fetch the demo model (runs that generate answers will fail): {e}");
                status.set(Some(format!(
                    "The demo model could not be fetched, so runs that generate answers with it will fail: {e}"
                )));
            }
        });
    }
}

pub fn router(state: AppState, max_upload_bytes: usize) -> Router {
    let hosts = middleware::from_fn_with_state(state.clone(), hosts::check_request);
    Router::new()
        .route("/", get(pages::leaderboard::show))
        .route("/battles", get(pages::battles::list))
        .route("/judges", get(pages::judges::show))
        .route("/safety", get(pages::safety::show))
        .route("/api/safety", get(api::safety))
        .route("/api/judges", get(api::judges))
        .route("/battles/{id}", get(pages::battles::show))
        .route("/questions", get(pages::questions::list).post(pages::questions::upload))
        .route("/questions/{id}", get(pages::questions::show))
        .route("/questions/{id}/delete", post(pages::questions::delete))
        .route("/questions/{id}/answers", post(pages::questions::upload_answers))
        .route("/runs", get(pages::runs::list).post(pages::runs::create))
        .route("/runs/{id}", get(pages::runs::show))
        .route("/runs/{id}/cancel", post(pages::runs::cancel))
        .route("/runs/{id}/resume", post(pages::runs::resume))
        .route("/runs/{id}/dismiss", post(pages::runs::dismiss))
        .route("/static/site.css", get(site_css))
        .route("/runs/{id}/files/{n}", get(pages::runs::file))
        .route("/evals", get(pages::evals::list).post(pages::evals::create))
        .route("/benchmarks", get(pages::evals::matrix))
        .route("/evals/{id}", get(pages::evals::show))
        .route("/evals/{id}/samples", get(pages::evals::samples))
        .route("/api/evals", get(api::list_evals).post(api::create_eval))
        .route("/api/evals/{id}", get(api::get_eval))
        .route("/perf", get(pages::perf::list).post(pages::perf::create))
        .route("/perf/compare", get(pages::perf::compare::show))
        .route("/perf/{id}", get(pages::perf::show))
        .route("/api/perf", get(api::list_perf).post(api::create_perf))
        .route("/api/perf/{id}", get(api::get_perf))
        .route("/vote", get(pages::vote::show))
        .route("/vote/{id}", post(pages::vote::submit))
        .route("/login", get(pages::auth::show).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/api/leaderboard", get(api::leaderboard))
        .route("/api/question-sets", get(api::list_question_sets).post(api::create_question_set))
        .route("/api/question-sets/{id}", delete(api::delete_question_set))
        .route("/api/answers", post(api::create_answers))
        .route("/api/vote/next", get(api::next_vote))
        .route("/api/vote/{id}", post(api::vote))
        .route("/api/runs", post(api::create_run))
        .route("/api/runs/{id}", get(api::get_run).delete(api::cancel_run))
        .route("/api/runs/{id}/resume", post(api::resume_run))
        .route("/api/runs/{id}/dismiss", post(api::dismiss_run))
        .route("/api/battles/export", get(api::export_battles))
        .route("/api/battles/import", post(api::import_battles))
        .merge(openai::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_upload_bytes + 64 * 1024))
        .layer(hosts)
        .layer(middleware::from_fn(tidy_responses))
        .with_state(state)
}

/// `jury serve --models-only`: the OpenAI-compatible `/v1` and nothing else.
pub fn models_router(state: AppState, max_upload_bytes: usize) -> Router {
    let hosts = middleware::from_fn_with_state(state.clone(), hosts::check_request);
    openai::routes()
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_upload_bytes + 64 * 1024))
        .layer(hosts)
        .layer(middleware::from_fn(tidy_responses))
        .with_state(state)
}

/// The site's style sheet (a file, not inline, so the pages' policy allows no inline code).
async fn site_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../templates/site.css"),
    )
        .into_response()
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(WebError::NotFound).into_response()
    } else {
        PageError(WebError::NotFound).into_response()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        PageError(self).into_response()
    }
}

/// Security headers on everything; and errors raised before a handler runs (a malformed
/// id, JSON body or form) answered in the same shape as the handlers' own: JSON under
/// `/api/`, a page elsewhere.
async fn tidy_responses(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let status = response.status();
    if (status.is_client_error() || status.is_server_error()) && plain {
        let body = axum::body::to_bytes(std::mem::take(response.body_mut()), 64 * 1024).await.unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_string();
        let error = match status {
            StatusCode::NOT_FOUND => WebError::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE => WebError::BadRequest("the request is too large".into()),
            s if s.is_server_error() => WebError::Internal(message),
            _ => WebError::BadRequest(if message.is_empty() { "bad request".into() } else { message }),
        };
        let mut replaced = if api { ApiError(error).into_response() } else { PageError(error).into_response() };
        *replaced.status_mut() = status;
        response = replaced;
    }
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // No inline script or style anywhere: model text that slipped through could not run. A
    // handler may set a stricter policy of its own (the reports a run wrote).
    if !headers.contains_key("content-security-policy") {
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    response
}
