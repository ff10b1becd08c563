use super::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ6K, BlockQ8K, BlockQ8_0,
    BlockQ8_1, QK8_0, QK_K,
};
use byteorder::{ByteOrder, LittleEndian};
use half::f16;

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

#[inline(always)]
pub(crate) unsafe fn sum_i16_pairs_float(x: __m256i) -> __m256 {
    let ones = _mm256_set1_epi16(1);
    let summed_pairs = _mm256_madd_epi16(ones, x);
    _mm256_cvtepi32_ps(summed_pairs)
}

#[inline(always)]
pub(crate) unsafe fn mul_sum_us8_pairs_float(ax: __m256i, sy: __m256i) -> __m256 {
    let dot = _mm256_maddubs_epi16(ax, sy);
    sum_i16_pairs_float(dot)
}

#[inline(always)]
pub(crate) unsafe fn hsum_float_8(x: __m256) -> f32 {
    let res = _mm256_extractf128_ps(x, 1);
    let res = _mm_add_ps(res, _mm256_castps256_ps128(x));
    let res = _mm_add_ps(res, _mm_movehl_ps(res, res));
    let res = _mm_add_ss(res, _mm_movehdup_ps(res));
    _mm_cvtss_f32(res)
}

#[inline(always)]
pub(crate) unsafe fn bytes_from_nibbles_32(rsi: *const u8) -> __m256i {
    let tmp = _mm_loadu_si128(rsi as *const __m128i);
    let bytes = _mm256_insertf128_si256::<1>(_mm256_castsi128_si256(tmp), _mm_srli_epi16(tmp, 4));
    let low_mask = _mm256_set1_epi8(0xF);
    _mm256_and_si256(low_mask, bytes)
}

#[inline(always)]
pub(crate) unsafe fn mul_sum_i8_pairs_float(x: __m256i, y: __m256i) -> __m256 {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    mul_sum_us8_pairs_float(ax, sy)
}

#[inline(always)]
pub(crate) fn vec_dot_q4_0_q8_0(n: usize, xs: &[BlockQ4_0], ys: &[BlockQ8_0]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK8_0),
        "vec_dot_q4_0_q8_0: {n} is not divisible by {QK8_0}"
    );
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = _mm256_set1_ps(f16::to_f32(x.d) * f16::to_f32(y.d));
            let bx = bytes_from_nibbles_32(x.qs.as_ptr());
            let off = _mm256_set1_epi8(8);
            let bx = _mm256_sub_epi8(bx, off);
            let by = _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i);
            let q = mul_sum_i8_pairs_float(bx, by);
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_float_8(acc)
    }
}

#[inline(always)]
pub(crate) fn vec_dot_q8_0_q8_0(n: usize, xs: &[BlockQ8_0], ys: &[BlockQ8_0]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK8_0),
        "vec_dot_q8_0_q8_0: {n} is not divisible by {QK8_0}"
    );
    if has_avx512_vnni() {
        // SAFETY: the CPU has the features (checked above).
        let n_blocks = xs.len().min(ys.len());
        let (xs, ys) = (&xs[..n_blocks], &ys[..n_blocks]);
        return unsafe {
            q8_0_tile_avx512::<1, 1, _>(n_blocks, [ys], [&BlockScales(ys)], [xs], [&BlockScales(xs)])[0][0]
        };
    }
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = _mm256_set1_ps(f16::to_f32(x.d) * f16::to_f32(y.d));
            let bx = _mm256_loadu_si256(x.qs.as_ptr() as *const __m256i);
            let by = _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i);
            let q = mul_sum_i8_pairs_float(bx, by);
            acc = _mm256_fmadd_ps(d, q, acc);
        }
        hsum_float_8(acc)
    }
}

#[inline(always)]
unsafe fn get_scale_shuffle(i: usize) -> __m128i {
    const K_SHUFFLE: [u8; 128] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7,
        7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10,
        11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13,
        13, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15,
    ];
    _mm_loadu_si128((K_SHUFFLE.as_ptr() as *const __m128i).add(i))
}

#[inline(always)]
unsafe fn get_scale_shuffle_k4(i: usize) -> __m256i {
    const K_SHUFFLE: [u8; 256] = [
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
        0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        2, 3, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5,
        4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        6, 7, 6, 7, 6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9,
        8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10,
        11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13,
        12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12,
        13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
        14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
    ];
    _mm256_loadu_si256((K_SHUFFLE.as_ptr() as *const __m256i).add(i))
}

#[inline(always)]
unsafe fn get_scale_shuffle_q3k(i: usize) -> __m256i {
    const K_SHUFFLE: [u8; 128] = [
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
        2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
        6, 7, 6, 7, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11,
        10, 11, 10, 11, 10, 11, 10, 11, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12,
        13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
    ];
    _mm256_loadu_si256((K_SHUFFLE.as_ptr() as *const __m256i).add(i))
}

