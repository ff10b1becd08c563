//! Requests to one local model are batched: several sequences decoded in one pass. Under greedy
//! decoding every answer must be exactly the one the request gets alone, however the requests
//! arrive — here each one while the earlier ones are being decoded, so new prompts join running
//! batches.
//!
//! Through the mistral.rs API alone, this failed on mistral.rs 0.8.1 as published: its CPU
//! attention for decode steps kept its partial results per tile and head but not per sequence,
//! so every sequence in a batch got the last sequence's attention (prompt 0, "What is the capital
//! of France?", went on with prompt 3's rainbow). `vendor/mistralrs-core` carries the fix
//! (vendor/README.md). Then the same through jury's own local model, sixteen requests at once.

#![cfg(feature = "local")]

use std::path::PathBuf;

use mistralrs::{GgufModelBuilder, Model, RequestBuilder, TextMessageRole, TokenSource};

const PROMPTS: [&str; 4] = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "List three prime numbers.",
    "Explain what a rainbow is in one sentence.",
];

async fn engine(prefix_cache: Option<usize>) -> Model {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).expect("demo model");
    GgufModelBuilder::new(
        path.parent().unwrap().to_string_lossy(),
        vec![path.file_name().unwrap().to_string_lossy().into_owned()],
    )
    .with_token_source(TokenSource::None)
    .with_max_num_seqs(PROMPTS.len())
    .with_prefix_cache_n(prefix_cache)
    .with_force_cpu()
    .build()
    .await
    .expect("load the model")
}

async fn ask(model: &Model, prompt: &str) -> String {
    let mut params = jury::llm::local::greedy_sampling();
    params.max_len = Some(24);
    let request = RequestBuilder::new().add_message(TextMessageRole::User, prompt).set_sampling(params);
    let response = model.send_chat_request(request).await.expect("an answer");
    response.choices[0].message.content.clone().unwrap_or_default()
}

async fn alone_and_together(prefix_cache: Option<usize>) -> (Vec<String>, Vec<String>) {
    let model = engine(prefix_cache).await;
    let mut alone = Vec::new();
    for prompt in PROMPTS {
        alone.push(ask(&model, prompt).await);
    }
    // Each prompt arrives while the earlier ones are being decoded.
    let together = futures::future::join_all(PROMPTS.iter().enumerate().map(|(i, p)| {
        let model = &model;
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(150 * i as u64)).await;
            ask(model, p).await
        }
    }))
    .await;
    (alone, together)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_answers_in_flight_together_match_those_alone() {
    let (alone, together) = alone_and_together(None).await;
    for (i, (a, t)) in alone.iter().zip(&together).enumerate() {
        assert_eq!(a, t, "prompt {i}: alone {a:?}, together {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jurys_local_model_batches_requests_and_answers_each_as_alone() {
    use jury::llm::ChatRequest;
    use jury::llm::local::LocalChat;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    jury::llm::demo::ensure_demo_model(&path).expect("demo model");
    let model = std::sync::Arc::new(LocalChat::load_batched(&path, 16).await.expect("the demo model"));
    let questions: Vec<String> = (0..16).map(|i| format!("Name one thing that is {} in one word.", 2 + i)).collect();
    let request = |q: &String| {
        let mut r = ChatRequest { system: None, user: q.clone(), settings: Default::default() };
        r.settings.max_new_tokens = Some(12);
        r.settings.do_sample = Some(false);
        r
    };
    let mut alone = Vec::new();
    for q in &questions {
        alone.push(model.chat(&request(q)).await.expect("an answer").text);
    }
    // All sixteen in flight, arriving 40 ms apart: prompts join batches already decoding.
    let together = futures::future::join_all(questions.iter().enumerate().map(|(i, q)| {
        let (model, request) = (model.clone(), request(q));
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(40 * i as u64)).await;
            model.chat(&request).await.expect("an answer").text
        }
    }))
    .await;
    for (i, (a, t)) in alone.iter().zip(&together).enumerate() {
        assert_eq!(a, t, "request {i}: alone {a:?}, in a batch {t:?}");
    }
    assert!(
        alone.iter().collect::<std::collections::HashSet<_>>().len() > 4,
        "the questions get different answers: {alone:?}"
    );
}

