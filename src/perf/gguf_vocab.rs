//! A GGUF file's own vocabulary as a Hugging Face tokenizer, built as mistral.rs 0.8.1 builds
//! it when it loads the file (`gguf/gguf_tokenizer.rs`): a load test's token counts then match
//! what a mistral.rs-based server (jury's `/v1` among them) counts for the same text.
//!
//! `gpt2` vocabularies (byte-level BPE with merges) and `llama` ones (SentencePiece unigram with
//! scores) are read; other kinds are refused with their name.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BpeBuilder, Vocab};
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Prepend, Replace, Sequence as Normalizers};
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::tokenizer::normalizer::SplitDelimiterBehavior;
use tokenizers::{AddedToken, DecoderWrapper, ModelWrapper, NormalizerWrapper, PreTokenizerWrapper, Tokenizer};

/// GPT-2's pre-tokenizing split, as the engine uses it for every `gpt2` GGUF vocabulary.
const GPT2_SPLIT: &str = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/// The tokenizer stored in the GGUF file at `path`.
pub fn load(path: &Path) -> Result<Tokenizer, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let content = Content::read(&mut file).map_err(|e| format!("not a GGUF file this version can read: {e}"))?;
    let get = |key: &str| content.metadata.get(&format!("tokenizer.ggml.{key}"));
    let strings = |key: &str| -> Result<Option<Vec<String>>, String> {
        let Some(value) = get(key) else { return Ok(None) };
        let list = value.to_vec().map_err(|e| format!("tokenizer.ggml.{key}: {e}"))?;
        list.iter()
            .map(|v| v.to_string().cloned().map_err(|e| format!("tokenizer.ggml.{key}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    let id = |key: &str| get(key).and_then(|v| v.to_u32().ok());
    let model = get("model").and_then(|v| v.to_string().ok()).ok_or("the file has no tokenizer.ggml.model")?.clone();
    let tokens = strings("tokens")?.ok_or("the file has no tokenizer.ggml.tokens")?;
    let token = |i: u32| tokens.get(i as usize).cloned();
    let mut tokenizer = match model.as_str() {
        "gpt2" => {
            let merges = strings("merges")?.ok_or("a gpt2 vocabulary needs tokenizer.ggml.merges")?;
            byte_level_bpe(&tokens, &merges, id("unknown_token_id").and_then(token))?
        }
        "llama" | "replit" => {
            let scores = get("scores")
                .and_then(|v| v.to_vec().ok())
                .ok_or("a llama vocabulary needs tokenizer.ggml.scores")?
                .iter()
                .map(|s| s.to_f32().map(f64::from).map_err(|e| format!("tokenizer.ggml.scores: {e}")))
                .collect::<Result<Vec<f64>, _>>()?;
            sentencepiece(&tokens, scores, id("unknown_token_id").unwrap_or(0))?
        }
        other => return Err(format!("its vocabulary is of a kind jury cannot read: {other:?} (gpt2 or llama)")),
    };
    // Tokens of any type but "normal" (1) are special, as the engine treats them.
    let types: Vec<i32> = get("token_type")
        .and_then(|v| v.to_vec().ok())
        .map(|list| list.iter().map(|v| v.to_i32().unwrap_or(1)).collect())
        .unwrap_or_default();
    let mut special: Vec<AddedToken> = Vec::new();
    if types.len() == tokens.len() {
        special.extend(tokens.iter().zip(&types).filter(|(_, t)| **t != 1).map(|(tk, _)| AddedToken::from(tk, true)));
    }
    for key in ["bos_token_id", "eos_token_id", "unknown_token_id"] {
        special.extend(id(key).and_then(token).map(|tk| AddedToken::from(tk, true)));
    }
    tokenizer.add_special_tokens(&special);
    Ok(tokenizer)
}

fn byte_level_bpe(tokens: &[String], merges: &[String], unknown: Option<String>) -> Result<Tokenizer, String> {
    let merges = merges
        .iter()
        .map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect::<Option<Vec<_>>>()
        .ok_or("tokenizer.ggml.merges: a merge is not two tokens")?;
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let mut bpe = BpeBuilder::new().vocab_and_merges(vocab, merges);
    if let Some(unknown) = unknown {
        bpe = bpe.unk_token(unknown);
    }
    let mut tokenizer = Tokenizer::new(ModelWrapper::BPE(bpe.build().map_err(|e| e.to_string())?));
    let split = Split::new(SplitPattern::Regex(GPT2_SPLIT.into()), SplitDelimiterBehavior::Isolated, false)
        .map_err(|e| e.to_string())?;
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        PreTokenizerWrapper::Split(split),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
    ])));
    tokenizer.with_decoder(Some(ByteLevel::new(false, false, false)));
    Ok(tokenizer)
}

fn sentencepiece(tokens: &[String], scores: Vec<f64>, unknown: u32) -> Result<Tokenizer, String> {
    let vocab: Vec<(String, f64)> = tokens.iter().cloned().zip(scores).collect();
    let model = Unigram::from(vocab, Some(unknown as usize), true).map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(ModelWrapper::Unigram(model));
    let decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ").map_err(|e| e.to_string())?.into(),
        tokenizers::decoders::byte_fallback::ByteFallback::default().into(),
        tokenizers::decoders::fuse::Fuse::default().into(),
        tokenizers::decoders::strip::Strip::new(' ', 1, 0).into(),
    ];
    tokenizer.with_decoder(Some(tokenizers::decoders::sequence::Sequence::new(decoders)));
    let normalizers: Vec<NormalizerWrapper> =
        vec![Prepend::new("▁".into()).into(), Replace::new(" ", "▁").map_err(|e| e.to_string())?.into()];
    tokenizer.with_normalizer(Some(Normalizers::new(normalizers)));
    Ok(tokenizer)
}