#[inline(always)]
pub(crate) fn vec_dot_q6k_q8k(n: usize, xs: &[BlockQ6K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q6k_8k: {n} is not divisible by {QK_K}"
    );

    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let m2 = _mm256_set1_epi8(3);
        let m32s = _mm256_set1_epi8(32);
        let mut acc = _mm256_setzero_ps();
        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = y.d * x.d.to_f32();
            let mut q4 = x.ql.as_ptr();
            let mut qh = x.qh.as_ptr();
            let mut q8 = y.qs.as_ptr();

            let scales = _mm_loadu_si128(x.scales.as_ptr() as *const __m128i);
            let mut sumi = _mm256_setzero_si256();

            for j in 0..QK_K / 128 {
                let is = j * 4;
                let scale_0 = _mm_shuffle_epi8(scales, get_scale_shuffle(is));
                let scale_1 = _mm_shuffle_epi8(scales, get_scale_shuffle(is + 1));
                let scale_2 = _mm_shuffle_epi8(scales, get_scale_shuffle(is + 2));
                let scale_3 = _mm_shuffle_epi8(scales, get_scale_shuffle(is + 3));

                let q4bits1 = _mm256_loadu_si256(q4 as *const __m256i);
                q4 = q4.add(32);
                let q4bits2 = _mm256_loadu_si256(q4 as *const __m256i);
                q4 = q4.add(32);
                let q4bits_h = _mm256_loadu_si256(qh as *const __m256i);
                qh = qh.add(32);

                let q4h_0 = _mm256_slli_epi16(_mm256_and_si256(q4bits_h, m2), 4);
                let q4h_1 =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(q4bits_h, 2), m2), 4);
                let q4h_2 =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(q4bits_h, 4), m2), 4);
                let q4h_3 =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(q4bits_h, 6), m2), 4);

                let q4_0 = _mm256_or_si256(_mm256_and_si256(q4bits1, m4), q4h_0);
                let q4_1 = _mm256_or_si256(_mm256_and_si256(q4bits2, m4), q4h_1);
                let q4_2 =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4bits1, 4), m4), q4h_2);
                let q4_3 =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4bits2, 4), m4), q4h_3);

                let q8_0 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_1 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_2 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_3 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);

                let q8s_0 = _mm256_maddubs_epi16(m32s, q8_0);
                let q8s_1 = _mm256_maddubs_epi16(m32s, q8_1);
                let q8s_2 = _mm256_maddubs_epi16(m32s, q8_2);
                let q8s_3 = _mm256_maddubs_epi16(m32s, q8_3);

                let p16_0 = _mm256_maddubs_epi16(q4_0, q8_0);
                let p16_1 = _mm256_maddubs_epi16(q4_1, q8_1);
                let p16_2 = _mm256_maddubs_epi16(q4_2, q8_2);
                let p16_3 = _mm256_maddubs_epi16(q4_3, q8_3);

                let p16_0 = _mm256_sub_epi16(p16_0, q8s_0);
                let p16_1 = _mm256_sub_epi16(p16_1, q8s_1);
                let p16_2 = _mm256_sub_epi16(p16_2, q8s_2);
                let p16_3 = _mm256_sub_epi16(p16_3, q8s_3);

                let p16_0 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scale_0), p16_0);
                let p16_1 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scale_1), p16_1);
                let p16_2 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scale_2), p16_2);
                let p16_3 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scale_3), p16_3);

                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16_0, p16_1));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16_2, p16_3));
            }
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(&d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_float_8(acc)
    }
}

#[inline(always)]
unsafe fn mm256_set_m128i(a: __m128i, b: __m128i) -> __m256i {
    _mm256_insertf128_si256(_mm256_castsi128_si256(b), a, 1)
}

#[inline(always)]
pub(crate) fn vec_dot_q2k_q8k(n: usize, xs: &[BlockQ2K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q2k_q8k: {n} is not divisible by {QK_K}"
    );

    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let m4 = _mm_set1_epi8(0xF);

        let mut acc = _mm256_setzero_ps();

        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = y.d * x.d.to_f32();
            let dmin = -y.d * x.dmin.to_f32();

            let mut q2 = x.qs.as_ptr();
            let mut q8 = y.qs.as_ptr();

            let mins_and_scales = _mm_loadu_si128(x.scales.as_ptr() as *const __m128i);
            let scales8 = _mm_and_si128(mins_and_scales, m4);
            let mins8 = _mm_and_si128(_mm_srli_epi16(mins_and_scales, 4), m4);
            let mins = _mm256_cvtepi8_epi16(mins8);
            let prod =
                _mm256_madd_epi16(mins, _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i));

            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(&dmin), _mm256_cvtepi32_ps(prod), acc);

            let all_scales = _mm256_cvtepi8_epi16(scales8);
            let l_scales = _mm256_extracti128_si256(all_scales, 0);
            let h_scales = _mm256_extracti128_si256(all_scales, 1);
            let scales = [
                mm256_set_m128i(l_scales, l_scales),
                mm256_set_m128i(h_scales, h_scales),
            ];

            let mut sumi = _mm256_setzero_si256();

            for scale in scales {
                let q2bits = _mm256_loadu_si256(q2 as *const __m256i);
                q2 = q2.add(32);

                let q8_0 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_1 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_2 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_3 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);

                let q2_0 = _mm256_and_si256(q2bits, m3);
                let q2_1 = _mm256_and_si256(_mm256_srli_epi16(q2bits, 2), m3);
                let q2_2 = _mm256_and_si256(_mm256_srli_epi16(q2bits, 4), m3);
                let q2_3 = _mm256_and_si256(_mm256_srli_epi16(q2bits, 6), m3);

                let p0 = _mm256_maddubs_epi16(q2_0, q8_0);
                let p1 = _mm256_maddubs_epi16(q2_1, q8_1);
                let p2 = _mm256_maddubs_epi16(q2_2, q8_2);
                let p3 = _mm256_maddubs_epi16(q2_3, q8_3);

                let p0 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(scale, get_scale_shuffle_q3k(0)), p0);
                let p1 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(scale, get_scale_shuffle_q3k(1)), p1);
                let p2 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(scale, get_scale_shuffle_q3k(2)), p2);
                let p3 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(scale, get_scale_shuffle_q3k(3)), p3);

                let p0 = _mm256_add_epi32(p0, p1);
                let p2 = _mm256_add_epi32(p2, p3);

                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p2));
            }
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(&d), _mm256_cvtepi32_ps(sumi), acc);
        }

        hsum_float_8(acc)
    }
}

