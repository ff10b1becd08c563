//! A tokenizer for load tests (`--tokenizer-path`: a Hugging Face `tokenizer.json`, or a GGUF
//! model whose own vocabulary is read): random prompts of exact token lengths, and token counts
//! where the server sends no usage.

use std::path::Path;

use rand::{Rng, SeedableRng};

use super::client::Prompt;
use crate::input::{BadInput, Problem};

pub struct PerfTokenizer {
    inner: tokenizers::Tokenizer,
    /// Ids that are ordinary text (no special or added tokens), to draw random prompts from.
    ordinary: Vec<u32>,
}

impl PerfTokenizer {
    pub fn load(path: &Path) -> Result<PerfTokenizer, BadInput> {
        let inner = if gguf_file(path) {
            gguf_tokenizer(path).map_err(|e| BadInput::one(Problem::new(e).in_file(path)))?
        } else {
            tokenizers::Tokenizer::from_file(path).map_err(|e| {
                BadInput::one(Problem::new(format!("not a tokenizer.json this version can read: {e}")).in_file(path))
            })?
        };
        let added: std::collections::HashSet<u32> = inner.get_added_tokens_decoder().keys().copied().collect();
        let mut ordinary: Vec<u32> = inner.get_vocab(false).into_values().filter(|id| !added.contains(id)).collect();
        ordinary.sort_unstable();
        if ordinary.is_empty() {
            return Err(BadInput::one(Problem::new("the tokenizer has no ordinary tokens").in_file(path)));
        }
        Ok(PerfTokenizer { inner, ordinary })
    }

    /// Tokens of `text`, special tokens not added.
    pub fn count(&self, text: &str) -> u64 {
        self.inner.encode(text, false).map_or(0, |e| e.get_ids().len() as u64)
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        self.inner.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
    }

    /// A text of random ordinary tokens that encodes to exactly `length` tokens when it can be
    /// made to (it almost always can), else as close as it got.
    fn random_text(&self, rng: &mut impl Rng, prefix: &[u32], length: usize) -> String {
        let mut ids: Vec<u32> = prefix.to_vec();
        ids.extend(
            (0..length.saturating_sub(prefix.len())).map(|_| self.ordinary[rng.random_range(0..self.ordinary.len())]),
        );
        let mut text = self.decode(&ids);
        // Decoding and encoding again can merge or split tokens: trim or extend, a few times.
        for _ in 0..8 {
            let mut again = self.encode(&text);
            if again.len() == length {
                break;
            }
            if again.len() > length {
                again.truncate(length);
            } else {
                again.extend((again.len()..length).map(|_| self.ordinary[rng.random_range(0..self.ordinary.len())]));
            }
            text = self.decode(&again);
        }
        text
    }
}

/// Whether `path` is a GGUF file (by its first four bytes).
fn gguf_file(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"GGUF"
}

#[cfg(feature = "local")]
fn gguf_tokenizer(path: &Path) -> Result<tokenizers::Tokenizer, String> {
    super::gguf_vocab::load(path)
}

#[cfg(not(feature = "local"))]
fn gguf_tokenizer(_: &Path) -> Result<tokenizers::Tokenizer, String> {
    Err("reading a GGUF file's vocabulary needs jury built with the `local` feature; give its tokenizer.json".into())
}

/// EvalScope's `random` dataset: `count` prompts of random tokens, each `min..=max` tokens long
/// (uniformly), all starting with the same `prefix_length` random tokens; with their lengths.
pub fn random_prompts(
    tokenizer: &PerfTokenizer,
    count: usize,
    min: usize,
    max: usize,
    prefix_length: usize,
    seed: u64,
) -> Vec<(Prompt, u64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let prefix: Vec<u32> =
        (0..prefix_length).map(|_| tokenizer.ordinary[rng.random_range(0..tokenizer.ordinary.len())]).collect();
    (0..count)
        .map(|_| {
            let length = rng.random_range(min.max(prefix_length).max(1)..=max.max(min).max(prefix_length).max(1));
            let text = tokenizer.random_text(&mut rng, &prefix, length);
            let tokens = tokenizer.count(&text);
            (Prompt::Text(text), tokens)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_prompts_share_their_prefix_and_repeat_with_the_seed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/perf/word_tokenizer.json");
        let tokenizer = PerfTokenizer::load(&path).unwrap();
        let prompts = random_prompts(&tokenizer, 5, 8, 16, 3, 42);
        let texts: Vec<String> = prompts
            .iter()
            .map(|(p, _)| match p {
                Prompt::Text(t) => t.clone(),
                Prompt::Messages(_) => unreachable!(),
            })
            .collect();
        let prefix: Vec<&str> = texts[0].split_whitespace().take(3).collect();
        for ((text, (_, tokens)), length) in
            texts.iter().zip(&prompts).zip(texts.iter().map(|t| t.split_whitespace().count()))
        {
            assert_eq!(text.split_whitespace().take(3).collect::<Vec<_>>(), prefix);
            assert!((8..=16).contains(&length), "{text}");
            assert_eq!(*tokens as usize, length);
            assert!(!text.contains("<unk>"));
        }
        assert_eq!(random_prompts(&tokenizer, 5, 8, 16, 3, 42), prompts);
        assert!(PerfTokenizer::load(Path::new("Cargo.toml")).is_err());
    }
}
