//! Where a model runs: in-process from a local file (mistral.rs) or behind an
//! OpenAI-compatible endpoint.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The OpenAI API, used when neither the config nor `OPENAI_BASE_URL` names another server.
pub const OPENAI_DEFAULT_BASE: &str = "https://api.openai.com/v1";
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The demo model's file name: SmolLM2-135M-Instruct, fetched on first use.
pub const DEMO_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// True when `path` names the demo model file (wherever it is meant to live).
pub fn is_demo_model_path(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == DEMO_MODEL_FILE)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A GGUF file run in-process by mistral.rs.
    Local { path: PathBuf },
    /// Any server speaking the OpenAI chat-completions API.
    Remote { api_base: String, api_key_env: String, model: String },
}

impl ModelSpec {
    pub fn describe(&self) -> String {
        match self {
            ModelSpec::Local { path } => format!("local {}", path.display()),
            ModelSpec::Remote { api_base, model, .. } => format!("{model} at {api_base}"),
        }
    }

    /// What tells this model apart from another of the same name: the endpoint (its base URL,
    /// without a trailing slash), or the model file: its size and a digest of its first and last
    /// MiB (metadata, vocabulary, output layer) and of 64 samples of 64 KiB spread over the
    /// weights between (where a fine-tune differs from its base). That reads 6 MiB whatever the
    /// file's size and does not change when the file is copied or moved.
    pub fn identity(&self) -> String {
        match self {
            ModelSpec::Remote { api_base, model, .. } => format!("remote {} {model}", api_base.trim_end_matches('/')),
            ModelSpec::Local { path } => match file_digest(path) {
                Ok(digest) => format!("file {digest}"),
                Err(_) => format!("path {}", path.display()),
            },
        }
    }
}

/// A model file's size and digest, as `identity` describes it.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    const END: u64 = 1 << 20;
    const SAMPLE: u64 = 64 << 10;
    const SAMPLES: u64 = 64;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = Sha256::new();
    hasher.update(len.to_le_bytes());
    let mut offsets = vec![0];
    if len > 2 * END {
        offsets.extend((1..=SAMPLES).map(|i| END + (len - 2 * END) * i / (SAMPLES + 1)));
    }
    offsets.push(len.saturating_sub(END));
    let mut buf = Vec::with_capacity(END as usize);
    for (i, offset) in offsets.iter().enumerate() {
        let size = if i == 0 || i == offsets.len() - 1 { END } else { SAMPLE };
        buf.clear();
        file.seek(SeekFrom::Start(*offset))?;
        file.by_ref().take(size).read_to_end(&mut buf)?;
        hasher.update(&buf);
    }
    Ok(format!("{len}:{}", hex::encode(&hasher.finalize()[..16])))
}

/// Why a `model_id_or_path` could not be turned into a local model file.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalModelError {
    HubId(String),
    NotFound(PathBuf),
    NoGgufInFolder(PathBuf),
    SeveralGgufInFolder(PathBuf, Vec<String>),
    NotGguf(PathBuf),
}

impl std::fmt::Display for LocalModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalModelError::HubId(id) => write!(
                f,
                "\"{id}\" looks like a model hub id, and jury does not download models: set \
                 model_id_or_path to a local .gguf file or a folder holding one (relative paths \
                 are resolved against the config file's folder), or set api_base (and model) to \
                 use an OpenAI-compatible server"
            ),
            LocalModelError::NotFound(p) => write!(
                f,
                "no file or folder at {} (relative paths are resolved against the config file's folder)",
                p.display()
            ),
            LocalModelError::NoGgufInFolder(p) => {
                write!(f, "the folder {} holds no .gguf file", p.display())
            }
            LocalModelError::SeveralGgufInFolder(p, names) => write!(
                f,
                "the folder {} holds several .gguf files ({}): name one of them",
                p.display(),
                names.join(", ")
            ),
            LocalModelError::NotGguf(p) => {
                write!(f, "{} is not a .gguf file: jury runs local models from GGUF files", p.display())
            }
        }
    }
}

/// Where this process keeps local model files that configs name by other paths (`jury worker
/// --models NAME=PATH`): a config's model whose file name is NAME is read from PATH.
static LOCAL_MODEL_PLACES: std::sync::OnceLock<std::collections::BTreeMap<String, PathBuf>> =
    std::sync::OnceLock::new();

