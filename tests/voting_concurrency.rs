//! 50 voters casting 200 votes each, at the same time, against a running server: every vote is
//! stored exactly once, a repeated vote is refused, and pair counts stay balanced. Two servers
//! on one database (replicas) count a vote sent to both at once exactly once, and honour each
//! other's sessions.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::server::{Browser, Settings, TestServer, seed_set};
use serde_json::{Value, json};

const VOTERS: usize = 50;
const VOTES_EACH: usize = 200;
const WINNERS: [&str; 4] = ["model_a", "model_b", "tie", "tie (bothbad)"];

/// What one voter saw: (battle id, the winner sent, the two names revealed).
type Cast = (i64, String, String, String);

async fn voter(base: String, set: i64, index: usize) -> Vec<Cast> {
    let http = common::server::api_client();
    let mut cast = Vec::with_capacity(VOTES_EACH);
    for i in 0..VOTES_EACH {
        let next: Value = http
            .get(format!("{base}/api/vote/next?question_set={set}"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = next["battle_id"].as_i64().unwrap();
        let winner = WINNERS[(index + i) % WINNERS.len()];
        let url = format!("{base}/api/vote/{id}");
        let send = || http.post(&url).json(&json!({"winner": winner})).send();
        // Every tenth vote is sent twice at once (a double click): one counts, one gets 409.
        let response = if i % 10 == 0 {
            let (a, b) = tokio::join!(send(), send());
            let (a, b) = (a.unwrap(), b.unwrap());
            let mut statuses = [a.status().as_u16(), b.status().as_u16()];
            statuses.sort();
            assert_eq!(statuses, [200, 409], "a doubled vote on battle {id}");
            if a.status() == 200 { a } else { b }
        } else {
            send().await.unwrap()
        };
        assert_eq!(response.status(), 200, "vote on battle {id}");
        let revealed: Value = response.json().await.unwrap();
        cast.push((
            id,
            winner.to_string(),
            revealed["model_a"].as_str().unwrap().to_string(),
            revealed["model_b"].as_str().unwrap().to_string(),
        ));
    }
    cast
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_voters_each_vote_counted_exactly_once() {
    let server = TestServer::start(Settings::default()).await;
    let models = ["alpha", "beta", "gamma", "delta"];
    let set = seed_set(&server, "load", 20, &models).await;

    let voters: Vec<_> = (0..VOTERS).map(|v| tokio::spawn(voter(server.base.clone(), set, v))).collect();
    let mut cast: Vec<Cast> = Vec::new();
    for v in voters {
        cast.extend(v.await.unwrap());
    }
    let total = VOTERS * VOTES_EACH;
    assert_eq!(cast.len(), total);
    let ids: HashSet<i64> = cast.iter().map(|c| c.0).collect();
    assert_eq!(ids.len(), total, "a battle was offered to two voters");

    // The database holds each vote once, on its own battle, with the winner that was sent.
    let db = common::open_db(&server.db).await;
    let stored: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT b.id, b.winner, ma.name, mb.name, (SELECT COUNT(*) FROM votes v WHERE v.battle_id = b.id) \
         FROM battles b JOIN models ma ON ma.id = b.model_a_id JOIN models mb ON mb.id = b.model_b_id \
         WHERE b.source = 'human' AND b.winner IS NOT NULL",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM votes").fetch_one(&db).await.unwrap();
    assert_eq!(votes as usize, total);
    assert_eq!(stored.len(), total);
    let by_id: BTreeMap<i64, (String, String, String, i64)> =
        stored.into_iter().map(|(id, w, a, b, n)| (id, (w, a, b, n))).collect();
    for (id, winner, a, b) in &cast {
        let (w, sa, sb, n) = by_id.get(id).unwrap_or_else(|| panic!("battle {id} not stored"));
        assert_eq!((w, sa, sb, *n), (winner, a, b, 1), "battle {id}");
    }
    db.close().await;

    // Pairs are drawn with the fewest votes first: with at most 50 battles open at once, no pair
    // can get more than 50 ahead of another.
    let mut per_pair: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, _, a, b) in &cast {
        let pair = if a < b { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
        *per_pair.entry(pair).or_default() += 1;
    }
    assert_eq!(per_pair.len(), 6, "{per_pair:?}");
    let (lo, hi) = (per_pair.values().min().unwrap(), per_pair.values().max().unwrap());
    assert!(hi - lo <= VOTERS, "pair counts unbalanced: {per_pair:?}");

    // Sides are shuffled: each model is in about 5,000 battles, and a fair coin puts it on side A
    // in 50% ± 0.7% of them (one standard deviation); outside 45–55% means no shuffling.
    let mut as_a: BTreeMap<&str, usize> = BTreeMap::new();
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, a, b) in &cast {
        *as_a.entry(a.as_str()).or_default() += 1;
        *shown.entry(a.as_str()).or_default() += 1;
        *shown.entry(b.as_str()).or_default() += 1;
    }
    for (model, n) in &shown {
        let a = as_a.get(model).copied().unwrap_or(0);
        assert!((0.45..=0.55).contains(&(a as f64 / *n as f64)), "{model} was A in {a} of {n} battles");
    }

    // And the human leaderboard counts all of them.
    let board = server.get_json(&format!("/api/leaderboard?source=human&question_set={set}")).await;
    assert_eq!(board["battles"].as_u64().unwrap() as usize, total);
    server.stop().await;
}

/// Two servers on one database, as two replicas behind a proxy: the same vote sent to both at
/// once counts once (one 200, one 409), and each replica's leaderboard sees the other's votes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_sent_to_two_replicas_at_once_counts_once() {
    const ROUNDS: usize = 25;
    let first = TestServer::start(Settings::default()).await;
    let second = first.replica(Settings::default()).await;
    let set = seed_set(&first, "replicas", 10, &["alpha", "beta", "gamma"]).await;
    let http = common::server::api_client();
    // Fill the second replica's leaderboard cache before the votes, so it must notice them.
    let empty = second.get_json(&format!("/api/leaderboard?source=human&question_set={set}")).await;
    assert_eq!(empty["battles"], 0);
    for round in 0..ROUNDS {
        let shown_by = if round % 2 == 0 { &first } else { &second };
        let next: Value = http
            .get(shown_by.url(&format!("/api/vote/next?question_set={set}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = next["battle_id"].as_i64().unwrap();
        let vote = |server: &TestServer| {
            http.post(server.url(&format!("/api/vote/{id}"))).json(&json!({"winner": "model_a"})).send()
        };
        let (a, b) = tokio::join!(vote(&first), vote(&second));
        let mut codes = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
        codes.sort_unstable();
        assert_eq!(codes, [200, 409], "round {round}");
    }
    for server in [&first, &second] {
        let board = server.get_json(&format!("/api/leaderboard?source=human&question_set={set}")).await;
        assert_eq!(board["battles"].as_u64().unwrap() as usize, ROUNDS, "{board}");
    }
    let db = common::open_db(&first.db).await;
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM votes").fetch_one(&db).await.unwrap();
    assert_eq!(votes as usize, ROUNDS);
    db.close().await;
    second.stop().await;
    first.stop().await;
}

/// Behind a proxy a browser's requests land on any replica: a session and its form token made
/// by one are honoured by the other (the signing key is the database's, not the process's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_begun_at_one_replica_holds_at_another() {
    let settings = || Settings { admin_token: Some("tok".into()), ..Settings::default() };
    let first = TestServer::start(settings()).await;
    let second = first.replica(settings()).await;
    let mut browser = Browser::new();
    let csrf = browser.csrf(&first.url("/login")).await;
    let (status, _, location) = browser.post_form(&second.url("/login"), &[("csrf", &csrf), ("token", "tok")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let (_, html) = browser.get(&first.url("/questions")).await;
    assert!(html.contains("Sign out"), "signed in at the second replica, seen by the first");
    // Tokens made elsewhere still fail.
    let (status, _, _) = browser.post_form(&first.url("/logout"), &[("csrf", &"0".repeat(64))]).await;
    assert_eq!(status, 403);
    let (status, _, _) = browser.post_form(&first.url("/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    second.stop().await;
    first.stop().await;
}

/// With `--secret-key` the replicas sign with it (the same on each), not with the key kept in
/// the database: a replica given another secret refuses the others' tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_given_one_secret_share_sessions_and_another_secret_does_not() {
    let settings = |secret: &str| Settings {
        admin_token: Some("tok".into()),
        secret_key: Some(secret.into()),
        ..Settings::default()
    };
    let first = TestServer::start(settings("one secret")).await;
    let second = first.replica(settings("one secret")).await;
    let other = first.replica(settings("another secret")).await;
    let mut browser = Browser::new();
    let csrf = browser.csrf(&first.url("/login")).await;
    let (status, _, _) = browser.post_form(&second.url("/login"), &[("csrf", &csrf), ("token", "tok")]).await;
    assert_eq!(status, 303);
    let (status, _, _) = browser.post_form(&other.url("/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 403);
    for server in [other, second, first] {
        server.stop().await;
    }
}
