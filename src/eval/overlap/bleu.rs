//! sacrebleu's sentence BLEU with its defaults: the `13a` tokenizer, n-grams up to 4, `exp`
//! smoothing and the effective order; as a fraction (sacrebleu's score / 100).

use std::sync::LazyLock;

use regex::Regex;

use super::{chinese_words, clipped_overlap, counts, is_chinese};

const MAX_ORDER: usize = 4;

/// mteval-v13a's tokenisation, as sacrebleu's `Tokenizer13a`.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    static RULES: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
        [
            // Symbols and most punctuation, each a token.
            (Regex::new(r"([\{-~\[-` -&\(-\+:-@/])").unwrap(), " ${1} "),
            // Periods and commas, unless between digits.
            (Regex::new(r"([^0-9])([\.,])").unwrap(), "${1} ${2} "),
            (Regex::new(r"([\.,])([^0-9])").unwrap(), " ${1} ${2}"),
            // A dash after a digit.
            (Regex::new(r"([0-9])(-)").unwrap(), "${1} ${2} "),
        ]
    });
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (pattern, replacement) in RULES.iter() {
        line = pattern.replace_all(&line, *replacement).into_owned();
    }
    line.split_whitespace().map(str::to_string).collect()
}

/// The tokens BLEU counts: jieba's words for Chinese, `13a` otherwise.
pub fn tokens(text: &str) -> Vec<String> {
    if is_chinese(text) { chinese_words(text) } else { tokenize_13a(text) }
}

/// `sacrebleu.sentence_bleu(hypothesis, [reference])`, divided by 100.
pub fn sentence_bleu(hypothesis: &str, reference: &str) -> f64 {
    let hyp = tokens(hypothesis);
    let reference = tokens(reference);
    let mut correct = [0usize; MAX_ORDER];
    let mut totals = [0usize; MAX_ORDER];
    for n in 1..=MAX_ORDER {
        let hyp_ngrams = counts(hyp.windows(n));
        let ref_ngrams = counts(reference.windows(n));
        correct[n - 1] = clipped_overlap(&hyp_ngrams, &ref_ngrams);
        totals[n - 1] = hyp.len().saturating_sub(n - 1);
    }
    bleu_from_counts(&correct, &totals, hyp.len(), reference.len())
}

/// sacrebleu's `compute_bleu` with `exp` smoothing and the effective order.
fn bleu_from_counts(correct: &[usize; MAX_ORDER], totals: &[usize; MAX_ORDER], sys_len: usize, ref_len: usize) -> f64 {
    // No n-gram of any order matches: 0, not the smoothed floor (sacrebleu's early stop).
    if correct.iter().all(|c| *c == 0) {
        return 0.0;
    }
    let mut precisions = [0.0f64; MAX_ORDER];
    let mut smooth = 1.0;
    let mut order = 0;
    for n in 0..MAX_ORDER {
        if totals[n] == 0 {
            break;
        }
        order = n + 1;
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * totals[n] as f64)
        } else {
            100.0 * correct[n] as f64 / totals[n] as f64
        };
    }
    if order == 0 {
        return 0.0;
    }
    let brevity = if sys_len < ref_len { (1.0 - ref_len as f64 / sys_len as f64).exp() } else { 1.0 };
    let log_mean = precisions[..order].iter().map(|p| p.ln()).sum::<f64>() / order as f64;
    brevity * log_mean.exp() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_a_splits_punctuation_but_not_numbers() {
        assert_eq!(
            tokenize_13a("Hello, world. It costs $1,000.50 (roughly)!"),
            ["Hello", ",", "world", ".", "It", "costs", "$", "1,000.50", "(", "roughly", ")", "!"]
        );
        assert_eq!(tokenize_13a("3-4 &amp; x"), ["3", "-", "4", "&", "x"]);
    }

    #[test]
    fn identical_sentences_score_one_and_disjoint_ones_nearly_zero() {
        assert!((sentence_bleu("the cat sat on the mat", "the cat sat on the mat") - 1.0).abs() < 1e-12);
        assert!(sentence_bleu("dog", "the cat sat on the mat") < 0.01);
        assert_eq!(sentence_bleu("", "the cat"), 0.0);
    }
}