/// `vendor/candle-core` computes Q8_0 products of several rows (prompts, batches) in tiles.
/// Every element must be exactly what the Q8_0 dot product of its row and column gives alone
/// (the published crate's, or on CPUs with AVX-512 VNNI the patched one that adds the same
/// products in another order), and that must be the exact sum of the blocks' products up to
/// float rounding. Shapes cover whole tiles, partial ones, odd numbers of blocks and a single
/// row.
#[test]
fn q8_0_products_in_tiles_equal_each_row_and_column_alone() {
    use candle_core::quantized::k_quants::{BlockQ8_0, GgmlType, matmul};
    let mut random = uniform(0x2545_f491_4f6c_dd1du64);
    let quantize = |values: &[f32]| {
        let mut blocks = vec![BlockQ8_0::zeros(); values.len() / 32];
        BlockQ8_0::from_float(values, &mut blocks);
        blocks
    };
    // The sum of the blocks' integer products times their scales, in f64, and the sum of the
    // terms' magnitudes (what float rounding is relative to).
    let exact = |weights: &[BlockQ8_0], inputs: &[BlockQ8_0]| {
        let (mut sum, mut magnitude) = (0f64, 0f64);
        for (w, a) in weights.iter().zip(inputs) {
            let ((w_d, w_qs), (a_d, a_qs)) = (q8_0_block_parts(w), q8_0_block_parts(a));
            let dot: i64 = w_qs.iter().zip(&a_qs).map(|(&x, &y)| x as i64 * y as i64).sum();
            let term = f64::from(half::f16::from_bits(w_d).to_f32())
                * f64::from(half::f16::from_bits(a_d).to_f32())
                * dot as f64;
            sum += term;
            magnitude += term.abs();
        }
        (sum, magnitude)
    };
    for (m, k, n) in [(1, 64, 50), (4, 576, 192), (5, 96, 49), (17, 1536, 100), (3, 32, 1), (6, 224, 7), (2, 0, 5)] {
        let weights: Vec<f32> = (0..n * k).map(|_| random()).collect();
        let inputs: Vec<f32> = (0..m * k).map(|_| random() * 4.0).collect();
        let weight_blocks = quantize(&weights);
        let mut product = vec![0f32; m * n];
        matmul((m, k, n), &inputs, &weight_blocks, &mut product).unwrap();
        let blocks = k / 32;
        for row in 0..m {
            let input_blocks = quantize(&inputs[row * k..(row + 1) * k]);
            for col in 0..n {
                let column = &weight_blocks[col * blocks..(col + 1) * blocks];
                let alone = BlockQ8_0::vec_dot(k, column, &input_blocks);
                let (sum, magnitude) = exact(column, &input_blocks);
                assert!(
                    (f64::from(alone) - sum).abs() <= 1e-6 * magnitude + 1e-30,
                    "({m}, {k}, {n}) row {row} column {col}: {alone} vs exactly {sum}"
                );
                assert_eq!(
                    product[row * n + col].to_bits(),
                    alone.to_bits(),
                    "({m}, {k}, {n}) row {row} column {col}: {} vs {alone}",
                    product[row * n + col]
                );
            }
        }
    }
}

/// `vendor/candle-core` quantizes activations to Q8_0 eight values at a time. Every block must
/// be exactly what the published scalar code writes (reproduced here): the same scale, and
/// halves rounded away from zero. Blocks cover exact halves of both signs, zeros, negative
/// zeros, subnormals, huge values, and values that are not finite.
#[test]
fn q8_0_quantized_activations_equal_the_scalar_code() {
    use candle_core::quantized::k_quants::{BlockQ8_0, GgmlType};
    for (b, xs) in activation_blocks().iter().enumerate() {
        let mut out = [BlockQ8_0::zeros()];
        BlockQ8_0::from_float(xs, &mut out);
        let (d, qs) = scalar_q8(xs);
        let (out_d, out_qs) = q8_0_block_parts(&out[0]);
        assert_eq!(out_d, d, "block {b}: scale");
        assert_eq!(out_qs, qs, "block {b}: {xs:?}");
    }
}