#[inline(always)]
pub(crate) fn vec_dot_q3k_q8k(n: usize, xs: &[BlockQ3K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q3k_q8k: {n} is not divisible by {QK_K}"
    );

    const KMASK1: u32 = 0x03030303;
    const KMASK2: u32 = 0x0f0f0f0f;

    let mut aux = [0u32; 3];

    unsafe {
        let m3 = _mm256_set1_epi8(3);
        let mone = _mm256_set1_epi8(1);
        let m32 = _mm_set1_epi8(32);

        let mut acc = _mm256_setzero_ps();
        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = y.d * x.d.to_f32();

            let mut q3 = x.qs.as_ptr();
            let mut q8 = y.qs.as_ptr();

            LittleEndian::read_u32_into(&x.scales, &mut aux);
            let scales128 = _mm_set_epi32(
                (((aux[1] >> 4) & KMASK2) | (((aux[2] >> 6) & KMASK1) << 4)) as i32,
                (((aux[0] >> 4) & KMASK2) | (((aux[2] >> 4) & KMASK1) << 4)) as i32,
                ((aux[1] & KMASK2) | (((aux[2] >> 2) & KMASK1) << 4)) as i32,
                ((aux[0] & KMASK2) | (((aux[2]) & KMASK1) << 4)) as i32,
            );
            let scales128 = _mm_sub_epi8(scales128, m32);
            let all_scales = _mm256_cvtepi8_epi16(scales128);
            let l_scales = _mm256_extracti128_si256(all_scales, 0);
            let h_scales = _mm256_extracti128_si256(all_scales, 1);
            let scales = [
                mm256_set_m128i(l_scales, l_scales),
                mm256_set_m128i(h_scales, h_scales),
            ];

            // high bit
            let hbits = _mm256_loadu_si256(x.hmask.as_ptr() as *const __m256i);

            let mut sumi = _mm256_setzero_si256();

            for (j, scale) in scales.iter().enumerate() {
                // load low 2 bits
                let q3bits = _mm256_loadu_si256(q3 as *const __m256i);
                q3 = q3.add(32);

                // Prepare low and high bits
                // We hardcode the shifts here to avoid loading them into a separate register
                let q3l_0 = _mm256_and_si256(q3bits, m3);
                let q3h_0 = if j == 0 {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 0)), 0)
                } else {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 4)), 4)
                };
                let q3h_0 = _mm256_slli_epi16(q3h_0, 2);

                let q3l_1 = _mm256_and_si256(_mm256_srli_epi16(q3bits, 2), m3);
                let q3h_1 = if j == 0 {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 1)), 1)
                } else {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 5)), 5)
                };
                let q3h_1 = _mm256_slli_epi16(q3h_1, 2);

                let q3l_2 = _mm256_and_si256(_mm256_srli_epi16(q3bits, 4), m3);
                let q3h_2 = if j == 0 {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 2)), 2)
                } else {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 6)), 6)
                };
                let q3h_2 = _mm256_slli_epi16(q3h_2, 2);

                let q3l_3 = _mm256_and_si256(_mm256_srli_epi16(q3bits, 6), m3);
                let q3h_3 = if j == 0 {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 3)), 3)
                } else {
                    _mm256_srli_epi16(_mm256_andnot_si256(hbits, _mm256_slli_epi16(mone, 7)), 7)
                };
                let q3h_3 = _mm256_slli_epi16(q3h_3, 2);

                // load Q8 quants
                let q8_0 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_1 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_2 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_3 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);

                // Dot product: we multiply the 2 low bits and 1 high bit part separately, so we
                // can use _mm256_maddubs_epi16, and then subtract. The high bit part has the 2
                // already subtracted (and so, it is zero if the high bit was not set, and 2 if the
                // high bit was set)
                let q8s_0 = _mm256_maddubs_epi16(q3h_0, q8_0);
                let q8s_1 = _mm256_maddubs_epi16(q3h_1, q8_1);
                let q8s_2 = _mm256_maddubs_epi16(q3h_2, q8_2);
                let q8s_3 = _mm256_maddubs_epi16(q3h_3, q8_3);

                let p16_0 = _mm256_maddubs_epi16(q3l_0, q8_0);
                let p16_1 = _mm256_maddubs_epi16(q3l_1, q8_1);
                let p16_2 = _mm256_maddubs_epi16(q3l_2, q8_2);
                let p16_3 = _mm256_maddubs_epi16(q3l_3, q8_3);

                let p16_0 = _mm256_sub_epi16(p16_0, q8s_0);
                let p16_1 = _mm256_sub_epi16(p16_1, q8s_1);
                let p16_2 = _mm256_sub_epi16(p16_2, q8s_2);
                let p16_3 = _mm256_sub_epi16(p16_3, q8s_3);

                // multiply with scales
                let p16_0 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(*scale, get_scale_shuffle_q3k(0)), p16_0);
                let p16_1 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(*scale, get_scale_shuffle_q3k(1)), p16_1);
                let p16_2 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(*scale, get_scale_shuffle_q3k(2)), p16_2);
                let p16_3 =
                    _mm256_madd_epi16(_mm256_shuffle_epi8(*scale, get_scale_shuffle_q3k(3)), p16_3);

                // accumulate
                let p16_0 = _mm256_add_epi32(p16_0, p16_1);
                let p16_2 = _mm256_add_epi32(p16_2, p16_3);
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16_0, p16_2));
            }

            // multiply with block scale and accumulate
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(&d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_float_8(acc)
    }
}

#[inline(always)]
pub(crate) fn vec_dot_q4k_q8k(n: usize, xs: &[BlockQ4K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q4k_q8k: {n} is not divisible by {QK_K}"
    );
    let mut utmp = [0u32; 4];
    const KMASK1: u32 = 0x3f3f3f3f;
    const KMASK2: u32 = 0x0f0f0f0f;
    const KMASK3: u32 = 0x03030303;

    unsafe {
        let m4 = _mm256_set1_epi8(0xF);

        let mut acc = _mm256_setzero_ps();
        let mut acc_m = _mm_setzero_ps();

        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = y.d * x.d.to_f32();
            let dmin = -y.d * x.dmin.to_f32();

            LittleEndian::read_u32_into(&x.scales, &mut utmp[0..3]);

            utmp[3] = ((utmp[2] >> 4) & KMASK2) | (((utmp[1] >> 6) & KMASK3) << 4);
            let uaux = utmp[1] & KMASK1;
            utmp[1] = (utmp[2] & KMASK2) | (((utmp[0] >> 6) & KMASK3) << 4);
            utmp[2] = uaux;
            utmp[0] &= KMASK1;

            let mut q4 = x.qs.as_ptr();
            let mut q8 = y.qs.as_ptr();

            let mins_and_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
                utmp[3] as i32,
                utmp[2] as i32,
                utmp[1] as i32,
                utmp[0] as i32,
            ));

            let q8sums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
            let q8s = _mm_hadd_epi16(
                _mm256_extracti128_si256(q8sums, 0),
                _mm256_extracti128_si256(q8sums, 1),
            );
            let prod = _mm_madd_epi16(_mm256_extracti128_si256(mins_and_scales, 1), q8s);
            acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);

            let sc128 = _mm256_extracti128_si256(mins_and_scales, 0);
            let scales = mm256_set_m128i(sc128, sc128);

            let mut sumi = _mm256_setzero_si256();

            for j in 0..QK_K / 64 {
                let scale_l = _mm256_shuffle_epi8(scales, get_scale_shuffle_k4(2 * j));
                let scale_h = _mm256_shuffle_epi8(scales, get_scale_shuffle_k4(2 * j + 1));

                let q4bits = _mm256_loadu_si256(q4 as *const __m256i);
                q4 = q4.add(32);
                let q4l = _mm256_and_si256(q4bits, m4);
                let q4h = _mm256_and_si256(_mm256_srli_epi16(q4bits, 4), m4);

                let q8l = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let p16l = _mm256_maddubs_epi16(q4l, q8l);
                let p16l = _mm256_madd_epi16(scale_l, p16l);
                sumi = _mm256_add_epi32(sumi, p16l);

                let q8h = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let p16h = _mm256_maddubs_epi16(q4h, q8h);
                let p16h = _mm256_madd_epi16(scale_h, p16h);
                sumi = _mm256_add_epi32(sumi, p16h);
            }

            let vd = _mm256_set1_ps(d);
            acc = _mm256_fmadd_ps(vd, _mm256_cvtepi32_ps(sumi), acc);
        }

        let acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
        let acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));

        hsum_float_8(acc) + _mm_cvtss_f32(acc_m)
    }
}

