//! Few-shot examples drawn as lm-evaluation-harness draws them: CPython's `random.Random(seed)`
//! (the Mersenne Twister, seeded by `init_by_array`) and its `sample`, so the same seed picks
//! the same examples for the same documents in the same order.

/// CPython's `random.Random`, for what `sample` needs.
pub struct PyRandom {
    state: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed.
    pub fn new(seed: u64) -> PyRandom {
        let mut key: Vec<u32> = Vec::new();
        let mut s = seed;
        loop {
            key.push(s as u32);
            s >>= 32;
            if s == 0 {
                break;
            }
        }
        let mut r = PyRandom { state: [0; 624], index: 624 };
        r.init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624.max(key.len()) {
            let prev = r.state[i - 1] ^ (r.state[i - 1] >> 30);
            r.state[i] = (r.state[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                r.state[0] = r.state[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            let prev = r.state[i - 1] ^ (r.state[i - 1] >> 30);
            r.state[i] = (r.state[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                r.state[0] = r.state[623];
                i = 1;
            }
        }
        r.state[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..624 {
            let prev = self.state[i - 1] ^ (self.state[i - 1] >> 30);
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev).wrapping_add(i as u32);
        }
        self.index = 624;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.state[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.state[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for 1 ≤ k ≤ 32.
    pub fn getrandbits(&mut self, k: u32) -> u32 {
        self.next_u32() >> (32 - k)
    }

    /// `_randbelow(n)`: uniform in `0..n`, by rejection on `n.bit_length()` bits.
    fn randbelow(&mut self, n: usize) -> usize {
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(k) as usize;
            if r < n {
                return r;
            }
        }
    }

    /// `sample(range(n), k)`: the indices CPython's `sample` picks, in its order.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        let mut setsize = 21usize;
        if k > 5 {
            // 4 ** ceil(log(3k, 4))
            setsize += 4usize.pow(((k * 3) as f64).log(4.0).ceil() as u32);
        }
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            (0..k)
                .map(|i| {
                    let j = self.randbelow(n - i);
                    let picked = pool[j];
                    pool[j] = pool[n - i - 1];
                    picked
                })
                .collect()
        } else {
            let mut selected = std::collections::HashSet::new();
            (0..k)
                .map(|_| {
                    let mut j = self.randbelow(n);
                    while selected.contains(&j) {
                        j = self.randbelow(n);
                    }
                    selected.insert(j);
                    j
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PyRandom;

    // python3 -c "import random; r=random.Random(1234); print([r.getrandbits(32) for _ in range(3)])"
    #[test]
    fn the_same_bits_as_cpython() {
        let mut r = PyRandom::new(1234);
        assert_eq!([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)], [4150886329, 3342196574, 1892932127]);
    }

    // python3 -c "import random; r=random.Random(1234); print([r.sample(range(7473), 5) for _ in range(3)])"
    // (7,473: GSM8K's train split; lm-eval draws 5 examples per document from one generator.)
    #[test]
    fn the_same_samples_as_cpython() {
        let mut r = PyRandom::new(1234);
        assert_eq!(r.sample(7473, 5), [6374, 3610, 957, 61, 742]);
        assert_eq!(r.sample(7473, 5), [7462, 6610, 4769, 286, 5501]);
        assert_eq!(r.sample(7473, 5), [5677, 687, 806, 6279, 2905]);
    }

    // python3 -c "import random; r=random.Random(42); print(r.sample(range(10), 4), r.sample(range(100), 8))"
    #[test]
    fn small_populations_and_large_samples_too() {
        let mut r = PyRandom::new(42);
        assert_eq!(r.sample(10, 4), PY_SMALL);
        assert_eq!(r.sample(100, 8), PY_LARGE);
    }

    const PY_SMALL: [usize; 4] = [1, 0, 4, 9];
    const PY_LARGE: [usize; 8] = [28, 17, 94, 13, 86, 69, 11, 75];
}
