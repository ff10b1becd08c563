//! Weights whose quant type has no fast kernel on this CPU, rewritten once into one that has.
//!
//! candle 0.10.2 (mistral.rs's tensor library) has SIMD dot products (AVX2, NEON) for Q4_0,
//! Q8_0 and the K-quants, but computes Q4_1, Q5_0 and Q5_1 one scalar at a time. jury's copy of
//! candle computes Q4_1 in SIMD tiles where the CPU has AVX-512 VNNI (vendor/README.md); there
//! Q4_1 files run as they are. Elsewhere, and for Q5_0 and Q5_1, the weights are transcoded at
//! load into Q8_0, which holds each of their values to within half a step of 1/127 of the
//! block's largest (Q4_1 has 16 levels per block, Q5 32): without AVX-512 the demo model decodes
//! and scores about 1.45× faster so, for 1.5× the weights' memory.
//! The original file is never touched; the result is cached beside jury's other caches, keyed
//! by the original's digest and the types converted, and reused by every later load.
//! `JURY_TRANSCODE=off` loads files as they are, `JURY_TRANSCODE=on` transcodes all three types
//! whatever the CPU (unset or `auto`: as above). CUDA builds load files as they are (the GPU
//! kernels cover every type).

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};

use super::LlmError;

/// What a local model's weights run as.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// The quant types of the original's weight matrices, most common first.
    types: Vec<GgmlDType>,
    /// Those loaded as Q8_0 instead, in the same order.
    transcoded: Vec<GgmlDType>,
}

impl Weights {
    /// The quant type the slow matrices run as, when they are transcoded.
    pub fn transcoded_to(&self) -> Option<GgmlDType> {
        (!self.transcoded.is_empty()).then_some(GgmlDType::Q8_0)
    }

    /// What sets these weights' results apart from the file's own, for cache keys: nothing when
    /// they are the file's, "as Q8_0" when every type candle computes without SIMD is
    /// transcoded (the only choice before `JURY_TRANSCODE=auto` could keep Q4_1), else which
    /// types are, as in "Q5_0 as Q8_0" (a file mixing Q4_1 and Q5_0 on a CPU with the Q4_1
    /// tiles gives different results under `auto` and `on`).
    pub fn identity_suffix(&self) -> Option<String> {
        let to = self.transcoded_to()?;
        let all = self.types.iter().filter(|t| Policy::All.transcodes(**t)).count() == self.transcoded.len();
        Some(if all {
            format!("as {to:?}")
        } else {
            format!("{} as {to:?}", list(&self.transcoded).replace(", ", "+"))
        })
    }

    /// A short account for pages and logs: "Q4_1 → Q8_0 (transcoded at load)" or "Q4_K, Q6_K".
    pub fn describe(&self) -> String {
        match self.transcoded_to() {
            Some(to) => format!("{} → {to:?} (transcoded at load)", list(&self.transcoded)),
            None => list(&self.types),
        }
    }
}

/// Quant types as in "Q4_1, Q5_0".
fn list(types: &[GgmlDType]) -> String {
    types.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")
}

/// Which quant types are transcoded (`JURY_TRANSCODE`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    /// Those this CPU computes without SIMD (unset or `auto`).
    Auto,
    /// Every type the published candle computes without SIMD, whatever the CPU (`on`).
    All,
    /// None (`off`, and CUDA builds).
    Never,
}

impl Policy {
    fn from_env() -> Self {
        if cfg!(feature = "cuda") {
            return Policy::Never;
        }
        let value = std::env::var("JURY_TRANSCODE").unwrap_or_default().trim().to_lowercase();
        match value.as_str() {
            "off" | "0" | "false" | "no" => Policy::Never,
            "on" | "1" | "true" | "yes" => Policy::All,
            "" | "auto" => Policy::Auto,
            other => {
                tracing::warn!("JURY_TRANSCODE={other} is none of on, off and auto: taking auto");
                Policy::Auto
            }
        }
    }

    /// Whether weights of `dtype` are loaded as Q8_0.
    fn transcodes(self, dtype: GgmlDType) -> bool {
        let scalar_in_candle = matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1);
        match self {
            Policy::Never => false,
            Policy::All => scalar_in_candle,
            Policy::Auto => {
                scalar_in_candle
                    && !(dtype == GgmlDType::Q4_1 && candle_core::quantized::k_quants::has_simd_q4_1_matmul())
            }
        }
    }
}

/// GGUF's `general.file_type` for "mostly Q8_0".
const FILE_TYPE_MOSTLY_Q8_0: u32 = 7;

/// The folder transcoded files are kept in: `$JURY_CACHE_DIR/transcoded`, else
/// `$XDG_CACHE_HOME/jury/transcoded`, else `~/.cache/jury/transcoded`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("JURY_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("jury")
    });
    base.join("transcoded")
}