#[inline(always)]
pub(crate) fn vec_dot_q5k_q8k(n: usize, xs: &[BlockQ5K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q5k_q8k: {n} is not divisible by {QK_K}"
    );
    let mut utmp = [0u32; 4];
    const KMASK1: u32 = 0x3f3f3f3f;
    const KMASK2: u32 = 0x0f0f0f0f;
    const KMASK3: u32 = 0x03030303;

    unsafe {
        let m4 = _mm256_set1_epi8(0xF);
        let mzero = _mm_setzero_si128();
        let mone = _mm256_set1_epi8(1);

        let mut acc = _mm256_setzero_ps();
        let mut summs = 0.0;

        for (x, y) in xs.iter().zip(ys.iter()) {
            let d = y.d * x.d.to_f32();
            let dmin = -y.d * x.dmin.to_f32();

            LittleEndian::read_u32_into(&x.scales, &mut utmp[0..3]);

            utmp[3] = ((utmp[2] >> 4) & KMASK2) | (((utmp[1] >> 6) & KMASK3) << 4);
            let uaux = utmp[1] & KMASK1;
            utmp[1] = (utmp[2] & KMASK2) | (((utmp[0] >> 6) & KMASK3) << 4);
            utmp[2] = uaux;
            utmp[0] &= KMASK1;

            let mut q5 = x.qs.as_ptr();
            let mut q8 = y.qs.as_ptr();

            let mins_and_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
                utmp[3] as i32,
                utmp[2] as i32,
                utmp[1] as i32,
                utmp[0] as i32,
            ));

            let q8sums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
            let q8s = _mm_hadd_epi16(
                _mm256_extracti128_si256(q8sums, 0),
                _mm256_extracti128_si256(q8sums, 1),
            );
            let prod = _mm_madd_epi16(_mm256_extracti128_si256(mins_and_scales, 1), q8s);
            let hsum = _mm_hadd_epi32(_mm_hadd_epi32(prod, mzero), mzero);
            summs += dmin * _mm_extract_epi32(hsum, 0) as f32;

            let sc128 = _mm256_extracti128_si256(mins_and_scales, 0);
            let scales = mm256_set_m128i(sc128, sc128);

            let hbits = _mm256_loadu_si256(x.qh.as_ptr() as *const __m256i);
            let mut hmask = mone;

            let mut sumi = _mm256_setzero_si256();

            for j in 0..QK_K / 64 {
                let scale_0 = _mm256_shuffle_epi8(scales, get_scale_shuffle_k4(2 * j));
                let scale_1 = _mm256_shuffle_epi8(scales, get_scale_shuffle_k4(2 * j + 1));

                let q5bits = _mm256_loadu_si256(q5 as *const __m256i);
                q5 = q5.add(32);

                //Similar to q3k we hardcode the shifts here to avoid loading them into a separate register
                let q5l_0 = _mm256_and_si256(q5bits, m4);
                let q5l_0_shift_input = _mm256_and_si256(hbits, hmask);
                let q5l_0_right_shift = match j {
                    0 => _mm256_srli_epi16(q5l_0_shift_input, 0),
                    1 => _mm256_srli_epi16(q5l_0_shift_input, 2),
                    2 => _mm256_srli_epi16(q5l_0_shift_input, 4),
                    3 => _mm256_srli_epi16(q5l_0_shift_input, 6),
                    _ => unreachable!(),
                };
                let q5h_0 = _mm256_slli_epi16(q5l_0_right_shift, 4);
                let q5_0 = _mm256_add_epi8(q5l_0, q5h_0);
                hmask = _mm256_slli_epi16(hmask, 1);

                let q5l_1 = _mm256_and_si256(_mm256_srli_epi16(q5bits, 4), m4);
                let q5l_1_shift_input = _mm256_and_si256(hbits, hmask);
                let q5l_1_right_shift = match j {
                    0 => _mm256_srli_epi16(q5l_1_shift_input, 1),
                    1 => _mm256_srli_epi16(q5l_1_shift_input, 3),
                    2 => _mm256_srli_epi16(q5l_1_shift_input, 5),
                    3 => _mm256_srli_epi16(q5l_1_shift_input, 7),
                    _ => unreachable!(),
                };

                let q5h_1 = _mm256_slli_epi16(q5l_1_right_shift, 4);
                let q5_1 = _mm256_add_epi8(q5l_1, q5h_1);
                hmask = _mm256_slli_epi16(hmask, 1);

                let q8_0 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);
                let q8_1 = _mm256_loadu_si256(q8 as *const __m256i);
                q8 = q8.add(32);

                let p16_0 = _mm256_maddubs_epi16(q5_0, q8_0);
                let p16_1 = _mm256_maddubs_epi16(q5_1, q8_1);

                let p16_0 = _mm256_madd_epi16(scale_0, p16_0);
                let p16_1 = _mm256_madd_epi16(scale_1, p16_1);

                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16_0, p16_1));
            }
            let vd = _mm256_set1_ps(d);
            acc = _mm256_fmadd_ps(vd, _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_float_8(acc) + summs
    }
}

