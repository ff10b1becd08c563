//! Scores for free-text answers against references: TriviaQA's normalised exact match and token
//! F1, sacrebleu's sentence BLEU and rouge-score's ROUGE-1/2/L. Pure text arithmetic; Chinese is
//! segmented into words with jieba first.

pub mod bleu;
pub mod rouge;

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// lm-eval's `exact_match` with `ignore_case` and `ignore_punctuation`: both sides lowercased and
/// stripped of ASCII punctuation, then compared whole.
pub fn exact_match_loose(prediction: &str, reference: &str) -> bool {
    let clean = |s: &str| s.to_lowercase().chars().filter(|c| !PUNCTUATION.contains(*c)).collect::<String>();
    clean(prediction) == clean(reference)
}

/// The TriviaQA (and SQuAD) answer normalisation: lowercase, underscores and punctuation to
/// spaces, articles dropped, whitespace collapsed.
pub fn normalize_answer(text: &str) -> String {
    static ARTICLES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(a|an|the)\b").unwrap());
    let lowered = text.replace('_', " ").to_lowercase();
    let spaced: String =
        lowered.chars().map(|c| if PUNCTUATION.contains(c) || "‘’´`".contains(c) { ' ' } else { c }).collect();
    ARTICLES.replace_all(&spaced, " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Token F1 of two answers after `normalize_answer`, as TriviaQA's evaluation script.
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let prediction = normalize_answer(prediction);
    let reference = normalize_answer(reference);
    let p: Vec<&str> = prediction.split_whitespace().collect();
    let r: Vec<&str> = reference.split_whitespace().collect();
    let same = clipped_overlap(&counts(p.iter().copied()), &counts(r.iter().copied()));
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p.len() as f64;
    let recall = same as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// How often each item occurs.
pub(crate) fn counts<T: std::hash::Hash + Eq>(items: impl IntoIterator<Item = T>) -> HashMap<T, usize> {
    let mut out = HashMap::new();
    for item in items {
        *out.entry(item).or_insert(0) += 1;
    }
    out
}

/// The items two multisets share, each counted as often as the rarer side has it.
pub(crate) fn clipped_overlap<T: std::hash::Hash + Eq>(a: &HashMap<T, usize>, b: &HashMap<T, usize>) -> usize {
    a.iter().map(|(k, n)| (*n).min(b.get(k).copied().unwrap_or(0))).sum()
}

/// Whether a text is written in Chinese (any CJK ideograph), and so is segmented with jieba.
pub fn is_chinese(text: &str) -> bool {
    text.chars().any(|c| matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF))
}

/// jieba's words of a text (its default dictionary, HMM for unknown words), without the
/// whitespace and punctuation tokens.
pub fn chinese_words(text: &str) -> Vec<String> {
    static JIEBA: LazyLock<jieba_rs::Jieba> = LazyLock::new(jieba_rs::Jieba::new);
    JIEBA
        .cut(text, true)
        .into_iter()
        .map(|t| t.word)
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triviaqa_normalisation_and_f1() {
        assert_eq!(normalize_answer("The  Sunset_Boulevard!"), "sunset boulevard");
        assert_eq!(normalize_answer("A Tale of Two Cities"), "tale of two cities");
        assert!((token_f1("Sunset Boulevard musical", "Sunset Boulevard") - 0.8).abs() < 1e-12);
        assert_eq!(token_f1("the", "an"), 0.0);
        assert_eq!(token_f1("Sunset Blvd.", "sunset blvd"), 1.0);
    }

    #[test]
    fn loose_exact_match_ignores_case_and_punctuation_only() {
        assert!(exact_match_loose("Sunset Blvd.", "sunset blvd"));
        assert!(!exact_match_loose("Sunset  Blvd", "sunset blvd"), "whitespace is kept, as lm-eval");
    }

    #[test]
    fn chinese_is_cut_into_words() {
        assert!(is_chinese("我来到北京清华大学") && !is_chinese("plain text"));
        assert_eq!(chinese_words("我来到北京清华大学。"), ["我", "来到", "北京", "清华大学"]);
    }
}