/// Sets this process's model places, once, before any config is read.
pub fn set_local_model_places(places: std::collections::BTreeMap<String, PathBuf>) {
    let _ = LOCAL_MODEL_PLACES.set(places);
}

/// The name work needing the local model at `path` is routed by: its NAME where this process
/// has it under one (`--models`), its file name otherwise (which is the NAME configs use).
pub fn local_model_name(path: &Path) -> String {
    let places = LOCAL_MODEL_PLACES.get();
    if let Some((name, _)) = places.and_then(|p| p.iter().find(|(_, place)| place.as_path() == path)) {
        return name.clone();
    }
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Where this process has the local model a run names by `path`: its place (`--models`) when
/// it has one under that file name, else `path` itself.
pub fn local_model_here(path: &Path) -> PathBuf {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    LOCAL_MODEL_PLACES.get().and_then(|p| p.get(&file_name)).cloned().unwrap_or_else(|| path.to_path_buf())
}

/// Resolves `model_id_or_path` to a GGUF file. The demo model may be missing: it is fetched
/// on first use.
pub fn resolve_local_model(value: &str, base_dir: &Path) -> Result<PathBuf, LocalModelError> {
    let path = base_dir.join(value);
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(place) = LOCAL_MODEL_PLACES.get().and_then(|p| p.get(&file_name)) {
        return Ok(place.clone());
    }
    if path.is_file() {
        let is_gguf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
        return if is_gguf { Ok(path) } else { Err(LocalModelError::NotGguf(path)) };
    }
    if path.is_dir() {
        let mut ggufs: Vec<String> = std::fs::read_dir(&path)
            .map_err(|_| LocalModelError::NotFound(path.clone()))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.to_ascii_lowercase().ends_with(".gguf"))
            .collect();
        ggufs.sort();
        return match ggufs.len() {
            0 => Err(LocalModelError::NoGgufInFolder(path)),
            1 => Ok(path.join(&ggufs[0])),
            _ => Err(LocalModelError::SeveralGgufInFolder(path, ggufs)),
        };
    }
    if is_demo_model_path(&path) {
        return Ok(path);
    }
    if looks_like_hub_id(value) {
        return Err(LocalModelError::HubId(value.to_string()));
    }
    Err(LocalModelError::NotFound(path))
}

/// `org/name` with no file extension and no leading `.` or `/`, e.g. `ZhipuAI/chatglm3-6b`.
fn looks_like_hub_id(value: &str) -> bool {
    let parts: Vec<&str> = value.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| !p.is_empty() && *p != "." && *p != "..")
        && !value.starts_with('.')
        && !value.to_ascii_lowercase().ends_with(".gguf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_file_is_known_by_its_content_not_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let base: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let mut tuned = base.clone();
        // A fine-tune: the same size, metadata and output layer, other weights in between.
        tuned[(3 << 19)..(3 << 19) + (200 << 10)].iter_mut().for_each(|b| *b = b.wrapping_add(1));
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            ModelSpec::Local { path }.identity()
        };
        assert_eq!(write("a.gguf", &base), write("copy-elsewhere.gguf", &base));
        assert_ne!(write("a.gguf", &base), write("tuned.gguf", &tuned));
        assert_ne!(write("small.gguf", b"GGUF tiny"), write("small2.gguf", b"GGUF tinz"));
        let remote =
            |base: &str| ModelSpec::Remote { api_base: base.into(), api_key_env: "K".into(), model: "m".into() };
        assert_eq!(remote("http://a/v1/").identity(), remote("http://a/v1").identity());
        assert_ne!(remote("http://a/v1").identity(), remote("http://b/v1").identity());
    }

    #[test]
    fn hub_ids_are_recognised() {
        assert!(looks_like_hub_id("ZhipuAI/chatglm3-6b"));
        assert!(looks_like_hub_id("qwen/Qwen-7B"));
        assert!(!looks_like_hub_id("./models/x.gguf"));
        assert!(!looks_like_hub_id("models/x.gguf"));
        assert!(!looks_like_hub_id("/abs/path/model"));
        assert!(!looks_like_hub_id("a/b/c"));
    }
}
