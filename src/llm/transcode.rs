//! Weights whose quant type has no fast CPU kernel, rewritten once into one that has.
//!
//! candle 0.10.2 (mistral.rs's tensor library) has SIMD dot products (AVX2, NEON) for Q4_0,
//! Q8_0 and the K-quants, but computes Q4_1, Q5_0 and Q5_1 one scalar at a time. A GGUF with
//! those weights is transcoded at load into Q8_0, which holds each of their values to within
//! half a step of 1/127 of the block's largest (Q4_1 has 16 levels per block, Q5 32): the demo
//! model decodes and scores about 1.45× faster for 1.5× the weights' memory. (jury's copy of
//! candle computes Q4_1 in SIMD tiles where the CPU has AVX-512 VNNI; the copy stays the
//! default there too, for the reasons the README gives under Local models.)
//! The original file is never touched; the result is cached beside jury's other caches, keyed
//! by the original's digest, and reused by every later load. `JURY_TRANSCODE=off` loads files
//! as they are. CUDA builds load them as they are too (the GPU kernels cover every type).

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
    /// Whether those without a fast kernel are loaded as Q8_0.
    transcoded: bool,
}

impl Weights {
    /// The quant type the slow matrices run as, when they are transcoded.
    pub fn transcoded_to(&self) -> Option<GgmlDType> {
        self.transcoded.then_some(GgmlDType::Q8_0)
    }

    /// A short account for pages and logs: "Q4_1 → Q8_0 (transcoded at load)" or "Q4_K, Q6_K".
    pub fn describe(&self) -> String {
        match self.transcoded_to() {
            Some(to) => format!("{} → {to:?} (transcoded at load)", self.slow_types()),
            None => self.types.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", "),
        }
    }

    /// The types without a fast kernel among the file's, as in "Q4_1, Q5_0".
    fn slow_types(&self) -> String {
        self.types.iter().filter(|t| has_no_fast_kernel(**t)).map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")
    }
}

/// Quant types candle computes without SIMD.
fn has_no_fast_kernel(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// GGUF's `general.file_type` for "mostly Q8_0".
const FILE_TYPE_MOSTLY_Q8_0: u32 = 7;

fn enabled() -> bool {
    !cfg!(feature = "cuda")
        && !std::env::var("JURY_TRANSCODE").is_ok_and(|v| matches!(v.trim(), "off" | "0" | "false" | "no"))
}

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
    let transcoded = enabled() && types.iter().copied().any(has_no_fast_kernel);
    Ok(Weights { types, transcoded })
}

/// Where the transcoded copy of `path` is kept.
fn cached_path(path: &Path) -> Result<PathBuf, LlmError> {
    let digest = crate::spec::file_digest(path)
        .map_err(|e| LlmError::Local(format!("{}: cannot read: {e}", path.display())))?
        .replace(':', "-");
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    Ok(cache_dir().join(format!("{stem}.{digest}.q8_0.gguf")))
}

/// The file to load for `path` and what its weights run as, transcoding them first when they
/// need it and no cached copy exists yet. Blocking (seconds for small models): call it off the
/// async runtime.
pub fn prepare(path: &Path) -> Result<(PathBuf, Weights), LlmError> {
    let weights = plan(path)?;
    if !weights.transcoded {
        return Ok((path.to_path_buf(), weights));
    }
    let copy = cached_path(path)?;
    if !copy.exists() {
        tracing::info!(
            "{}: {} has no fast CPU kernel; writing a Q8_0 copy to {} (once)",
            path.display(),
            weights.slow_types(),
            copy.display()
        );
        transcode_file(path, &copy)?;
    }
    Ok((copy, weights))
}

/// Writes `source` with every Q4_1/Q5_0/Q5_1 tensor as Q8_0 (the rest, metadata included, as
/// it is) to `target`, through a temporary file so that a half-written copy is never loaded.
pub fn transcode_file(source: &Path, target: &Path) -> Result<(), LlmError> {
    let fail = |e: String| LlmError::Local(format!("transcoding {} to Q8_0: {e}", source.display()));
    let (mut file, content) = read_header(source)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_by_key(|name| content.tensor_infos[*name].offset);
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(&mut file, name, &Device::Cpu).map_err(|e| fail(format!("{name}: {e}")))?;
        let tensor = if has_no_fast_kernel(tensor.dtype()) {
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

        transcode_file(&source, &target).unwrap();
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
    fn only_types_without_a_fast_kernel_are_transcoded() {
        for slow in [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1] {
            assert!(has_no_fast_kernel(slow), "{slow:?}");
        }
        for fast in [GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::Q4K, GgmlDType::Q6K, GgmlDType::F16, GgmlDType::F32] {
            assert!(!has_no_fast_kernel(fast), "{fast:?}");
        }
    }
}
