//! Every route of `jury serve`, against a real server on 127.0.0.1:0: status, body, errors,
//! auth, CSRF, rate limits, escaping, runs that survive a restart.

mod common;

use std::time::Duration;

use common::server::{
    Browser, Settings, TestServer, allowed_judge, answer_lines, api_client, question_lines, seed_set,
};
use common::*;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    api_client()
}

#[tokio::test]
async fn pages_render_with_security_headers_and_a_session() {
    let server = TestServer::start(Settings::default()).await;
    let r = http().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("jury_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Leaderboard</h1>"));
    // The demo question set was seeded on the empty database.
    let sets: Value = server.get_json("/api/question-sets").await;
    assert_eq!(sets[0]["name"], "demo");
    assert_eq!(sets[0]["questions"], 10);
    for path in ["/battles", "/questions", "/questions/1", "/runs", "/vote", "/login"] {
        let r = http().get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    }
    // Unknown things: a styled page for browsers, JSON for the API.
    let r = http().get(server.url("/battles/999")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<h1>404 Not Found</h1>"));
    let r = http().get(server.url("/api/runs/abc")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("abc"));
    let r = http().get(server.url("/api/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not found");

    // What was just stored can be filtered on at once, though the pages' facts were just read.
    let set = seed_set(&server, "fresh", 2, &["one", "two"]).await;
    for query in [format!("question_set={set}"), "baseline=two".to_string()] {
        let r = http().get(server.url(&format!("/api/leaderboard?{query}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{query}");
    }
    let r = http().get(server.url(&format!("/api/vote/next?question_set={set}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn question_sets_are_validated_whole_before_anything_is_stored() {
    let server = TestServer::start(Settings { max_upload_bytes: 4096, ..Settings::default() }).await;
    let before: Value = server.get_json("/api/question-sets").await;

    // One bad line (3), a duplicate id (4), an empty question (5): all reported, nothing stored.
    let body = "{\"question_id\": 1, \"text\": \"fine\"}\n{\"question_id\": 2, \"text\": \"also fine\"}\n{\"question_id\": 3, \"text\": \n{\"question_id\": 1, \"text\": \"again\"}\n{\"question_id\": 5, \"text\": \"  \"}\n";
    let r = http().post(server.url("/api/question-sets?name=broken")).body(body).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let errors: Value = r.json().await.unwrap();
    let lines: Vec<u64> = errors["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4, 5], "{errors}");
    assert!(errors["errors"][1]["message"].as_str().unwrap().contains("duplicate"));
    let after: Value = server.get_json("/api/question-sets").await;
    assert_eq!(before, after, "nothing stored");

    // Too large, no name, empty.
    let r =
        http().post(server.url("/api/question-sets?name=big")).body(question_lines(200, "big")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("limit is 4096"));
    let r = http().post(server.url("/api/question-sets")).body(question_lines(1, "x")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http().post(server.url("/api/question-sets?name=empty")).body("").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Good JSONL, MT-Bench turns and CSV.
    let r = http().post(server.url("/api/question-sets?name=ok")).body(question_lines(3, "ok")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["questions"], 3);
    let mt = "{\"question_id\": 81, \"category\": \"writing\", \"turns\": [\"Write a poem.\", \"Shorter.\"]}\n";
    let r = http().post(server.url("/api/question-sets?name=mt")).body(mt).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let csv = "question_id,text,category\n1,\"What is 2+2?\",math\n2,Name a colour,general\n";
    let r = http()
        .post(server.url("/api/question-sets?name=csv"))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (status, html) = Browser::new().get(&server.url(&format!("/questions/{id}"))).await;
    assert_eq!(status, 200);
    assert!(html.contains("What is 2+2?") && html.contains("Name a colour"));

    // Answers: an unknown question is reported by line; good ones are counted.
    let r = http()
        .post(server.url(&format!("/api/answers?question_set={id}")))
        .body(
            answer_lines("m", 2, |i| format!("a{i}"))
                + answer_lines("m", 3, |i| format!("b{i}")).lines().nth(2).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["errors"][0]["line"], 3, "{e}");
    assert!(e["errors"][0]["message"].as_str().unwrap().contains("not in the set"));
    let r = http()
        .post(server.url(&format!("/api/answers?question_set={id}")))
        .body(answer_lines("m", 2, |i| format!("a{i}")) + &answer_lines("n", 2, |i| format!("b{i}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"answers": 4, "models": 2}));

    // Deleting a set removes it.
    let r = http().delete(server.url(&format!("/api/question-sets/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = http().delete(server.url(&format!("/api/question-sets/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn votes_count_once_and_are_rate_limited() {
    let server = TestServer::start(Settings { votes_per_minute: 3, ..Settings::default() }).await;
    let set = seed_set(&server, "v", 4, &["alpha", "beta"]).await;
    let next: Value = server.get_json(&format!("/api/vote/next?question_set={set}")).await;
    let id = next["battle_id"].as_i64().unwrap();
    assert!(next.get("model_a").is_none() && next.get("model_b").is_none(), "no model names before the vote: {next}");
    assert!(next["question"].as_str().unwrap().starts_with("v question"));
    // Undecided human battles are not shown.
    assert_eq!(http().get(server.url(&format!("/battles/{id}"))).send().await.unwrap().status(), 404);

    let bad =
        http().post(server.url(&format!("/api/vote/{id}"))).json(&json!({"winner": "both"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let r =
        http().post(server.url(&format!("/api/vote/{id}"))).json(&json!({"winner": "model_a"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let revealed: Value = r.json().await.unwrap();
    let mut names =
        vec![revealed["model_a"].as_str().unwrap().to_string(), revealed["model_b"].as_str().unwrap().to_string()];
    names.sort();
    assert_eq!(names, ["alpha", "beta"]);
    let again =
        http().post(server.url(&format!("/api/vote/{id}"))).json(&json!({"winner": "model_b"})).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let missing = http().post(server.url("/api/vote/987654")).json(&json!({"winner": "tie"})).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let no_set = http().get(server.url("/api/vote/next?question_set=987654")).send().await.unwrap();
    assert_eq!(no_set.status(), 400);

    // The vote is in the human leaderboard at once.
    let board: Value = server.get_json("/api/leaderboard?source=human").await;
    let winner = revealed["model_a"].as_str().unwrap();
    assert_eq!(board["battles"], 1);
    assert_eq!(board["models"][0]["model"], winner);
    assert_eq!(board["models"][0]["wins"], 1);

    // The fourth vote within a minute from this client is refused, with Retry-After.
    let mut last = None;
    for _ in 0..3 {
        let next: Value = server.get_json("/api/vote/next").await;
        let r = http()
            .post(server.url(&format!("/api/vote/{}", next["battle_id"])))
            .json(&json!({"winner": "tie"}))
            .send()
            .await
            .unwrap();
        last = Some((r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string())));
    }
    let (status, retry) = last.unwrap();
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);

    // Battles shown but never voted on (the refused ones: the 409 and 404 attempts counted
    // against the limit too) are swept away; votes stay.
    let store = jury::store::Store::connect(&server.db).await.unwrap();
    assert_eq!(store.delete_unvoted_battles(Duration::from_secs(3600)).await.unwrap(), 0, "too recent");
    assert_eq!(store.delete_unvoted_battles(Duration::ZERO).await.unwrap(), 3);
    assert_eq!(store.count_votes().await.unwrap(), 1);
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_round_runs_in_the_background_and_feeds_the_leaderboard_and_export() {
    let judge = MockJudge::start(prefer("GOOD")).await;
    let judges = vec![allowed_judge("mock", "mock-judge", &judge.base_url())];
    let server = TestServer::start(Settings { judges, ..Settings::default() }).await;
    let set = seed_set(&server, "r", 5, &["good-one", "plain-one", "plain-two"]).await;
    let request = json!({
        "question_set": set,
        "candidates": ["good-one", "plain-one", "plain-two"],
        "mode": "pairwise",
        "position_bias": "swap_position",
        "judge": "mock",
    });
    let r = http().post(server.url("/api/runs")).json(&request).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let run = server.wait_for_run(id, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["summary"]["reviews"]["judge_calls"], 30);
    assert_eq!(judge.call_count(), 30);

    let board: Value = server.get_json(&format!("/api/leaderboard?source=judge&question_set={set}")).await;
    assert_eq!(board["battles"], 15);
    assert_eq!(board["models"][0]["model"], "good-one");
    assert_eq!(board["models"][0]["rank_ub"], 1);
    assert!(
        board["models"][0]["ci_lower"].as_f64().unwrap() > board["models"][2]["ci_upper"].as_f64().unwrap() - 1000.0
    );
    let writing: Value = server.get_json("/api/leaderboard?category=writing").await;
    assert_eq!(writing["battles"], 9, "3 writing questions x 3 pairs");
    let baseline: Value = server.get_json("/api/leaderboard?baseline=plain-one").await;
    assert_eq!(baseline["baseline"]["model"], "plain-one", "{baseline}");
    // Filters that name nothing there is are refused, saying which.
    for (query, says) in [
        ("category=poetry", "category \"poetry\""),
        ("question_set=999", "question set 999"),
        ("baseline=nobody", "model \"nobody\""),
        ("source=robots", "source must be"),
    ] {
        let r = http().get(server.url(&format!("/api/leaderboard?{query}"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let error = r.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_string();
        assert!(error.contains(says), "{query}: {error}");
        let (status, html) = Browser::new().get(&server.url(&format!("/?{query}"))).await;
        let value = query.split('=').nth(1).unwrap();
        assert!(
            status == 400 && html.contains(value) && html.contains("<h1>400 Bad Request</h1>"),
            "{query}: {status} {html}"
        );
    }

    // Pages show it: the run's figures, leaderboard, battle list, a battle with both reviews.
    let mut browser = Browser::new();
    let (_, html) = browser.get(&server.url(&format!("/runs/{id}"))).await;
    assert!(html.contains("<dt>judgments made</dt><dd>30</dd>"), "{html}");
    assert!(html.contains("<dt>reviews</dt><dd>15</dd>") && html.contains("The whole summary"));
    // The files it wrote can be fetched from its page: the review file and the reports.
    let link = |name: &str| {
        let end = html.find(&format!("\">{name}</a>")).unwrap_or_else(|| panic!("no link to {name}: {html}"));
        let start = html[..end].rfind("href=\"").unwrap() + 6;
        server.url(&html[start..end])
    };
    let csv = http().get(link("rating.csv")).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("attachment; filename=\"rating.csv\""));
    let csv = csv.text().await.unwrap();
    assert!(csv.lines().nth(1).unwrap().contains("good-one"), "{csv}");
    let report = http().get(link("rating.html")).send().await.unwrap();
    assert!(report.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(report.text().await.unwrap().contains("good-one"));
    let review = http().get(link("review.jsonl")).send().await.unwrap().text().await.unwrap();
    assert_eq!(review.lines().count(), 15);
    assert_eq!(http().get(server.url(&format!("/runs/{id}/files/99"))).send().await.unwrap().status(), 404);
    let (_, html) = browser.get(&server.url("/")).await;
    assert!(html.contains("good-one") && html.contains("<svg"), "charts are inline SVG");
    let (_, html) = browser.get(&server.url("/battles?model=good-one")).await;
    assert!(html.contains("10 battles"), "{html}");
    let export: Value = server.get_json("/api/battles/export").await;
    assert_eq!(export.as_array().unwrap().len(), 15);
    assert_eq!(export[0]["judge"], "mock", "stored under the name the server gives the judge");
    let first = server.url("/battles/1");
    let (status, html) = browser.get(&first).await;
    assert_eq!(status, 200);
    assert!(html.contains("shown first") && html.contains("Final verdict"), "both reviews of a swapped battle");

    // The export is FastChat battle JSON: `jury rate` reads it back.
    let file = write(&server.dir.path().join("export.json"), &export.to_string());
    let out = common::run(jury().arg("rate").arg(&file).args(["--bootstrap", "0", "--json"]));
    let rated: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rated["models"][0]["model"], "good-one");
    let ours = board["models"][0]["rating"].as_f64().unwrap();
    assert!((rated["models"][0]["rating"].as_f64().unwrap() - ours).abs() < 1e-6, "the same engine, the same numbers");

    // Bad requests are refused before anything is queued.
    for bad in [
        json!({"question_set": set, "candidates": ["good-one"], "mode": "pairwise"}),
        json!({"question_set": 999, "candidates": ["good-one", "plain-one"]}),
        json!({"question_set": set, "candidates": ["nobody", "plain-one"]}),
        json!({"question_set": set, "candidates": ["good-one", "plain-one"], "judge": "oracle"}),
    ] {
        let r = http().post(server.url("/api/runs")).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // Deleting the set takes its battles off the leaderboard at once.
    let r = http().delete(server.url(&format!("/api/question-sets/{set}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let board: Value = server.get_json("/api/leaderboard?source=judge").await;
    assert_eq!(board["battles"], 0, "{board}");
    assert_eq!(board["models"].as_array().unwrap().len(), 0);
    server.stop().await;
}

/// Queues a run through the API; its id.
async fn start_run(server: &TestServer, request: &Value) -> i64 {
    let r = http().post(server.url("/api/runs")).json(request).send().await.unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn runs_can_be_cancelled_and_resume_after_a_restart() {
    let judge = MockJudge::start(|call: &Call| {
        Reply::Delayed(Duration::from_millis(300), Box::new(Reply::Text(verdict_for(call, "GOOD"))))
    })
    .await;
    // Each run its own judge, so the second does not reuse the first one's judgments.
    let titles = ["to cancel", "cancelled from the page", "to resume"];
    let judges = titles.iter().map(|t| allowed_judge(t, &format!("judge-{t}"), &judge.base_url())).collect();
    let settings = Settings { judges, ..Settings::default() };
    let mut server = TestServer::start(settings.clone()).await;
    let set = seed_set(&server, "slow", 8, &["good-a", "plain-b"]).await;
    let request = |title: &str| {
        json!({"question_set": set, "candidates": ["good-a", "plain-b"], "judge": title, "title": title,
               "position_bias": "swap_position"})
    };
    // Cancel: the run stops between steps and says so.
    let id = start_run(&server, &request("to cancel")).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = http().delete(server.url(&format!("/api/runs/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "cancelled", "{run}");

    // The same from the run's page: its Cancel form.
    let id = start_run(&server, &request("cancelled from the page")).await;
    let mut browser = Browser::new();
    let page = server.url(&format!("/runs/{id}"));
    let csrf = browser.csrf(&page).await;
    let (status, _, _) = browser.post_form(&server.url(&format!("/runs/{id}/cancel")), &[("csrf", "wrong")]).await;
    assert_eq!(status, 403, "the form needs its token");
    let (status, _, location) = browser.post_form(&server.url(&format!("/runs/{id}/cancel")), &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_deref()), (303, Some(format!("/runs/{id}").as_str())));
    let run = server.wait_for_run(id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    let (_, html) = browser.get(&page).await;
    assert!(html.contains("cancelled") && !html.contains("http-equiv=\"refresh\""), "a finished run stops refreshing");

    // Restart mid-run: the run is put back in the queue and finishes after the restart,
    // asking the judge only for what it had not answered.
    let id = start_run(&server, &request("to resume")).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mid: Value = server.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(mid["status"], "running", "{mid}");
    server.restart(settings).await;
    let run = server.wait_for_run(id, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["summary"]["reviews"]["tasks"], 8);
    // All 16 prompts (8 questions, both orders) were asked, none more than twice: once cut off by
    // the shutdown at most, then once more; nothing that came back was asked again.
    let per_prompt: std::collections::HashMap<String, usize> =
        judge.calls().iter().filter(|c| c.model == "judge-to resume").fold(Default::default(), |mut m, c| {
            *m.entry(c.user.clone()).or_default() += 1;
            m
        });
    assert_eq!(per_prompt.len(), 16);
    assert!(per_prompt.values().all(|&n| n <= 2), "{per_prompt:?}");
    assert_eq!(
        run["summary"]["reviews"]["judge_calls"].as_u64().unwrap()
            + run["summary"]["reviews"]["cache_hits"].as_u64().unwrap(),
        16
    );
    assert!(
        run["summary"]["reviews"]["cache_hits"].as_u64().unwrap() > 0,
        "judgments made before the restart were kept"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_admin_token_guards_writes_and_forms_need_their_token() {
    let token = "s3cret-token";
    let server = TestServer::start(Settings { admin_token: Some(token.into()), ..Settings::default() }).await;
    // API: writes need the bearer token; reads and votes do not.
    let http = || {
        reqwest::Client::builder()
            .default_headers(
                [(reqwest::header::CONTENT_TYPE, "application/jsonl".parse().unwrap())].into_iter().collect(),
            )
            .build()
            .unwrap()
    };
    let r = http().post(server.url("/api/question-sets?name=x")).body(question_lines(2, "x")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .post(server.url("/api/question-sets?name=x"))
        .bearer_auth("wrong")
        .body(question_lines(2, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .post(server.url("/api/question-sets?name=x"))
        .bearer_auth(token)
        .body(question_lines(2, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let set = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(http().get(server.url("/api/leaderboard")).send().await.unwrap().status(), 200);
    assert_eq!(http().delete(server.url(&format!("/api/question-sets/{set}"))).send().await.unwrap().status(), 401);
    assert_eq!(http().delete(server.url("/api/runs/1")).send().await.unwrap().status(), 401);

    // Pages: a form without its token is refused; a write without signing in is refused.
    let mut browser = Browser::new();
    let csrf = browser.csrf(&server.url("/login")).await;
    let (status, _, _) = browser.post_form(&server.url(&format!("/questions/{set}/delete")), &[("csrf", &csrf)]).await;
    assert_eq!(status, 401);
    let (status, html, _) = browser.post_form(&server.url("/login"), &[("csrf", &csrf), ("token", "nope")]).await;
    assert_eq!(status, 401);
    assert!(html.contains("not the admin token"));
    let (status, _, _) = browser.post_form(&server.url("/login"), &[("csrf", "forged"), ("token", token)]).await;
    assert_eq!(status, 403);
    let (status, _, location) = browser.post_form(&server.url("/login"), &[("csrf", &csrf), ("token", token)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let (_, html) = browser.get(&server.url("/questions")).await;
    assert!(html.contains("Sign out") && html.contains("upload-questions"));
    // Signed in, a forged token is still refused; the real one works.
    let (status, _, _) =
        browser.post_form(&server.url(&format!("/questions/{set}/delete")), &[("csrf", "0".repeat(64).as_str())]).await;
    assert_eq!(status, 403);
    let (status, _, _) = browser.post_form(&server.url(&format!("/questions/{set}/delete")), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    // Another browser's token does not work with this session.
    let mut other = Browser::new();
    let their = other.csrf(&server.url("/login")).await;
    let (status, _, _) = browser.post_form(&server.url("/logout"), &[("csrf", &their)]).await;
    assert_eq!(status, 403);
    server.stop().await;
}

#[tokio::test]
async fn user_and_model_text_is_escaped_everywhere() {
    let server = TestServer::start(Settings::default()).await;
    let evil_q = "<script>alert('q')</script>";
    let evil_model = "<img src=x onerror=alert(1)>";
    let evil_answer = "</pre></div><script>alert('a')</script>";
    let body = json!({"question_id": 1, "text": evil_q, "category": "<b>cat</b>"}).to_string() + "\n";
    let set = http()
        .post(server.url("/api/question-sets?name=%3Ci%3Eset%3C%2Fi%3E"))
        .body(body)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let answers = json!({"question_id": 1, "model_id": evil_model, "answer": evil_answer}).to_string()
        + "\n"
        + &(json!({"question_id": 1, "model_id": "plain", "answer": "fine"}).to_string() + "\n");
    assert_eq!(
        http()
            .post(server.url(&format!("/api/answers?question_set={set}")))
            .body(answers)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let next: Value = server.get_json("/api/vote/next").await;
    let id = next["battle_id"].as_i64().unwrap();
    http().post(server.url(&format!("/api/vote/{id}"))).json(&json!({"winner": "tie"})).send().await.unwrap();
    let mut browser = Browser::new();
    for path in [
        "/".to_string(),
        "/?source=human".to_string(),
        "/battles".to_string(),
        format!("/battles/{id}"),
        "/questions".to_string(),
        format!("/questions/{set}"),
        "/vote".to_string(),
        "/runs".to_string(),
    ] {
        let (status, html) = browser.get(&server.url(&path)).await;
        assert_eq!(status, 200, "{path}");
        for raw in ["<script>alert", "<img src=x", "<b>cat</b>", "<i>set</i>"] {
            assert!(!html.contains(raw), "{path} shows raw markup {raw}");
        }
    }
    let (_, html) = browser.get(&server.url(&format!("/battles/{id}"))).await;
    assert!(
        html.contains("&#60;script&#62;alert(&#39;q&#39;)&#60;/script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = TestServer::start(Settings { max_upload_bytes: 1024, ..Settings::default() }).await;
    let r = http().post(server.url("/api/question-sets?name=huge")).body(vec![b' '; 200_000]).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("too large"));
    server.stop().await;
}
