//! Load shapes: a closed loop (`parallel` workers, each sending its next request when the last
//! one ends) and an open loop (Poisson arrivals at `rate` per second, sent on an absolute
//! schedule whatever the server does, so a slow server cannot slow the load: no coordinated
//! omission; how late each request left is recorded).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use tokio::task::JoinSet;

use super::client::{Prompt, Target, send};
use super::outcome::RequestOutcome;

/// How much load, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    /// Workers of the closed loop.
    pub parallel: usize,
    /// Requests to send.
    pub number: usize,
    /// Requests per second for an open loop; `None` for a closed loop.
    pub rate: Option<f64>,
    /// Stop sending after this long (requests in flight are awaited).
    pub duration: Option<Duration>,
    /// Seed of the open loop's arrival times.
    pub seed: u64,
}

/// Requests finished so far, each with the index of its prompt; read by a live view while the
/// run goes on.
#[derive(Default)]
pub struct Live {
    finished: Mutex<Vec<(usize, RequestOutcome)>>,
}

impl Live {
    fn push(&self, prompt_index: usize, outcome: RequestOutcome) {
        self.finished.lock().expect("no panics while holding it").push((prompt_index, outcome));
    }

    /// Whether each request so far succeeded, with its latency in seconds.
    pub fn snapshot(&self) -> Vec<(bool, f64)> {
        self.finished
            .lock()
            .expect("no panics while holding it")
            .iter()
            .map(|(_, o)| (o.succeeded(), o.latency()))
            .collect()
    }

    /// Requests finished so far.
    pub fn finished(&self) -> usize {
        self.finished.lock().expect("no panics while holding it").len()
    }

    fn take(&self) -> Vec<(usize, RequestOutcome)> {
        std::mem::take(&mut *self.finished.lock().expect("no panics while holding it"))
    }
}

/// Sends `plan.number` requests (prompts taken in turn) and returns their outcomes in the order
/// they were sent, with `prompt_index` telling which prompt each one used. Dropped before the
/// end (a cancelled test), it stops sending and drops the requests in flight.
pub async fn run(
    client: &reqwest::Client,
    target: Arc<Target>,
    prompts: Arc<Vec<Prompt>>,
    plan: &LoadPlan,
    live: Arc<Live>,
) -> Vec<(usize, RequestOutcome)> {
    let sender = Sender { client: client.clone(), target, prompts, clock: Instant::now(), live: live.clone() };
    match plan.rate {
        None => closed_loop(sender, plan).await,
        Some(rate) => open_loop(sender, plan, rate).await,
    }
    let mut done = live.take();
    done.sort_by(|a, b| a.1.sent_s.total_cmp(&b.1.sent_s));
    done
}

/// What every request of a load shares: where it goes, what it asks, the clock and the tally.
#[derive(Clone)]
struct Sender {
    client: reqwest::Client,
    target: Arc<Target>,
    prompts: Arc<Vec<Prompt>>,
    clock: Instant,
    live: Arc<Live>,
}

impl Sender {
    /// Sends the `i`th request (prompts taken in turn), due `scheduled` seconds after the
    /// start, and records its outcome.
    async fn send(&self, i: usize, scheduled: f64) {
        let prompt_index = i % self.prompts.len();
        let outcome = send(&self.client, &self.target, &self.prompts[prompt_index], self.clock, scheduled).await;
        self.live.push(prompt_index, outcome);
    }
}

async fn closed_loop(sender: Sender, plan: &LoadPlan) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..plan.parallel.max(1) {
        let (sender, next) = (sender.clone(), next.clone());
        let (number, duration) = (plan.number, plan.duration);
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= number || duration.is_some_and(|d| sender.clock.elapsed() >= d) {
                    break;
                }
                let scheduled = sender.clock.elapsed().as_secs_f64();
                sender.send(i, scheduled).await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// Arrival times (seconds from the start) of requests at `rate` per second, the first at 0.
pub fn poisson_arrivals(rate: f64, seed: u64) -> impl Iterator<Item = f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let gaps = Exp::new(rate).expect("rate is checked to be positive and finite");
    let mut next = 0.0;
    std::iter::from_fn(move || {
        let due = next;
        next += gaps.sample(&mut rng);
        Some(due)
    })
}

/// The first `number` arrival times.
pub fn poisson_schedule(rate: f64, number: usize, seed: u64) -> Vec<f64> {
    poisson_arrivals(rate, seed).take(number).collect()
}

/// Raised when the open loop is dropped: its pacer thread stops at its next look.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

async fn open_loop(sender: Sender, plan: &LoadPlan, rate: f64) {
    let schedule = poisson_arrivals(rate, plan.seed).take(plan.number);
    let duration = plan.duration.map(|d| d.as_secs_f64());
    let runtime = tokio::runtime::Handle::current();
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let stopped = stop.0.clone();
    // Dropped with this future, the set aborts the requests in flight.
    let requests = Arc::new(Mutex::new(JoinSet::new()));
    let spawned = requests.clone();
    // The schedule is kept by a thread of its own with the OS's sleep (finer than the async
    // timer's millisecond), so busy runtime workers do not delay the sends it starts.
    let pacer = std::thread::spawn(move || {
        for (i, due) in schedule.enumerate() {
            if duration.is_some_and(|d| due >= d) {
                return;
            }
            loop {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let wait = due - sender.clock.elapsed().as_secs_f64();
                if wait <= 0.0 {
                    break;
                }
                std::thread::sleep(Duration::from_secs_f64(wait.min(0.05)));
            }
            let sender = sender.clone();
            spawned
                .lock()
                .expect("no panics while holding it")
                .spawn_on(async move { sender.send(i, due).await }, &runtime);
        }
    });
    tokio::task::spawn_blocking(move || pacer.join().expect("the pacer does not panic"))
        .await
        .expect("the pacer's join does not panic");
    drop(stop);
    let mut requests = std::mem::take(&mut *requests.lock().expect("no panics while holding it"));
    while requests.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::poisson_schedule;

    #[test]
    fn poisson_arrivals_average_the_rate_and_repeat_with_the_seed() {
        let times = poisson_schedule(200.0, 20_000, 7);
        assert_eq!(times[0], 0.0);
        assert!(times.windows(2).all(|w| w[1] >= w[0]));
        let mean_rate = (times.len() - 1) as f64 / times.last().unwrap();
        assert!((mean_rate - 200.0).abs() < 6.0, "{mean_rate}");
        assert_eq!(times, poisson_schedule(200.0, 20_000, 7));
        assert_ne!(times, poisson_schedule(200.0, 20_000, 8));
    }
}
