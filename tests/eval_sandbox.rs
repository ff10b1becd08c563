//! The HumanEval sandbox against hostile programs: the deliberately unsafe samples shipped with
//! HumanEval, and programs that fork, loop, allocate, open sockets, read secrets or delete files.
//! Each must fail without harming the host, and well-behaved ones must pass.

use std::path::Path;
use std::time::{Duration, Instant};

use jury::eval::sandbox::{Limits, Outcome, Sandbox};
use serde_json::Value;

fn sandbox(wall_seconds: u64) -> Sandbox {
    Sandbox::detect(Limits { wall: Duration::from_secs(wall_seconds), cpu_seconds: wall_seconds, ..Limits::default() })
        .expect("python3 is installed")
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn humanevals_unsafe_samples_fail_and_the_good_ones_pass() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/humaneval");
    let problem = &jsonl(&shared.join("example_problem.jsonl"))[0];
    let sandbox = sandbox(3);
    let started = Instant::now();
    let outcomes: Vec<(bool, String)> = jsonl(&shared.join("example_samples.jsonl"))
        .iter()
        .map(|sample| {
            let program = format!(
                "{}{}\n{}\ncheck({})",
                problem["prompt"].as_str().unwrap(),
                sample["completion"].as_str().unwrap(),
                problem["test"].as_str().unwrap(),
                problem["entry_point"].as_str().unwrap()
            );
            let outcome = sandbox.run(&program);
            (outcome.passed, outcome.status)
        })
        .collect();
    let passed: Vec<bool> = outcomes.iter().map(|(p, _)| *p).collect();
    // rm -rf, sleep(10) and input() fail; the three ways of returning 1 pass.
    assert_eq!(passed, [false, false, false, true, true, true], "{outcomes:?}");
    assert!(outcomes[1].1.starts_with("timed out"), "{outcomes:?}");
    assert!(started.elapsed() < Duration::from_secs(9), "the sleeping sample is cut at the wall limit");
}

#[test]
fn forks_loops_allocations_secrets_and_deletions_fail_without_harm() {
    let sandbox = sandbox(3);
    // A fork bomb: stopped by the process limit, and nothing of it left running.
    let bomb = sandbox.run("import os\nwhile True:\n    os.fork()\n");
    assert!(!bomb.passed, "{bomb:?}");
    std::thread::sleep(Duration::from_millis(200));
    // A sandboxed process whose folder is gone outlived its run (other tests' runs are live).
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let proc = e.unwrap().path();
            let cmd = String::from_utf8_lossy(&std::fs::read(proc.join("cmdline")).ok()?).into_owned();
            let cwd = std::fs::read_link(proc.join("cwd")).ok()?;
            (cmd.contains("jury-sandbox-") && cwd.to_string_lossy().ends_with("(deleted)")).then_some(cmd)
        })
        .collect();
    assert!(left.is_empty(), "the whole process group is killed: {left:?}");
    // A busy loop ends at the CPU or wall limit.
    let started = Instant::now();
    let spin = sandbox.run("while True:\n    pass\n");
    assert!(!spin.passed && started.elapsed() < Duration::from_secs(6), "{spin:?}");
    // Eight gigabytes are refused by the memory limit.
    let hog = sandbox.run("x = bytearray(8 * 1024 ** 3)\nprint(len(x))\n");
    assert!(!hog.passed && hog.stderr.contains("MemoryError"), "{hog:?}");
    // The environment is not inherited.
    // SAFETY: set before any sandboxed program of this test starts, read by none of its threads.
    unsafe { std::env::set_var("JURY_TEST_SECRET", "hunter2") };
    let snoop = sandbox.run("import os, sys\nsys.exit(0 if 'JURY_TEST_SECRET' in os.environ else 3)\n");
    assert_eq!(snoop.status, "failed (exit status 3)", "{snoop:?}");
    // A file outside its folder cannot be deleted.
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep.txt");
    std::fs::write(&keep, "precious").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let delete = sandbox.run(&format!("import os\nos.remove({:?})\n", keep.display().to_string()));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!delete.passed && keep.exists(), "{delete:?}");
    // Its own folder is its own: a relative rm -rf touches only that.
    let own = sandbox.run("import os\nopen('scratch', 'w').write('x')\nos.remove('scratch')\n");
    assert!(own.passed, "{own:?}");
}

#[test]
fn a_fork_bomb_does_not_stop_the_samples_running_beside_it() {
    let sandbox = sandbox(3);
    std::thread::scope(|scope| {
        let bomb = scope.spawn(|| sandbox.run("import os\nwhile True:\n    os.fork()\n"));
        std::thread::sleep(Duration::from_millis(300));
        let neighbours: Vec<Outcome> = (0..4)
            .map(|_| {
                sandbox.run("import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'pass'], check=True)\n")
            })
            .collect();
        assert!(!bomb.join().unwrap().passed);
        assert!(neighbours.iter().all(|o| o.passed), "{neighbours:?}");
    });
}

#[test]
fn a_sandboxed_program_cannot_reach_the_network() {
    let sandbox = sandbox(5);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcome = sandbox.run(&format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'leak')\n"
    ));
    let reached = listener.accept().is_ok();
    if sandbox.network_isolated() {
        assert!(!outcome.passed && !reached, "{outcome:?}");
    } else {
        eprintln!("no network namespace can be made here: the report says the samples ran with network access");
        assert!(reached || !outcome.passed);
    }
}