#[inline(always)]
pub(crate) fn vec_dot_q8k_q8k(n: usize, xs: &[BlockQ8K], ys: &[BlockQ8K]) -> f32 {
    debug_assert!(
        n.is_multiple_of(QK_K),
        "vec_dot_q8k_8k: {n} is not divisible by {QK_K}"
    );
    unsafe {
        let mut acc = _mm256_setzero_ps();
        for (xs, ys) in xs.iter().zip(ys.iter()) {
            let mut sumi = _mm256_setzero_si256();
            let x_qs = xs.qs.as_ptr();
            let y_qs = ys.qs.as_ptr();
            for j in (0..QK_K).step_by(32) {
                let xs = _mm256_loadu_si256(x_qs.add(j) as *const __m256i);
                let ys = _mm256_loadu_si256(y_qs.add(j) as *const __m256i);

                let xs0 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xs, 0));
                let ys0 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(ys, 0));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(xs0, ys0));

                let xs1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xs, 1));
                let ys1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(ys, 1));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(xs1, ys1));
            }
            let d = _mm256_set1_ps(xs.d * ys.d);
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum_float_8(acc)
    }
}

/// `R` rows of Q8_0 activations times `C` columns of Q8_0 weights: `out[r][c]` is exactly what
/// `vec_dot_q8_0_q8_0(n, cols[c], rows[r])` returns (same operations in the same order per
/// element), but each block of weights and activations is loaded once per tile rather than once
/// per pair, and the `R × C` accumulations are independent, so they overlap instead of waiting
/// on one chain of fused multiply-adds.
///
/// # Safety
/// Every slice of `rows` and `cols` must hold at least `n_blocks` blocks.
#[inline(always)]
pub(crate) unsafe fn q8_0_tile<const R: usize, const C: usize>(
    n_blocks: usize,
    rows: [&[BlockQ8_0]; R],
    cols: [&[BlockQ8_0]; C],
) -> [[f32; C]; R] {
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    for b in 0..n_blocks {
        let mut w_abs = [_mm256_setzero_si256(); C];
        let mut w_q = [_mm256_setzero_si256(); C];
        let mut w_d = [0f32; C];
        for c in 0..C {
            let w = cols[c].get_unchecked(b);
            w_q[c] = _mm256_loadu_si256(w.qs.as_ptr() as *const __m256i);
            w_abs[c] = _mm256_sign_epi8(w_q[c], w_q[c]);
            w_d[c] = f16::to_f32(w.d);
        }
        for r in 0..R {
            let a = rows[r].get_unchecked(b);
            let a_q = _mm256_loadu_si256(a.qs.as_ptr() as *const __m256i);
            let a_d = f16::to_f32(a.d);
            for c in 0..C {
                let q = mul_sum_us8_pairs_float(w_abs[c], _mm256_sign_epi8(a_q, w_q[c]));
                let d = _mm256_set1_ps(w_d[c] * a_d);
                acc[r][c] = _mm256_fmadd_ps(d, q, acc[r][c]);
            }
        }
    }
    let mut out = [[0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            out[r][c] = hsum_float_8(acc[r][c]);
        }
    }
    out
}

/// `q8_0_tile` for CPUs with AVX-VNNI, each element bit-identical to it. One `vpdpbusd` per
/// pair of blocks replaces the sign trick and the two multiply-add steps: the weights are made
/// unsigned by adding 128, and the accumulator starts at −128 × (the activations summed by fours),
/// so each lane holds the same exact integer sum of four products as before (no step saturates:
/// Q8_0 values lie in −127..=127); the float steps after it are unchanged.
///
/// # Safety
/// The CPU must have AVX2, FMA and AVX-VNNI, and every slice of `rows` and `cols` must hold at
/// least `n_blocks` blocks.
#[target_feature(enable = "avx2,fma,avxvnni")]
pub(crate) unsafe fn q8_0_tile_vnni<const R: usize, const C: usize>(
    n_blocks: usize,
    rows: [&[BlockQ8_0]; R],
    cols: [&[BlockQ8_0]; C],
) -> [[f32; C]; R] {
    let zero = _mm256_setzero_si256();
    // 0x80: −128 as a signed byte (what flips a weight to weight + 128), 128 as an unsigned one.
    let offset = _mm256_set1_epi8(-128);
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    for b in 0..n_blocks {
        let mut w_u = [zero; C];
        let mut w_d = [0f32; C];
        for c in 0..C {
            let w = cols[c].get_unchecked(b);
            w_u[c] = _mm256_xor_si256(_mm256_loadu_si256(w.qs.as_ptr() as *const __m256i), offset);
            w_d[c] = f16::to_f32(w.d);
        }
        for r in 0..R {
            let a = rows[r].get_unchecked(b);
            let a_q = _mm256_loadu_si256(a.qs.as_ptr() as *const __m256i);
            let a_d = f16::to_f32(a.d);
            let start = _mm256_sub_epi32(zero, _mm256_dpbusd_avx_epi32(zero, offset, a_q));
            for c in 0..C {
                let q = _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(start, w_u[c], a_q));
                let d = _mm256_set1_ps(w_d[c] * a_d);
                acc[r][c] = _mm256_fmadd_ps(d, q, acc[r][c]);
            }
        }
    }
    let mut out = [[0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            out[r][c] = hsum_float_8(acc[r][c]);
        }
    }
    out
}

/// Whether the CPU runs `q8_0_tile_avx512` (AVX-512 with VNNI). Where it does, every Q8_0 product
/// (`vec_dot_q8_0_q8_0` included) takes that path, so a row computes the same bits alone or in a
/// tile.
#[inline(always)]
pub(crate) fn has_avx512_vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// The scales of a row of Q8_0 blocks, two blocks at a time, for `q8_0_tile_avx512`.
pub(crate) trait Q8_0PairScales {
    /// The scales of blocks `b` and `b + 1` (0 for the second when `b + 1` is past the row), each
    /// over the eight lanes its block's values sum into.
    ///
    /// # Safety
    /// The CPU must have what `has_avx512_vnni` checks, and block `b` must exist.
    unsafe fn pair(&self, b: usize) -> __m512;
}

/// Scales read from the blocks, converted as they are needed (one row's product).
pub(crate) struct BlockScales<'a>(pub &'a [BlockQ8_0]);

