//! A server that lets no one in where they do not belong, and pages that tell the truth:
//! judges from the server's configuration only, no cross-site or rebound writes, limits per
//! client (behind a proxy too), Secure cookies, runs that stop at once when asked, runs whose
//! process died shown as interrupted, question ids kept, Markdown rendered safely.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::server::{Browser, Settings, TestServer, allowed_judge, api_client, question_lines, seed_set};
use common::*;
use serde_json::{Value, json};

fn plain() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn runs_choose_judges_by_name_and_never_name_an_endpoint_or_key() {
    let judge = MockJudge::start(prefer("GOOD")).await;
    let judges = vec![allowed_judge("house-judge", "mock-judge", &judge.base_url())];
    let server = TestServer::start(Settings { judges, ..Settings::default() }).await;
    let set = seed_set(&server, "j", 2, &["good-a", "plain-b"]).await;
    let base = json!({"question_set": set, "candidates": ["good-a", "plain-b"]});
    let with = |extra: Value| {
        let mut r = base.clone();
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r
    };
    // A request that names where the judge is, or which variable holds a key, is refused.
    for bad in [
        json!({"judge": "house-judge", "judge_api_base": "http://127.0.0.1:9/v1"}),
        json!({"judge": "house-judge", "judge_api_key_env": "HOME"}),
        json!({"judge": "house-judge", "judge_model": "gpt-4o"}),
        json!({"judge": "openai"}),
    ] {
        let r = api_client().post(server.url("/api/runs")).json(&with(bad.clone())).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let error = r.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_string();
        assert!(error.contains("house-judge"), "the refusal lists the judges there are: {error}");
    }
    let runs: Value = server.get_json("/api/runs/1").await;
    assert_eq!(runs["error"], "not found", "nothing was queued");
    // By name, the run goes to the configured endpoint.
    let r =
        api_client().post(server.url("/api/runs")).json(&with(json!({"judge": "house-judge"}))).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(judge.call_count(), 2);
    assert!(judge.calls().iter().all(|c| c.model == "mock-judge"));
    let export: Value = server.get_json("/api/battles/export").await;
    assert_eq!(export[0]["judge"], "house-judge", "verdicts are stored under the judge's configured name");
    // The runs form offers the configured judges, and no endpoint fields.
    let (_, html) = Browser::new().get(&server.url("/runs")).await;
    assert!(html.contains("<option value=\"house-judge\">"), "{html}");
    assert!(!html.contains("judge_api_base") && !html.contains("judge_api_key_env"));
    server.stop().await;
}

