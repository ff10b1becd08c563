//! rouge-score's ROUGE-1, ROUGE-2 and ROUGE-L F-measures with its default tokenizer (lowercase,
//! runs of `[a-z0-9]` only, no stemming); Chinese is cut into jieba's words instead, since that
//! tokenizer would drop every Chinese character.

use std::sync::LazyLock;

use regex::Regex;

use super::{chinese_words, clipped_overlap, counts, is_chinese};

/// ROUGE-1, ROUGE-2 and ROUGE-L F-measures of a prediction against one reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rouge {
    pub rouge1: f64,
    pub rouge2: f64,
    pub rouge_l: f64,
}

/// rouge-score's `tokenize`: lowercase, anything but `[a-z0-9]` a separator.
pub fn tokens(text: &str) -> Vec<String> {
    static NON_ALNUM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^a-z0-9]+").unwrap());
    if is_chinese(text) {
        return chinese_words(text);
    }
    NON_ALNUM.replace_all(&text.to_lowercase(), " ").split_whitespace().map(str::to_string).collect()
}

pub fn rouge(prediction: &str, reference: &str) -> Rouge {
    let p = tokens(prediction);
    let r = tokens(reference);
    Rouge { rouge1: ngram_f(&p, &r, 1), rouge2: ngram_f(&p, &r, 2), rouge_l: lcs_f(&p, &r) }
}

fn f_measure(overlap: usize, predicted: usize, reference: usize) -> f64 {
    if overlap == 0 || predicted == 0 || reference == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / predicted as f64;
    let recall = overlap as f64 / reference as f64;
    2.0 * precision * recall / (precision + recall)
}

fn ngram_f(prediction: &[String], reference: &[String], n: usize) -> f64 {
    let p = counts(prediction.windows(n));
    let r = counts(reference.windows(n));
    let overlap = clipped_overlap(&p, &r);
    f_measure(overlap, prediction.len().saturating_sub(n - 1), reference.len().saturating_sub(n - 1))
}

/// ROUGE-L: the longest common subsequence over both lengths.
fn lcs_f(prediction: &[String], reference: &[String]) -> f64 {
    let mut previous = vec![0usize; reference.len() + 1];
    for a in prediction {
        let mut row = vec![0usize; reference.len() + 1];
        for (j, b) in reference.iter().enumerate() {
            row[j + 1] = if a == b { previous[j] + 1 } else { row[j].max(previous[j + 1]) };
        }
        previous = row;
    }
    f_measure(previous[reference.len()], prediction.len(), reference.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_rouge() {
        // 5 of 6 unigrams shared; 3 of 5 bigrams ("the cat", "on the", "the mat"); LCS "the cat on the mat".
        let r = rouge("The cat sat on the mat.", "the cat lay on the mat");
        assert!((r.rouge1 - 5.0 / 6.0).abs() < 1e-12);
        assert!((r.rouge2 - 3.0 / 5.0).abs() < 1e-12, "{r:?}");
        assert!((r.rouge_l - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(rouge("", "anything").rouge1, 0.0);
    }
}
