//! Running model-written Python, which is hostile: each program in its own `python3 -I` process
//! in a fresh temporary folder, in a process group of its own that is killed whole when it ends
//! or runs out of time, with CPU, memory, process, file-size and open-file limits, no inherited
//! environment, no standard input, as an unprivileged user id of its own when jury runs as root,
//! and in a network namespace of its own (`unshare --net`) where the system allows one.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one program may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub wall: Duration,
    pub cpu_seconds: u64,
    pub memory_bytes: u64,
    pub processes: u64,
    pub file_bytes: u64,
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(10),
            cpu_seconds: 10,
            memory_bytes: 2 << 30,
            processes: 64,
            file_bytes: 16 << 20,
            open_files: 64,
        }
    }
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// `passed`, `failed (exit status 1)`, `timed out after 10 s`, …
    pub status: String,
    /// The end of what it wrote to standard error.
    pub stderr: String,
}

pub struct Sandbox {
    python: PathBuf,
    unshare: Option<PathBuf>,
    limits: Limits,
}

/// The first of the user ids programs run as when jury runs as root: far above any account's.
/// Each run gets one of its own, because the process limit counts every process of a user: under
/// a shared one, a fork bomb in one sample would make samples running beside it fail to start.
const FIRST_SANDBOX_UID: u32 = 1_000_000;
/// Runs of one jury process cycle through this many ids, a range of its own chosen by its
/// process id (Linux's pids stay below 2^22, so the ids stay below 2^31).
const UIDS_PER_PROCESS: u32 = 256;
const STDERR_TAIL: usize = 2000;

impl Sandbox {
    /// Finds `python3` (the system's first: one under a home folder cannot be run by another user),
    /// and whether a network namespace can be made here; then checks a trivial program passes.
    pub fn detect(limits: Limits) -> Result<Sandbox, String> {
        let system =
            ["/usr/bin/python3", "/usr/local/bin/python3"].map(PathBuf::from).into_iter().find(|p| p.is_file());
        let python = system
            .or_else(|| find_program("python3"))
            .ok_or("python3 is not installed: HumanEval runs each sample with it")?;
        let unshare = find_program("unshare").filter(|u| {
            let mut probe = Command::new(u);
            probe.args(namespace_args()).arg("true").stdout(Stdio::null()).stderr(Stdio::null());
            probe.status().is_ok_and(|s| s.success())
        });
        let sandbox = Sandbox { python, unshare, limits };
        let probe = sandbox.run("pass\n");
        if !probe.passed {
            return Err(format!(
                "the sandbox cannot run {}: {} {}",
                sandbox.python.display(),
                probe.status,
                probe.stderr.trim()
            ));
        }
        Ok(sandbox)
    }

    /// Whether programs run without network access.
    pub fn network_isolated(&self) -> bool {
        self.unshare.is_some()
    }

    /// Runs `program`; it passes when it exits 0 in time.
    pub fn run(&self, program: &str) -> Outcome {
        match self.try_run(program) {
            Ok(outcome) => outcome,
            Err(e) => Outcome { passed: false, status: format!("not run: {e}"), stderr: String::new() },
        }
    }

    fn try_run(&self, program: &str) -> std::io::Result<Outcome> {
        let dir = tempfile::Builder::new().prefix("jury-sandbox-").tempdir()?;
        let script = dir.path().join("program.py");
        std::fs::write(&script, program)?;
        let errors = std::fs::File::create(dir.path().join("stderr.txt"))?;
        let as_root = unsafe { libc::geteuid() } == 0;
        let uid = sandbox_uid();
        if as_root {
            for path in [dir.path(), script.as_path(), &dir.path().join("stderr.txt")] {
                std::os::unix::fs::chown(path, Some(uid), Some(uid))?;
            }
        }
        let mut command = match &self.unshare {
            Some(unshare) => {
                let mut c = Command::new(unshare);
                c.args(namespace_args());
                if as_root {
                    c.args(["--setgid", &uid.to_string(), "--setuid", &uid.to_string()]);
                }
                c.arg("--").arg(&self.python);
                c
            }
            None => Command::new(&self.python),
        };
        command
            .arg("-I")
            .arg(&script)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("LANG", "C.UTF-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(errors);
        let limits = self.limits;
        let drop_privileges = as_root && self.unshare.is_none();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                limit(libc::RLIMIT_CPU, limits.cpu_seconds)?;
                limit(libc::RLIMIT_AS, limits.memory_bytes)?;
                limit(libc::RLIMIT_NPROC, limits.processes)?;
                limit(libc::RLIMIT_FSIZE, limits.file_bytes)?;
                limit(libc::RLIMIT_NOFILE, limits.open_files)?;
                limit(libc::RLIMIT_CORE, 0)?;
                if drop_privileges
                    && (libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(uid) != 0 || libc::setuid(uid) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = command.spawn()?;
        let group = child.id() as i32;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if started.elapsed() >= limits.wall {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Whatever it started goes with it.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let status = match status {
            Some(s) => s,
            None => child.wait()?,
        };
        let stderr = tail(&dir.path().join("stderr.txt"));
        let timed_out = started.elapsed() >= limits.wall;
        Ok(match status.code() {
            Some(0) => Outcome { passed: true, status: "passed".into(), stderr },
            _ if timed_out => {
                Outcome { passed: false, status: format!("timed out after {} s", limits.wall.as_secs_f64()), stderr }
            }
            Some(code) => Outcome { passed: false, status: format!("failed (exit status {code})"), stderr },
            None => Outcome { passed: false, status: "killed by a signal (a limit was reached)".into(), stderr },
        })
    }
}

/// The next user id for a sandboxed run of this process.
fn sandbox_uid() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % UIDS_PER_PROCESS;
    let process = std::process::id() % (1 << 22);
    FIRST_SANDBOX_UID + process * UIDS_PER_PROCESS + run
}

/// `unshare`'s arguments for a network namespace: as root a plain one, else inside a user
/// namespace of our own.
fn namespace_args() -> &'static [&'static str] {
    if unsafe { libc::geteuid() } == 0 {
        &["--net", "--kill-child"]
    } else {
        &["--net", "--map-root-user", "--kill-child"]
    }
}

fn limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let rlimit = libc::rlimit { rlim_cur: value, rlim_max: value };
    if unsafe { libc::setrlimit(resource, &rlimit) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

fn tail(file: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(file) {
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let start = text.len().saturating_sub(STDERR_TAIL);
    let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
    text[start..].to_string()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}