impl Q8_0PairScales for BlockScales<'_> {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
    unsafe fn pair(&self, b: usize) -> __m512 {
        let first = _mm256_set1_ps(f16::to_f32(self.0.get_unchecked(b).d));
        let second = match self.0.get(b + 1) {
            Some(block) => _mm256_set1_ps(f16::to_f32(block.d)),
            None => _mm256_setzero_ps(),
        };
        _mm512_insertf32x8::<1>(_mm512_castps256_ps512(first), second)
    }
}

/// Scales converted to f32 beforehand (`q8_0_scales`): a tile reads each many times.
pub(crate) struct ConvertedScales<'a>(pub &'a [f32]);

impl Q8_0PairScales for ConvertedScales<'_> {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
    unsafe fn pair(&self, b: usize) -> __m512 {
        // Both scales in the two low lanes, then lane i takes lane i / 8.
        let two = _mm_castsi128_ps(_mm_loadl_epi64(self.0.as_ptr().add(b) as *const __m128i));
        let spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(two))
    }
}

/// The scales of `blocks` as f32, with a 0 after an odd number of blocks, for `ConvertedScales`
/// (sixteen per instruction: a tile converts those of every block it reads).
///
/// # Safety
/// The CPU must have what `has_avx512_vnni` checks.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_scales(blocks: &[BlockQ8_0], scales: &mut Vec<f32>) {
    let mut chunks = blocks.chunks_exact(16);
    for chunk in &mut chunks {
        let bits: [u16; 16] = std::array::from_fn(|i| chunk[i].d.to_bits());
        let converted = _mm512_cvtph_ps(_mm256_loadu_si256(bits.as_ptr() as *const __m256i));
        let mut out = [0f32; 16];
        _mm512_storeu_ps(out.as_mut_ptr(), converted);
        scales.extend_from_slice(&out);
    }
    scales.extend(chunks.remainder().iter().map(|b| f16::to_f32(b.d)));
    if blocks.len() % 2 == 1 {
        scales.push(0.0);
    }
}

/// The 64 values of blocks `b` and `b + 1` (the second block's zero when `b + 1` is past
/// `n_blocks`), block `b` in the low 256 bits.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
unsafe fn value_pair(blocks: &[BlockQ8_0], b: usize, n_blocks: usize) -> __m512i {
    let q = _mm256_loadu_si256(blocks.get_unchecked(b).qs.as_ptr() as *const __m256i);
    if b + 1 < n_blocks {
        let q2 = _mm256_loadu_si256(blocks.get_unchecked(b + 1).qs.as_ptr() as *const __m256i);
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(q), q2)
    } else {
        _mm512_zextsi256_si512(q)
    }
}

/// `q8_0_tile_vnni` on 512-bit registers, two blocks per instruction: the low eight lanes of
/// each accumulator sum the even blocks, the high eight the odd ones, and the two halves are
/// added before the final sum. The integer sums are the same exact ones; only the order of the
/// float additions differs from the 256-bit kernels (`vec_dot_q8_0_q8_0` follows this one on
/// such CPUs). The blocks' scales come from `row_d` and `col_d`: the same values whether
/// converted beforehand or on the way.
///
/// # Safety
/// The CPU must have what `has_avx512_vnni` checks, every slice of `rows` and `cols` must hold
/// at least `n_blocks` blocks, and converted scales `n_blocks` rounded up to even (what
/// `q8_0_scales` writes).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_tile_avx512<const R: usize, const C: usize, S: Q8_0PairScales>(
    n_blocks: usize,
    rows: [&[BlockQ8_0]; R],
    row_d: [&S; R],
    cols: [&[BlockQ8_0]; C],
    col_d: [&S; C],
) -> [[f32; C]; R] {
    let zero = _mm512_setzero_si512();
    // As in `q8_0_tile_vnni`: weights + 128 as unsigned bytes, the accumulator started at
    // −128 × (the activations summed by fours).
    let offset = _mm512_set1_epi8(-128);
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let mut b = 0;
    while b < n_blocks {
        let mut w_u = [zero; C];
        let mut w_d = [_mm512_setzero_ps(); C];
        for c in 0..C {
            let pair = cols[c].as_ptr().add(b) as *const u8;
            // A pair is 68 bytes: its first two cache lines (the next pair's start fetches the rest).
            prefetch_next_tile(pair, C * n_blocks * size_of::<BlockQ8_0>());
            prefetch_next_tile(pair.wrapping_add(64), C * n_blocks * size_of::<BlockQ8_0>());
            w_u[c] = _mm512_xor_si512(value_pair(cols[c], b, n_blocks), offset);
            w_d[c] = col_d[c].pair(b);
        }
        for r in 0..R {
            let a_q = value_pair(rows[r], b, n_blocks);
            let a_d = row_d[r].pair(b);
            let start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, offset, a_q));
            for c in 0..C {
                let q = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, w_u[c], a_q));
                acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(w_d[c], a_d), q, acc[r][c]);
            }
        }
        b += 2;
    }
    let mut out = [[0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            let a = acc[r][c];
            out[r][c] = hsum_float_8(_mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps::<1>(a)));
        }
    }
    out
}

/// Asks for the byte `ahead` bytes past `at` to be brought into the cache: called with a tile's
/// weights and the size of its columns, it fetches the same place in the next tile's columns
/// (the next columns of the weights, which follow these in memory). A decode step reads each
/// weight once, from memory, and the hardware prefetcher does not pick up streams as short as
/// a column (a few hundred bytes): without this, the kernel waited on its loads. A prefetch
/// never faults, so the address may lie past the weights' end.
#[inline(always)]
unsafe fn prefetch_next_tile(at: *const u8, ahead: usize) {
    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(ahead) as *const i8);
}

/// Q8_1 activations laid out for `q4_1_tile_avx512`, made once per product: each row's values
/// a pair of blocks per 64 bytes, each pair's scales over the sixteen lanes its values sum into
/// (eight each), and the blocks' scaled sums sixteen per vector; zeros past a row's last block.
/// A tile then reads every operand it needs from a row with plain loads.
pub(crate) struct PackedQ8_1 {
    pairs: usize,
    chunks: usize,
    values: Vec<u8>,
    scales: Vec<f32>,
    sums: Vec<f32>,
}

