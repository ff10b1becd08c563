//! A real `jury serve` on 127.0.0.1:0, with its own database and folders, and a small client
//! that keeps the session cookie and form token like a browser.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jury::web::judges::AllowedJudge;
use jury::web::{ServeOptions, Server, start};
use serde_json::{Value, json};

pub struct TestServer {
    pub server: Option<Server>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub db: String,
}

#[derive(Clone)]
pub struct Settings {
    pub admin_token: Option<String>,
    pub votes_per_minute: u32,
    pub max_upload_bytes: usize,
    pub judges: Vec<AllowedJudge>,
    pub client_ip_header: Option<String>,
    pub secure_cookies: bool,
    pub registry_dir: Option<PathBuf>,
    pub dataset_dir: Option<PathBuf>,
    /// Leave queued runs to other processes (`jury serve --no-worker`).
    pub no_worker: bool,
    /// `--secret-key`
    pub secret_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            admin_token: None,
            votes_per_minute: 0,
            max_upload_bytes: 1 << 20,
            judges: Vec::new(),
            client_ip_header: None,
            secure_cookies: false,
            registry_dir: None,
            dataset_dir: None,
            no_worker: false,
            secret_key: None,
        }
    }
}

/// A judge the server offers web runs, served by `base` (a mock judge).
pub fn allowed_judge(name: &str, model: &str, base: &str) -> AllowedJudge {
    AllowedJudge {
        name: name.to_string(),
        model: model.to_string(),
        api_base: Some(base.to_string()),
        api_key_env: "JURY_TEST_KEY".to_string(),
    }
}

/// A client for the API as a script uses it: every request says it comes from a script
/// (`X-Requested-With`), and bodies are JSON Lines unless the request says otherwise.
pub fn api_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-requested-with", reqwest::header::HeaderValue::from_static("jury-tests"));
    headers.insert("content-type", reqwest::header::HeaderValue::from_static("application/jsonl"));
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

pub fn registry_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("registry")
}

impl TestServer {
    pub async fn start(settings: Settings) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = super::db_url(dir.path());
        let server = Self::launch(dir.path(), &db, &settings).await;
        let base = format!("http://{}", server.addr);
        TestServer { server: Some(server), base, dir, db }
    }

    async fn launch(dir: &Path, db: &str, settings: &Settings) -> Server {
        start(ServeOptions {
            admin_token: settings.admin_token.clone(),
            data_dir: dir.join("data"),
            registry_dir: settings.registry_dir.clone().unwrap_or_else(registry_dir),
            max_upload_bytes: settings.max_upload_bytes,
            votes_per_minute: settings.votes_per_minute,
            concurrency: 4,
            judges: settings.judges.clone(),
            client_ip_header: settings.client_ip_header.clone(),
            secure_cookies: settings.secure_cookies,
            dataset_dir: settings.dataset_dir.clone().unwrap_or_else(|| dir.join("datasets")),
            no_worker: settings.no_worker,
            secret_key: settings.secret_key.clone(),
            ..ServeOptions::new("127.0.0.1:0".parse().unwrap(), db)
        })
        .await
        .expect("server starts")
    }

    /// A second server on the same database, with folders of its own: a replica behind the
    /// same proxy.
    pub async fn replica(&self, settings: Settings) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let server = Self::launch(dir.path(), &self.db, &settings).await;
        let base = format!("http://{}", server.addr);
        TestServer { server: Some(server), base, dir, db: self.db.clone() }
    }

    /// Stops the server (as on SIGTERM) and starts a new one on the same database.
    pub async fn restart(&mut self, settings: Settings) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        let server = Self::launch(self.dir.path(), &self.db, &settings).await;
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GETs `path` and reads the JSON answer, whatever its status.
    pub async fn get_json(&self, path: &str) -> Value {
        reqwest::get(self.url(path)).await.unwrap().json().await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Waits for a run to leave queued/running; returns its JSON.
    pub async fn wait_for_run(&self, id: i64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let run = self.get_json(&format!("/api/runs/{id}")).await;
            let status = run["status"].as_str().unwrap_or("").to_string();
            if status != "queued" && status != "running" {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} did not finish: {run}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Questions `{prefix} question {i}?` in two categories, as llmuses JSONL.
pub fn question_lines(n: usize, prefix: &str) -> String {
    (1..=n)
        .map(|i| json!({"question_id": i, "text": format!("{prefix} question {i}?"), "category": if i % 2 == 0 { "math" } else { "writing" }}).to_string() + "\n")
        .collect()
}

pub fn answer_lines(model: &str, n: usize, text: impl Fn(usize) -> String) -> String {
    (1..=n)
        .map(|i| {
            json!({"question_id": i, "model_id": model, "answer": text(i), "text": "", "category": "", "metadata": {}})
                .to_string()
                + "\n"
        })
        .collect()
}

/// A set with answers from `models`, through the API; returns the set id.
pub async fn seed_set(server: &TestServer, name: &str, n: usize, models: &[&str]) -> i64 {
    let r = api_client()
        .post(server.url(&format!("/api/question-sets?name={name}")))
        .body(question_lines(n, name))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for m in models {
        let body = answer_lines(m, n, |i| {
            if m.contains("good") { format!("GOOD answer {i} by {m}") } else { format!("answer {i} by {m}") }
        });
        let r =
            api_client().post(server.url(&format!("/api/answers?question_set={id}"))).body(body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    id
}

/// A browser-like client: keeps cookies, reads form tokens from pages.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new() -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for v in response.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !val.is_empty() && !v.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> (u16, String) {
        let r = self.http.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// The CSRF token on a page.
    pub async fn csrf(&mut self, url: &str) -> String {
        let (_, html) = self.get(url).await;
        let at = html.find("name=\"csrf\" value=\"").expect("a form token on the page") + 19;
        html[at..at + 64].to_string()
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let r = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (status, r.text().await.unwrap(), location)
    }

    pub async fn post_file(
        &mut self,
        url: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        bytes: Vec<u8>,
    ) -> (u16, String, Option<String>) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        let r = self.http.post(url).header("cookie", self.cookie_header()).multipart(form).send().await.unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (status, r.text().await.unwrap(), location)
    }
}
