//! The quantized products local models spend their time in, alone: the demo model's matrix
//! shapes in Q4_1 (its layers) and Q8_0 (its output matrix, and the layers of a transcoded
//! copy), times 1 row (a decode step), 16 (a batch of decode steps) and 128 (a prompt), on
//! candle's CPU kernels as jury builds them (vendor/candle-core). Each case cycles through
//! copies of its matrix totalling 200 MB, so that the weights come from memory as they do in
//! decoding (one matrix would stay in cache). One JSON line per case: the median of 5 rounds,
//! with the slowest and fastest.
//!
//!     cargo bench --bench quantized_products --profile dev

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use std::time::Instant;

const ROUNDS: usize = 5;
const WEIGHT_BYTES: usize = 200_000_000;

fn main() -> candle_core::Result<()> {
    let cases = [
        (GgmlDType::Q4_1, 1536, 576),
        (GgmlDType::Q4_1, 576, 1536),
        (GgmlDType::Q4_1, 576, 576),
        (GgmlDType::Q8_0, 1536, 576),
        (GgmlDType::Q8_0, 49152, 576),
    ];
    for (dtype, n, k) in cases {
        let weights = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu)?;
        let matrix = QTensor::quantize(&weights, dtype)?;
        let bytes = matrix.storage_size_in_bytes();
        let copies: Vec<QMatMul> = (0..(WEIGHT_BYTES / bytes).max(2))
            .map(|_| QMatMul::from_qtensor(QTensor::quantize(&weights, dtype)?))
            .collect::<candle_core::Result<_>>()?;
        for rows in [1, 16, 128] {
            let x = Tensor::randn(0f32, 1.0, (1, rows, k), &Device::Cpu)?;
            // Rounds of a few hundred copies or more (fewer with many rows, whose products take
            // longer), each starting where the last stopped so that no round finds its
            // weights still in cache, and a warm-up one.
            let passes = (copies.len() * 16 / rows).clamp(copies.len().min(8), copies.len() * 4);
            let mut next = 0;
            let mut run = || -> candle_core::Result<f64> {
                let started = Instant::now();
                for _ in 0..passes {
                    copies[next % copies.len()].forward(&x)?;
                    next += 1;
                }
                Ok(started.elapsed().as_secs_f64() / passes as f64)
            };
            run()?;
            let mut seconds: Vec<f64> = (0..ROUNDS).map(|_| run()).collect::<candle_core::Result<_>>()?;
            seconds.sort_by(f64::total_cmp);
            let median = seconds[ROUNDS / 2];
            println!(
                "{{\"bench\":\"quantized_products\",\"dtype\":\"{dtype:?}\",\"rows\":{rows},\"n\":{n},\"k\":{k},\
                 \"us\":{:.1},\"us_min\":{:.1},\"us_max\":{:.1},\"gmac_per_s\":{:.1},\"weights_gb_per_s\":{:.1}}}",
                median * 1e6,
                seconds[0] * 1e6,
                seconds[ROUNDS - 1] * 1e6,
                (rows * n * k) as f64 / median / 1e9,
                bytes as f64 / median / 1e9
            );
        }
    }
    Ok(())
}
