//! What ships in `registry/`, as the server offers it: the demo question set and the
//! candidates of the shipped configs (local models a round can generate answers with).

use std::path::{Path, PathBuf};

use crate::config::{Candidate, load_arena_config};

/// The demo questions, built in so a server started anywhere can seed them.
pub const DEMO_QUESTIONS: &str = include_str!("../../registry/data/questions/demo_questions.jsonl");

#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub dir: Option<PathBuf>,
    /// The shipped configs' names (file stems).
    pub configs: Vec<String>,
    /// Enabled candidates of the shipped configs, by name (first one wins).
    pub candidates: Vec<Candidate>,
}

impl Registry {
    /// Reads `dir/config/*.yaml`; a missing folder gives an empty registry.
    pub fn load(dir: &Path) -> Registry {
        let mut registry = Registry { dir: dir.is_dir().then(|| dir.to_path_buf()), ..Registry::default() };
        let Ok(entries) = std::fs::read_dir(dir.join("config")) else { return registry };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for file in files {
            match load_arena_config(&file) {
                Ok(config) => {
                    registry
                        .configs
                        .push(file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
                    for c in config.candidates.into_iter().filter(|c| c.enable) {
                        if !registry.candidates.iter().any(|known| known.name == c.name) {
                            registry.candidates.push(c);
                        }
                    }
                }
                Err(e) => tracing::warn!(file = %file.display(), "registry config skipped: {e}"),
            }
        }
        registry
    }

    pub fn candidate(&self, name: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.name == name)
    }
}