thread_local! {
    /// The last product's buffers, reused by the next one on the thread: fresh allocations this
    /// size are fresh pages, whose faults cost as much as the repacking.
    static SPARE_BUFFERS: std::cell::Cell<(Vec<u8>, Vec<f32>, Vec<f32>)> = Default::default();
}

impl PackedQ8_1 {
    /// `lhs`: rows of `n_blocks` blocks each.
    ///
    /// # Safety
    /// The CPU must have what `has_avx512_vnni` checks.
    pub(crate) unsafe fn new(lhs: &[BlockQ8_1], n_blocks: usize) -> Self {
        let rows = lhs.len().checked_div(n_blocks).unwrap_or(0);
        let (pairs, chunks) = (n_blocks.div_ceil(2), n_blocks.div_ceil(16));
        let (mut values, mut scales, mut sums) = SPARE_BUFFERS.take();
        for (buffer, len) in [(&mut scales, rows * pairs * 16), (&mut sums, rows * chunks * 16)] {
            buffer.clear();
            buffer.resize(len, 0.0);
        }
        values.clear();
        values.resize(rows * pairs * 64, 0);
        for (r, row) in lhs.chunks_exact(n_blocks.max(1)).enumerate() {
            for (b, block) in row.iter().enumerate() {
                pack_q8_1_block(
                    block,
                    values.as_mut_ptr().add((r * pairs * 2 + b) * 32),
                    scales.as_mut_ptr().add((r * pairs * 2 + b) * 8),
                    &mut sums[r * chunks * 16 + b],
                );
            }
        }
        PackedQ8_1 { pairs, chunks, values, scales, sums }
    }
}

impl Drop for PackedQ8_1 {
    fn drop(&mut self) {
        let buffers = (std::mem::take(&mut self.values), std::mem::take(&mut self.scales), std::mem::take(&mut self.sums));
        SPARE_BUFFERS.set(buffers);
    }
}

/// One block's 32 values to `values`, its scale eight times to `scales` and its scaled sum to
/// `sum`, as f32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
unsafe fn pack_q8_1_block(block: &BlockQ8_1, values: *mut u8, scales: *mut f32, sum: &mut f32) {
    // [scale, sum] as f32 in the two low lanes.
    let header = _mm_cvtph_ps(_mm_cvtsi32_si128((block as *const BlockQ8_1 as *const i32).read_unaligned()));
    _mm256_storeu_si256(values as *mut __m256i, _mm256_loadu_si256(block.qs.as_ptr() as *const __m256i));
    _mm256_storeu_ps(scales, _mm256_broadcastss_ps(header));
    *sum = _mm_cvtss_f32(_mm_movehdup_ps(header));
}

/// The 64 values (0..=15) of the Q4_1 block at `first` and the next one (zeros when `SECOND` is
/// false) in the order `PackedQ8_1` keeps a pair's activations, and the blocks' headers as f32
/// in lanes 0..4: [scale, minimum] of the first, then of the second. A block's byte `j` holds
/// value `j` in its low half and value `j + 16` in its high one.
#[inline(always)]
unsafe fn q4_1_pair<const SECOND: bool>(first: *const BlockQ4_1) -> (__m512i, __m512) {
    let first = first as *const u8;
    let second = first.add(size_of::<BlockQ4_1>());
    let low = _mm_loadu_si128(first.add(4) as *const __m128i);
    let high = if SECOND { _mm_loadu_si128(second.add(4) as *const __m128i) } else { _mm_setzero_si128() };
    // 128-bit lanes [first, first, second, second]; the second copy of each shifted down by a
    // nibble, then every byte's low nibble kept.
    let both = _mm512_castsi256_si512(_mm256_set_m128i(high, low));
    let spread = _mm512_shuffle_i64x2::<0b01_01_00_00>(both, both);
    let shifted = _mm512_srlv_epi64(spread, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    let values = _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
    let header_second = if SECOND { (second as *const i32).read_unaligned() } else { 0 };
    let headers = _mm_cvtph_ps(_mm_set_epi32(0, 0, header_second, (first as *const i32).read_unaligned()));
    (values, _mm512_castps128_ps512(headers))
}

/// `R` rows of Q8_1 activations (`rows`, indices into `packed`) times `C` columns of Q4_1
/// weights, two blocks per `vpdpbusd` (the values 0..=15 need no offset: it takes them as the
/// unsigned operand). A pair of blocks adds `d_w·d_a·Σ q_w·q_a` to the accumulator's lanes
/// (eight for each block); the minimum terms `m_w·s_a` (the weights' minimum times the
/// activations' scaled sum) of sixteen blocks are gathered one per lane as the pairs go by and
/// added with one multiply-add per row and column. These are the published `vec_dot`'s terms
/// (not its rounding: it adds them one block at a time in scalar code). Each element is the
/// same operations whatever `R` and `C`, so a row gets the same bits alone or in a batch.
///
/// # Safety
/// The CPU must have what `has_avx512_vnni` checks, `packed` must have been made for
/// `n_blocks` blocks a row, every index of `rows` be one of its rows, and every slice of `cols`
/// hold at least `n_blocks` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q4_1_tile_avx512<const R: usize, const C: usize>(
    n_blocks: usize,
    packed: &PackedQ8_1,
    rows: [usize; R],
    cols: [&[BlockQ4_1]; C],
) -> [[f32; C]; R] {
    let tile = Q4_1Tile {
        row_values: rows.map(|r| packed.values.as_ptr().add(r * packed.pairs * 64)),
        row_scales: rows.map(|r| packed.scales.as_ptr().add(r * packed.pairs * 16)),
        col_blocks: cols.map(|c| c.as_ptr()),
        ahead: C * n_blocks * size_of::<BlockQ4_1>(),
        scale_lanes: _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0),
        minimum_lanes: _mm512_set_epi32(3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1),
    };
    let row_sums = rows.map(|r| packed.sums.as_ptr().add(r * packed.chunks * 16));
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let full_pairs = n_blocks / 2;
    let mut p = 0;
    // Sixteen blocks (eight pairs) at a time, the last alone when their number is odd.
    for chunk in 0..packed.chunks {
        let mut minimums = [_mm512_setzero_ps(); C];
        while p < full_pairs.min((chunk + 1) * 8) {
            tile.pair::<true>(p, 0b11 << (2 * (p % 8)), &mut minimums, &mut acc);
            p += 1;
        }
        if p == full_pairs && n_blocks % 2 == 1 && p < (chunk + 1) * 8 {
            tile.pair::<false>(p, 0b01 << (2 * (p % 8)), &mut minimums, &mut acc);
            p += 1;
        }
        for r in 0..R {
            let sums = _mm512_loadu_ps(row_sums[r].add(chunk * 16));
            for c in 0..C {
                acc[r][c] = _mm512_fmadd_ps(minimums[c], sums, acc[r][c]);
            }
        }
    }
    let mut out = [[0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            let a = acc[r][c];
            out[r][c] = hsum_float_8(_mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps::<1>(a)));
        }
    }
    out
}