fn read_header(path: &Path) -> Result<(std::fs::File, Content), LlmError> {
    let fail = |e: String| LlmError::Local(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let content = Content::read(&mut file).map_err(|e| fail(format!("not a GGUF file jury can read: {e}")))?;
    Ok((file, content))
}

/// The quant types of a file's weight matrices (tensors of two or more dimensions), most
/// common first.
fn matrix_types(content: &Content) -> Vec<GgmlDType> {
    let mut counts: Vec<(GgmlDType, usize)> = Vec::new();
    for info in content.tensor_infos.values().filter(|i| i.shape.rank() >= 2) {
        match counts.iter_mut().find(|(t, _)| *t == info.ggml_dtype) {
            Some((_, n)) => *n += 1,
            None => counts.push((info.ggml_dtype, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0))));
    counts.into_iter().map(|(t, _)| t).collect()
}

/// What the file at `path` will run as, without writing anything (cheap: the header only).
pub fn plan(path: &Path) -> Result<Weights, LlmError> {
    let (_, content) = read_header(path)?;
    let types = matrix_types(&content);
    let policy = Policy::from_env();
    let transcoded = types.iter().copied().filter(|t| policy.transcodes(*t)).collect();
    Ok(Weights { types, transcoded })
}

/// Where the copy of `path` with `weights.transcoded` as Q8_0 is kept.
fn cached_path(path: &Path, weights: &Weights) -> Result<PathBuf, LlmError> {
    let digest = crate::spec::file_digest(path)
        .map_err(|e| LlmError::Local(format!("{}: cannot read: {e}", path.display())))?
        .replace(':', "-");
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let from: Vec<String> = weights.transcoded.iter().map(|t| format!("{t:?}").to_lowercase()).collect();
    Ok(cache_dir().join(format!("{stem}.{digest}.{}.q8_0.gguf", from.join("-"))))
}

/// The file to load for `path` and what its weights run as, transcoding them first when they
/// need it and no cached copy exists yet. Blocking (seconds for small models): call it off the
/// async runtime.
pub fn prepare(path: &Path) -> Result<(PathBuf, Weights), LlmError> {
    let weights = plan(path)?;
    if weights.transcoded.is_empty() {
        return Ok((path.to_path_buf(), weights));
    }
    let copy = cached_path(path, &weights)?;
    if !copy.exists() {
        tracing::info!(
            "{}: {} has no fast kernel on this CPU; writing a Q8_0 copy to {} (once)",
            path.display(),
            list(&weights.transcoded),
            copy.display()
        );
        transcode_file(path, &copy, &weights.transcoded)?;
    }
    Ok((copy, weights))
}

/// Writes `source` with every tensor of the types `from` as Q8_0 (the rest, metadata included,
/// as it is) to `target`, through a temporary file so that a half-written copy is never loaded.
pub fn transcode_file(source: &Path, target: &Path, from: &[GgmlDType]) -> Result<(), LlmError> {
    let fail = |e: String| LlmError::Local(format!("transcoding {} to Q8_0: {e}", source.display()));
    let (mut file, content) = read_header(source)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_by_key(|name| content.tensor_infos[*name].offset);
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(&mut file, name, &Device::Cpu).map_err(|e| fail(format!("{name}: {e}")))?;
        let tensor = if from.contains(&tensor.dtype()) {
            let values = tensor.dequantize(&Device::Cpu).map_err(|e| fail(format!("{name}: {e}")))?;
            QTensor::quantize(&values, GgmlDType::Q8_0).map_err(|e| fail(format!("{name}: {e}")))?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
    }
    // The copy is written with the default alignment (32), so the original's is left out.
    let file_type = Value::U32(FILE_TYPE_MOSTLY_Q8_0);
    let mut metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "general.alignment" | "general.file_type"))
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    metadata.push(("general.file_type", &file_type));
    metadata.sort_by_key(|(key, _)| *key);
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();

    let dir = target.parent().ok_or_else(|| fail("the cache path has no folder".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let partial = tempfile::Builder::new()
        .prefix(".transcoding-")
        .tempfile_in(dir)
        .map_err(|e| fail(format!("cannot write in {}: {e}", dir.display())))?;
    let mut writer = std::io::BufWriter::new(partial.as_file());
    gguf_file::write(&mut writer, &metadata, &tensor_refs).map_err(|e| fail(e.to_string()))?;
    std::io::Write::flush(&mut writer).map_err(|e| fail(e.to_string()))?;
    drop(writer);
    partial.persist(target).map_err(|e| fail(format!("cannot write {}: {}", target.display(), e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    /// A Q4_1 matrix written to a GGUF and transcoded: Q8_0 with the same shape, every value
    /// within Q8_0's rounding (half a step of amax/127, plus the step's own f16 rounding) of
    /// the Q4_1 value, other tensors and the metadata as they were.
    #[test]
    fn q4_1_becomes_q8_0_within_its_rounding() {
        let dir = tempfile::tempdir().unwrap();
        let (source, target) = (dir.path().join("m.gguf"), dir.path().join("m.q8_0.gguf"));
        let values: Vec<f32> = (0..64 * 96).map(|i| ((i * 7919 % 1000) as f32 / 250.0 - 2.0) * 0.37).collect();
        let matrix = Tensor::from_vec(values, (64, 96), &Device::Cpu).unwrap();
        let q4_1 = QTensor::quantize(&matrix, GgmlDType::Q4_1).unwrap();
        let norm = QTensor::quantize(&Tensor::ones(96, candle_core::DType::F32, &Device::Cpu).unwrap(), GgmlDType::F32)
            .unwrap();
        let arch = Value::String("llama".into());
        let file_type = Value::U32(3);
        let mut file = std::fs::File::create(&source).unwrap();
        gguf_file::write(
            &mut file,
            &[("general.architecture", &arch), ("general.file_type", &file_type)],
            &[("blk.0.ffn_up.weight", &q4_1), ("blk.0.attn_norm.weight", &norm)],
        )
        .unwrap();
        drop(file);

        transcode_file(&source, &target, &[GgmlDType::Q4_1]).unwrap();
        let (mut file, content) = read_header(&target).unwrap();
        assert_eq!(content.metadata["general.architecture"].to_string().unwrap(), "llama");
        assert_eq!(content.metadata["general.file_type"].to_u32().unwrap(), FILE_TYPE_MOSTLY_Q8_0);
        let up = content.tensor(&mut file, "blk.0.ffn_up.weight", &Device::Cpu).unwrap();
        assert_eq!(up.dtype(), GgmlDType::Q8_0);
        assert_eq!(up.shape().dims(), &[64, 96]);
        let norm = content.tensor(&mut file, "blk.0.attn_norm.weight", &Device::Cpu).unwrap();
        assert_eq!(norm.dtype(), GgmlDType::F32);

        let before = q4_1.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let after = up.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (block_before, block_after) in before.chunks(32).zip(after.chunks(32)) {
            let step = block_before.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (b, a) in block_before.iter().zip(block_after) {
                assert!((a - b).abs() <= 0.6 * step + 1e-6, "{b} became {a} (step {step})");
            }
        }
        assert!(before.iter().zip(&after).any(|(b, a)| b != a), "the values went through Q8_0");
    }

    #[test]
    fn each_policy_transcodes_only_types_without_a_fast_kernel() {
        let simd_q4_1 = candle_core::quantized::k_quants::has_simd_q4_1_matmul();
        for slow in [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1] {
            assert!(Policy::All.transcodes(slow), "{slow:?}");
            assert!(!Policy::Never.transcodes(slow), "{slow:?}");
            assert_eq!(Policy::Auto.transcodes(slow), slow != GgmlDType::Q4_1 || !simd_q4_1, "{slow:?}");
        }
        for fast in [GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::Q4K, GgmlDType::Q6K, GgmlDType::F16, GgmlDType::F32] {
            for policy in [Policy::Auto, Policy::All, Policy::Never] {
                assert!(!policy.transcodes(fast), "{fast:?} {policy:?}");
            }
        }
    }

    #[test]
    fn accounts_name_the_types_transcoded() {
        let weights =
            |transcoded: Vec<GgmlDType>| Weights { types: vec![GgmlDType::Q4_1, GgmlDType::Q8_0], transcoded };
        assert_eq!(weights(vec![]).describe(), "Q4_1, Q8_0");
        assert_eq!(weights(vec![GgmlDType::Q4_1]).describe(), "Q4_1 → Q8_0 (transcoded at load)");
        assert_eq!(weights(vec![]).transcoded_to(), None);
        assert_eq!(weights(vec![]).identity_suffix(), None);
        assert_eq!(weights(vec![GgmlDType::Q4_1]).identity_suffix().as_deref(), Some("as Q8_0"));
        // Only some of the file's slow types transcoded: the suffix says which.
        let mixed = |transcoded| Weights { types: vec![GgmlDType::Q4_1, GgmlDType::Q5_0], transcoded };
        assert_eq!(mixed(vec![GgmlDType::Q5_0]).identity_suffix().as_deref(), Some("Q5_0 as Q8_0"));
        assert_eq!(mixed(vec![GgmlDType::Q4_1, GgmlDType::Q5_0]).identity_suffix().as_deref(), Some("as Q8_0"));
    }
}