#[tokio::test]
async fn no_other_site_can_write_through_a_visitors_browser() {
    let server = TestServer::start(Settings::default()).await;
    let url = server.url("/api/question-sets?name=csrf");
    let body = question_lines(2, "x");
    // What a cross-site form can send: a simple content type and no custom header.
    let r = plain().post(&url).header("content-type", "text/plain").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403, "no X-Requested-With");
    let r = plain().post(&url).header("content-type", "application/jsonl").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // With the header, the declared type must be one the upload reads.
    let r = api_client().post(&url).header("content-type", "text/plain").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 415);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("application/jsonl"));
    // A browser says where a request comes from: another origin is refused, whatever it carries.
    let r = api_client().post(&url).header("origin", "http://evil.example").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = api_client().post(&url).header("sec-fetch-site", "same-site").body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403, "another port of the same host is another origin");
    let vote = api_client()
        .post(server.url("/api/vote/1"))
        .header("origin", "null")
        .json(&json!({"winner": "tie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status(), 403);
    let sets: Value = server.get_json("/api/question-sets").await;
    assert_eq!(sets.as_array().unwrap().len(), 1, "only the demo set: {sets}");
    // From the site itself (same origin), it works.
    let r = api_client().post(&url).header("origin", server.base.clone()).body(body).send().await.unwrap();
    assert_eq!(r.status(), 201);

    // DNS rebinding: a request naming another host is refused, reads too.
    for path in ["/", "/api/leaderboard"] {
        let r = plain().get(server.url(path)).header("host", "rebound.example:8080").send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = plain().get(server.url("/")).header("host", "localhost").send().await.unwrap();
    assert_eq!(r.status(), 200);

    // No inline code is allowed on any page, and no page needs any; the style sheet is a file.
    let r = plain().get(server.url("/")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(!csp.contains("unsafe-inline") && csp.contains("script-src 'self'"), "{csp}");
    let inline = regex::Regex::new(r#"(?i)<script|<style|\son[a-z]+=|\sstyle="#).unwrap();
    for path in ["/", "/battles", "/questions", "/questions/1", "/runs", "/evals", "/benchmarks", "/vote", "/login"] {
        let html = plain().get(server.url(path)).send().await.unwrap().text().await.unwrap();
        assert!(!inline.is_match(&html), "{path} has inline code: {:?}", inline.find(&html));
        assert!(html.contains("/static/site.css"), "{path}");
    }
    let css = plain().get(server.url("/static/site.css")).send().await.unwrap();
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.text().await.unwrap().contains("--accent"));
    server.stop().await;
}

#[tokio::test]
async fn limits_hold_per_client_and_behind_a_proxy() {
    // Votes: 1 a minute, so battles shown: 4 a minute.
    let server = TestServer::start(Settings {
        votes_per_minute: 1,
        client_ip_header: Some("x-forwarded-for".into()),
        admin_token: Some("tok".into()),
        ..Settings::default()
    })
    .await;
    let http = api_client();
    let r = http
        .post(server.url("/api/question-sets?name=l"))
        .bearer_auth("tok")
        .body(question_lines(6, "l"))
        .send()
        .await
        .unwrap();
    let set = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for m in ["one", "two"] {
        let body = common::server::answer_lines(m, 6, |i| format!("{m} {i}"));
        let r = http
            .post(server.url(&format!("/api/answers?question_set={set}")))
            .bearer_auth("tok")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let from = |ip: &str, path: &str| http.get(server.url(path)).header("x-forwarded-for", format!("10.9.9.9, {ip}"));
    // The vote page and /api/vote/next store a battle each: limited too.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(from("203.0.113.1", "/vote").send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    // The proxy's header decides who the client is: another address has its own limits.
    let next: Value = from("203.0.113.2", "/api/vote/next").send().await.unwrap().json().await.unwrap();
    let vote = |ip: &str, id: &Value| {
        http.post(server.url(&format!("/api/vote/{id}")))
            .header("x-forwarded-for", ip.to_string())
            .json(&json!({"winner": "tie"}))
    };
    assert_eq!(vote("203.0.113.2", &next["battle_id"]).send().await.unwrap().status(), 200);
    let next: Value = from("203.0.113.2", "/api/vote/next").send().await.unwrap().json().await.unwrap();
    let r = vote("203.0.113.2", &next["battle_id"]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("too many votes"));
    assert_eq!(vote("203.0.113.3", &next["battle_id"]).send().await.unwrap().status(), 200);

    // Sign-in attempts: ten a minute per client.
    let mut browser = Browser::new();
    let csrf = browser.csrf(&server.url("/login")).await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let (status, _, _) = browser.post_form(&server.url("/login"), &[("csrf", &csrf), ("token", "guess")]).await;
        statuses.push(status);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    let (status, _, _) = browser.post_form(&server.url("/login"), &[("csrf", &csrf), ("token", "tok")]).await;
    assert_eq!(status, 429, "even the right token waits out the limit");
    server.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_over_https() {
    let cookie = |r: &reqwest::Response| r.headers()["set-cookie"].to_str().unwrap().to_string();
    let server = TestServer::start(Settings::default()).await;
    let r = plain().get(server.url("/")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert!(!cookie(&r).contains("Secure"), "no trusted proxy: the header is not believed");
    server.stop().await;

    let server =
        TestServer::start(Settings { client_ip_header: Some("x-real-ip".into()), ..Settings::default() }).await;
    let r = plain().get(server.url("/")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert!(cookie(&r).contains("; Secure"), "{}", cookie(&r));
    let r = plain().get(server.url("/")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert!(!cookie(&r).contains("Secure"));
    server.stop().await;

    let server = TestServer::start(Settings { secure_cookies: true, ..Settings::default() }).await;
    let r = plain().get(server.url("/")).send().await.unwrap();
    assert!(cookie(&r).contains("; Secure") && cookie(&r).contains("HttpOnly"));
    server.stop().await;
}

#[tokio::test]
async fn a_hung_judge_is_cut_off_by_cancel_and_by_shutdown() {
    let judge = MockJudge::start(|_: &Call| Reply::Hang).await;
    let judges = vec![allowed_judge("hung", "hung-judge", &judge.base_url())];
    let mut server = TestServer::start(Settings { judges, ..Settings::default() }).await;
    let set = seed_set(&server, "h", 3, &["good-a", "plain-b"]).await;
    let request = json!({"question_set": set, "candidates": ["good-a", "plain-b"], "judge": "hung"});
    let start = || async {
        let r = api_client().post(server.url("/api/runs")).json(&request).send().await.unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    };
    let wait_for_calls = |n: usize| {
        let judge = &judge;
        async move {
            let t = Instant::now();
            while judge.call_count() < n {
                assert!(t.elapsed() < Duration::from_secs(20), "the judge was never asked");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let id = start().await;
    wait_for_calls(1).await;
    let asked = Instant::now();
    let r = api_client().delete(server.url(&format!("/api/runs/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let run = server.wait_for_run(id, Duration::from_secs(5)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(asked.elapsed() < Duration::from_secs(5), "cancelled in {:?}", asked.elapsed());

    // Shutdown with a hung judge call in flight: the server stops within seconds.
    let before = judge.call_count();
    let id = start().await;
    wait_for_calls(before + 1).await;
    let stopping = Instant::now();
    server.server.take().unwrap().stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "stopped in {:?}", stopping.elapsed());
    let store = jury::store::Store::connect(&server.db).await.unwrap();
    assert_eq!(store.run(id).await.unwrap().unwrap().status, "queued", "it resumes at the next start");
    store.close().await;
}

#[tokio::test]
async fn a_killed_command_line_run_shows_as_interrupted_and_can_be_resumed_or_dismissed() {
    let hang = Arc::new(AtomicBool::new(true));
    let judge =
        {
            let hang = hang.clone();
            MockJudge::start(move |call: &Call| {
                if hang.load(Ordering::SeqCst) { Reply::Hang } else { Reply::Text(verdict_for(call, "GOOD")) }
            })
            .await
        };
    let server = TestServer::start(Settings::default()).await;
    let dir = server.dir.path().join("cli");
    write_strong_and_weak(&dir, 2);
    let cfg = strong_vs_weak_config(&dir, &judge.base_url(), "null", "");
    let mut child = jury().arg("arena").arg("-c").arg(&cfg).arg("--db").arg(&server.db).spawn().unwrap();
    let t = Instant::now();
    while judge.call_count() < 1 {
        assert!(t.elapsed() < Duration::from_secs(30), "the command-line run never asked the judge");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to record anything
    child.wait().unwrap();
    let runs: Vec<(i64, String)> = {
        let pool = open_db(&server.db).await;
        sqlx::query_as("SELECT id, status FROM runs").fetch_all(&pool).await.unwrap()
    };
    assert_eq!(runs.len(), 1);
    let (id, status) = runs[0].clone();
    assert_eq!(status, "running", "the row still says running");
    let fresh: Value = server.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(fresh["status"], "running", "its last heartbeat is recent");
    // A minute later its heartbeat is stale.
    {
        let pool = open_db(&server.db).await;
        sqlx::query("UPDATE runs SET heartbeat_at = heartbeat_at - 60").execute(&pool).await.unwrap();
    }
    let stale: Value = server.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(stale["status"], "interrupted", "{stale}");
    let mut browser = Browser::new();
    let page = server.url(&format!("/runs/{id}"));
    let (_, html) = browser.get(&page).await;
    assert!(html.contains("interrupted") && html.contains("Resume it here") && html.contains("Dismiss"), "{html}");
    assert!(!html.contains("http-equiv=\"refresh\""), "an interrupted run's page does not keep refreshing");
    let (_, list) = browser.get(&server.url("/runs")).await;
    assert!(list.contains("status-interrupted"), "{list}");

    // Resumed here, it finishes: the judge answers now.
    hang.store(false, Ordering::SeqCst);
    let csrf = browser.csrf(&page).await;
    let (status, _, _) = browser.post_form(&server.url(&format!("/runs/{id}/resume")), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["summary"]["reviews"]["tasks"], 2);
    // A finished run can be neither resumed nor dismissed.
    let (status, _, _) = browser.post_form(&server.url(&format!("/runs/{id}/dismiss")), &[("csrf", &csrf)]).await;
    assert_eq!(status, 409);

    // Dismissed, it is over.
    let store = jury::store::Store::connect(&server.db).await.unwrap();
    let other = store.create_run("arena", "", Some("/nowhere/cfg.yaml"), false).await.unwrap();
    let pool = open_db(&server.db).await;
    sqlx::query("UPDATE runs SET heartbeat_at = heartbeat_at - 60 WHERE id = $1")
        .bind(other)
        .execute(&pool)
        .await
        .unwrap();
    let (status, _, _) = browser.post_form(&server.url(&format!("/runs/{other}/dismiss")), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let run: Value = server.get_json(&format!("/api/runs/{other}")).await;
    assert_eq!(run["status"], "cancelled");
    assert!(run["error"].as_str().unwrap().contains("dismissed"));
    // The same through the API; an interrupted eval is not resumed here (its command is re-run).
    let third = store.create_run("eval", "{}", None, false).await.unwrap();
    sqlx::query("UPDATE runs SET heartbeat_at = heartbeat_at - 60 WHERE id = $1")
        .bind(third)
        .execute(&pool)
        .await
        .unwrap();
    let resume = api_client().post(server.url(&format!("/api/runs/{third}/resume"))).send().await.unwrap();
    assert_eq!(resume.status(), 409);
    assert!(resume.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("run its command again"));
    let dismiss = || api_client().post(server.url(&format!("/api/runs/{third}/dismiss"))).send();
    let r = dismiss().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(dismiss().await.unwrap().status(), 409);
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn web_runs_keep_question_ids_as_given() {
    let server = TestServer::start(Settings::default()).await;
    let questions = [
        json!({"question_id": "007", "text": "Licensed to what?", "category": "spy"}),
        json!({"question_id": 8, "text": "Eight?", "category": "spy"}),
    ]
    .iter()
    .map(|q| q.to_string() + "\n")
    .collect::<String>();
    let r = api_client().post(server.url("/api/question-sets?name=ids")).body(questions).send().await.unwrap();
    let set = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let answers = ["m1", "m2"]
        .iter()
        .flat_map(|m| {
            [
                json!({"question_id": "007", "model_id": m, "answer": format!("{m} on 007")}),
                json!({"question_id": 8, "model_id": m, "answer": format!("{m} on 8")}),
            ]
        })
        .map(|a| a.to_string() + "\n")
        .collect::<String>();
    let r =
        api_client().post(server.url(&format!("/api/answers?question_set={set}"))).body(answers).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = api_client()
        .post(server.url("/api/runs"))
        .json(&json!({"question_set": set, "candidates": ["m1", "m2"], "judge": "dry-run"}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let sets: Value = server.get_json("/api/question-sets").await;
    let ours = sets.as_array().unwrap().iter().find(|s| s["id"] == set).unwrap();
    assert_eq!(ours["questions"], 2, "no duplicate questions: {ours}");
    let store = jury::store::Store::connect(&server.db).await.unwrap();
    let ids: Vec<String> = store.questions_of(set).await.unwrap().into_iter().map(|q| q.external_id).collect();
    assert_eq!(ids, ["007", "8"]);
    store.close().await;
    let review = server.dir.path().join("data/runs");
    let folder = std::fs::read_dir(&review).unwrap().next().unwrap().unwrap().path();
    let lines = read_jsonl(&folder.join("reviews/review.dry-run.jsonl"));
    let mut qids: Vec<Value> = lines.iter().map(|l| l["question_id"].clone()).collect();
    qids.sort_by_key(|v| v.to_string());
    assert_eq!(qids, [json!("007"), json!(8)]);
    server.stop().await;
}

#[tokio::test]
async fn battle_pages_show_both_reviews_in_the_battles_labels_with_markdown_made_safe() {
    let server = TestServer::start(Settings::default()).await;
    let dir = server.dir.path().join("scored");
    let answer = |m: &str, i: usize| {
        if m == "strong" {
            format!(
                "GOOD answer {i}\n\n## Steps\n\n- first\n- second\n\n```python\nprint({i})\n```\n\n<script>alert('x')</script>"
            )
        } else {
            format!("bad answer {i} [link](javascript:alert(1))")
        }
    };
    write(&dir.join("answers/strong.jsonl"), &answers("strong", 2, |i| answer("strong", i)));
    write(&dir.join("answers/weak.jsonl"), &answers("weak", 2, |i| answer("weak", i)));
    let template = json!({
        "name": "scores-v1", "type": "pairwise", "system_prompt": "You judge.",
        "prompt_template": "[Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]",
        "description": "scores", "category": "general", "output_format": "[[rating_a,rating_b]]",
    });
    write(&dir.join("prompts.jsonl"), &(template.to_string() + "\n"));
    let judge = MockJudge::start(|call: &Call| {
        let first_good = call.answer_a().unwrap_or("").contains("GOOD");
        Reply::Text(format!(
            "## Review\n\n1. **Accuracy**: see the code.\n\nScores: {}",
            if first_good { "[[9, 3]]" } else { "[[3, 9]]" }
        ))
    })
    .await;
    let cfg = write(
        &dir.join("cfg.yaml"),
        &review_config(
            &judge.base_url(),
            "pairwise",
            "swap_position",
            &["answers/strong.jsonl", "answers/weak.jsonl"],
            "",
            "  prompt_file: prompts.jsonl",
            "['pairwise']",
        ),
    );
    let summary = run_config(&cfg, &server.db, false, 2).await;
    assert!(summary.succeeded(), "{:?}", summary.error);
    let mut browser = Browser::new();
    let (_, html) = browser.get(&server.url("/battles/1")).await;
    assert!(html.contains("strong vs weak"), "{html}");
    // Both reviews, each with the verdict in this battle's labels and the scores it gave.
    assert!(html.contains("shown first"), "{html}");
    assert_eq!(html.matches("verdict: strong won").count(), 2, "{html}");
    assert!(!html.contains("weak won"), "{html}");
    assert_eq!(html.matches("scores: strong: 9, weak: 3").count(), 2, "{html}");
    // Markdown rendered; nothing the model wrote is markup.
    assert!(html.contains("<h2>Steps</h2>") && html.contains("<li>first</li>"), "{html}");
    assert!(html.contains("<code class=\"language-python\">"), "{html}");
    assert!(html.contains("<h2>Review</h2>") && html.contains("<strong>Accuracy</strong>"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("javascript:"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "raw HTML is shown as text");
    server.stop().await;
}

#[tokio::test]
async fn filters_carry_from_the_board_to_the_battles() {
    let judge = MockJudge::start(prefer("GOOD")).await;
    let judges = vec![allowed_judge("mock", "mock-judge", &judge.base_url())];
    let server = TestServer::start(Settings { judges, ..Settings::default() }).await;
    let first = seed_set(&server, "first", 4, &["good-a", "plain-b"]).await;
    let second = seed_set(&server, "second", 2, &["good-a", "plain-b"]).await;
    for set in [first, second] {
        let r = api_client()
            .post(server.url("/api/runs"))
            .json(&json!({"question_set": set, "candidates": ["good-a", "plain-b"], "judge": "mock"}))
            .send()
            .await
            .unwrap();
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert_eq!(server.wait_for_run(id, Duration::from_secs(30)).await["status"], "succeeded");
    }
    let mut browser = Browser::new();
    let (_, html) = browser.get(&server.url(&format!("/?source=judge&category=math&question_set={first}"))).await;
    let link = format!("/battles?model=good-a&#38;source=judge&#38;category=math&#38;question_set={first}");
    assert!(html.contains(&link), "model links keep the board's filters: {html}");
    let (_, html) = browser.get(&server.url(&format!("/battles?question_set={second}"))).await;
    assert!(html.contains("2 battles"), "{html}");
    let (_, html) = browser.get(&server.url(&format!("/battles?question_set={first}&category=math"))).await;
    assert!(html.contains("2 battles"), "{html}");
    let (status, _) = browser.get(&server.url("/battles?question_set=999")).await;
    assert_eq!(status, 400);
    server.stop().await;
}