/// Where a `q4_1_tile_avx512` reads its operands.
struct Q4_1Tile<const R: usize, const C: usize> {
    row_values: [*const u8; R],
    row_scales: [*const f32; R],
    col_blocks: [*const BlockQ4_1; C],
    /// The size of the tile's columns: the next tile's start, for `prefetch_next_tile`.
    ahead: usize,
    /// Lanes of `q4_1_pair`'s headers for the pair's scales (eight lanes each) and minimums.
    scale_lanes: __m512i,
    minimum_lanes: __m512i,
}

impl<const R: usize, const C: usize> Q4_1Tile<R, C> {
    /// Pair `p` (blocks `2p` and, when `SECOND`, `2p + 1`): its products into `acc`, the
    /// columns' minimums into lanes `lanes` of `minimums`.
    #[inline(always)]
    unsafe fn pair<const SECOND: bool>(
        &self,
        p: usize,
        lanes: u16,
        minimums: &mut [__m512; C],
        acc: &mut [[__m512; C]; R],
    ) {
        let mut w_q = [_mm512_setzero_si512(); C];
        let mut w_d = [_mm512_setzero_ps(); C];
        for c in 0..C {
            let at = self.col_blocks[c].add(2 * p);
            prefetch_next_tile(at as *const u8, self.ahead);
            let (values, headers) = q4_1_pair::<SECOND>(at);
            w_q[c] = values;
            w_d[c] = _mm512_permutexvar_ps(self.scale_lanes, headers);
            minimums[c] = _mm512_mask_permutexvar_ps(minimums[c], lanes, self.minimum_lanes, headers);
        }
        for r in 0..R {
            let a_q = _mm512_loadu_si512(self.row_values[r].add(p * 64) as *const _);
            let a_d = _mm512_loadu_ps(self.row_scales[r].add(p * 16));
            for c in 0..C {
                let q = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w_q[c], a_q));
                acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(w_d[c], a_d), q, acc[r][c]);
            }
        }
    }
}

/// Quantizes one block of 32 activations to Q8_1 exactly as the scalar `BlockQ8_1::from_float`
/// does: the values and scale as `quantize_block_q8_0` (the same rules), and the sum of the
/// values times the scale in half precision. False, writing nothing, where that one is.
#[inline(always)]
pub(crate) fn quantize_block_q8_1(xs: &[f32], ys: &mut BlockQ8_1) -> bool {
    let mut block = BlockQ8_0 { d: f16::ZERO, qs: [0; QK8_0] };
    if !quantize_block_q8_0(xs, &mut block) {
        return false;
    }
    let sum: i32 = block.qs.iter().map(|&q| q as i32).sum();
    ys.d = block.d;
    ys.s = f16::from_f32(sum as f32) * block.d;
    ys.qs = block.qs;
    true
}

/// Quantizes one block of 32 activations to Q8_0 exactly as the scalar `BlockQ8_0::from_float`
/// does (the same scale, `f32::round`'s halves away from zero), eight values per instruction.
/// Returns false, writing nothing, when a value is not finite or the block's scale overflows:
/// the caller then takes the scalar path, whose saturating casts this does not reproduce.
#[inline(always)]
pub(crate) fn quantize_block_q8_0(xs: &[f32], ys: &mut BlockQ8_0) -> bool {
    debug_assert_eq!(xs.len(), QK8_0);
    // SAFETY: `xs` holds 32 floats and `ys.qs` 32 bytes; the loads and the store are unaligned.
    unsafe {
        let sign_bit = _mm256_set1_ps(-0.0);
        let v: [__m256; 4] = std::array::from_fn(|j| _mm256_loadu_ps(xs.as_ptr().add(8 * j)));
        let abs: [__m256; 4] = std::array::from_fn(|j| _mm256_andnot_ps(sign_bit, v[j]));
        let finite_max = _mm256_set1_ps(f32::MAX);
        for a in abs {
            // Ordered comparison: false for NaN and for infinities.
            if _mm256_movemask_ps(_mm256_cmp_ps(a, finite_max, _CMP_LE_OQ)) != 0xff {
                return false;
            }
        }
        let m = _mm256_max_ps(_mm256_max_ps(abs[0], abs[1]), _mm256_max_ps(abs[2], abs[3]));
        let m = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let m = _mm_max_ss(m, _mm_movehdup_ps(m));
        let amax = _mm_cvtss_f32(m);

        let d = amax / ((1 << 7) - 1) as f32;
        let id = if d != 0f32 { 1. / d } else { 0. };
        if !id.is_finite() {
            // Subnormal values: the products overflow, which only the scalar casts saturate.
            return false;
        }
        ys.d = f16::from_f32(d);

        let id = _mm256_set1_ps(id);
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        let q: [__m256i; 4] = std::array::from_fn(|j| {
            let x = _mm256_mul_ps(v[j], id);
            // Round half away from zero: truncate, then step away from zero when the dropped
            // part is at least a half (exact: both are representable).
            let t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            let dropped = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(x, t));
            let step = _mm256_and_ps(_mm256_cmp_ps(dropped, half, _CMP_GE_OQ), one);
            let step = _mm256_or_ps(step, _mm256_and_ps(x, sign_bit));
            _mm256_cvtps_epi32(_mm256_add_ps(t, step))
        });
        let q01 = _mm256_packs_epi32(q[0], q[1]);
        let q23 = _mm256_packs_epi32(q[2], q[3]);
        let q = _mm256_packs_epi16(q01, q23);
        // The packs interleave the 128-bit lanes; put the eight groups of four back in order.
        let q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(ys.qs.as_mut_ptr() as *mut __m256i, q);
    }
    true
}