/// The same for Q8_1 (Q4_1's activations), whose blocks also hold the values' sum times the
/// scale, in half precision as the published code computes it.
#[test]
fn q8_1_quantized_activations_equal_the_scalar_code() {
    use candle_core::quantized::k_quants::{BlockQ8_1, GgmlType};
    for (b, xs) in activation_blocks().iter().enumerate() {
        let mut out = [BlockQ8_1::zeros()];
        BlockQ8_1::from_float(xs, &mut out);
        let (d, qs) = scalar_q8(xs);
        let sum: i32 = qs.iter().map(|&q| q as i32).sum();
        let s = half::f16::from_f32(sum as f32) * half::f16::from_bits(d);
        // Its f16 scale, its f16 sum and 32 values.
        let bytes = block_bytes(&out[0]);
        assert_eq!(u16::from_le_bytes([bytes[0], bytes[1]]), d, "block {b}: scale");
        assert_eq!(u16::from_le_bytes([bytes[2], bytes[3]]), s.to_bits(), "block {b}: sum");
        let out_qs: Vec<i8> = bytes[4..].iter().map(|&q| q as i8).collect();
        assert_eq!(out_qs, qs.to_vec(), "block {b}: {xs:?}");
    }
}

/// The published scalar quantization of a block to 8 bits (Q8_0's and Q8_1's values and
/// scale): the scale's f16 bits and the values.
fn scalar_q8(xs: &[f32]) -> (u16, [i8; 32]) {
    let amax = xs.iter().fold(0f32, |m, x| m.max(x.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut qs = [0i8; 32];
    for (q, x) in qs.iter_mut().zip(xs) {
        *q = f32::round(x * id) as i8;
    }
    (half::f16::from_f32(d).to_bits(), qs)
}

/// Blocks of 32 activations: exact halves of both signs, zeros, negative zeros, subnormals,
/// huge values, values that are not finite, a sum beyond half precision's integers, and 2,000
/// random blocks over 40 binary orders of
/// magnitude.
fn activation_blocks() -> Vec<Vec<f32>> {
    let mut random = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut blocks: Vec<Vec<f32>> = vec![vec![0.0; 32], vec![-0.0; 32], vec![f32::MIN_POSITIVE / 4.0; 32]];
    // 127 as the largest magnitude makes the scale 1, so k + 0.5 is an exact half.
    let mut halves: Vec<f32> = (0..31).map(|i| (i as f32 - 15.0) + 0.5).collect();
    halves.push(127.0);
    blocks.push(halves.clone());
    blocks.push(halves.iter().map(|x| -x).collect());
    blocks.push((0..32).map(|i| if i == 3 { f32::NAN } else { i as f32 }).collect());
    blocks.push((0..32).map(|i| if i == 5 { f32::INFINITY } else { -(i as f32) }).collect());
    blocks.push((0..32).map(|i| i as f32 * 1e30).collect());
    // Values summing to 4063: Q8_1's sum is then not exact in half precision.
    blocks.push((0..32).map(|i| if i == 0 { 126.0 / 127.0 } else { 1.0 }).collect());
    for _ in 0..2000 {
        let scale = f32::powi(2.0, (random() % 40) as i32 - 20);
        blocks.push((0..32).map(|_| ((random() >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale).collect());
    }
    blocks
}

/// A Q8_0 block's scale (f16 bits) and values (its fields are private to candle).
fn q8_0_block_parts(block: &candle_core::quantized::k_quants::BlockQ8_0) -> (u16, [i8; 32]) {
    let bytes = block_bytes(block);
    (u16::from_le_bytes([bytes[0], bytes[1]]), std::array::from_fn(|i| bytes[2 + i] as i8))
}

/// Q4_1 weights (the demo model's) run natively on CPUs with AVX-512 VNNI, in tiles for any
/// number of rows (`vendor/candle-core`). Each row's product must be bit for bit the same alone
/// as in a batch, and equal the exact sum of the blocks' terms (d_w·d_a·Σ q_w·q_a + m_w·s_a,
/// in f64) up to float rounding. Shapes cover whole tiles, partial ones, odd numbers of blocks
/// and a single row.
#[test]
fn q4_1_products_are_exact_and_the_same_alone_or_in_a_batch() {
    use candle_core::quantized::k_quants::{BlockQ4_1, BlockQ8_1, GgmlType, matmul};
    let mut random = uniform(0x1234_5678_9abc_def1u64);
    let f16_at = |bytes: &[u8], at: usize| {
        f64::from(half::f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32())
    };
    for (m, k, n) in [
        (1, 64, 50),
        (4, 576, 192),
        (5, 96, 49),
        (9, 1536, 100),
        (3, 32, 1),
        (6, 224, 7),
        (16, 576, 576),
        (2, 576, 1536),
        // Odd block counts past the first sixteen blocks, eight-row tiles and four-row edges.
        (12, 1056, 9),
        (8, 544, 3),
        (2, 0, 5),
    ] {
        let weights: Vec<f32> = (0..n * k).map(|_| random()).collect();
        let inputs: Vec<f32> = (0..m * k).map(|_| random() * 4.0).collect();
        let mut weight_blocks = vec![BlockQ4_1::zeros(); n * k / 32];
        BlockQ4_1::from_float(&weights, &mut weight_blocks);
        let mut product = vec![0f32; m * n];
        matmul((m, k, n), &inputs, &weight_blocks, &mut product).unwrap();
        let blocks = k / 32;
        for row in 0..m {
            let row_inputs = &inputs[row * k..(row + 1) * k];
            let mut alone = vec![0f32; n];
            matmul((1, k, n), row_inputs, &weight_blocks, &mut alone).unwrap();
            let mut input_blocks = vec![BlockQ8_1::zeros(); blocks];
            BlockQ8_1::from_float(row_inputs, &mut input_blocks);
            for col in 0..n {
                let got = product[row * n + col];
                assert_eq!(
                    got.to_bits(),
                    alone[col].to_bits(),
                    "({m}, {k}, {n}) row {row} column {col}: {got} vs {} alone",
                    alone[col]
                );
                let (mut sum, mut magnitude) = (0f64, 0f64);
                for b in 0..blocks {
                    let w = block_bytes(&weight_blocks[col * blocks + b]);
                    let a = block_bytes(&input_blocks[b]);
                    let dot: i64 = (0..32)
                        .map(|i| {
                            let q_w = if i < 16 { w[4 + i] & 0x0F } else { w[4 + i - 16] >> 4 };
                            q_w as i64 * a[4 + i] as i8 as i64
                        })
                        .sum();
                    let terms = [f16_at(&w, 0) * f16_at(&a, 0) * dot as f64, f16_at(&w, 2) * f16_at(&a, 2)];
                    sum += terms[0] + terms[1];
                    magnitude += terms[0].abs() + terms[1].abs();
                }
                assert!(
                    (f64::from(got) - sum).abs() <= 1e-6 * magnitude + 1e-30,
                    "({m}, {k}, {n}) row {row} column {col}: {got} vs exactly {sum}"
                );
            }
        }
    }
}

/// The bytes of a quantized block (candle's block fields are private; every block type is
/// `repr(C)`: its f16 header fields, then its values).
fn block_bytes<B>(block: &B) -> Vec<u8> {
    // SAFETY: a block is plain bytes of its own size, with no padding (candle asserts the sizes).
    unsafe { std::slice::from_raw_parts(block as *const B as *const u8, std::mem::size_of::<B>()).to_vec() }
}

/// A xorshift64 stream: the same numbers on every run.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Floats in [-1, 1) from `xorshift(seed)`.
fn uniform(seed: u64) -> impl FnMut() -> f32 {
    let mut next = xorshift(seed);
    move || (next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}
