//! Reading answers out of generations, as lm-evaluation-harness's filters do (its `regex`
//! filter with `group_select`, then `take_first`), and its `exact_match` normalisation.

pub mod math;

use regex::Regex;

/// lm-eval's answer when a filter finds nothing.
pub const FALLBACK: &str = "[invalid]";

/// `RegexFilter`: every match of `pattern`, the one `group_select` picks (negative counts from
/// the end), and within it the first non-empty group (or the whole match when there are no
/// groups); stripped.
pub fn regex_filter(text: &str, pattern: &Regex, group_select: isize) -> String {
    let matches: Vec<regex::Captures<'_>> = pattern.captures_iter(text).collect();
    let index = if group_select < 0 { matches.len() as isize + group_select } else { group_select };
    let Some(captures) = usize::try_from(index).ok().and_then(|i| matches.get(i)) else {
        return FALLBACK.to_string();
    };
    let picked = if captures.len() == 1 {
        captures.get(0).map(|m| m.as_str())
    } else {
        (1..captures.len()).filter_map(|g| captures.get(g)).map(|m| m.as_str()).find(|s| !s.is_empty())
    };
    picked.map_or_else(|| FALLBACK.to_string(), |s| s.trim().to_string())
}

/// `exact_match` with `regexes_to_ignore` (each removed from both sides) and `ignore_case`.
pub fn exact_match(prediction: &str, reference: &str, ignore: &[Regex], ignore_case: bool) -> bool {
    let clean = |text: &str| {
        let mut out = text.to_string();
        for re in ignore {
            out = re.replace_all(&out, "").into_owned();
        }
        if ignore_case { out.to_lowercase() } else { out }
    };
    clean(prediction) == clean(reference)
}

/// The choice a generated answer names, for multiple choice scored by generation: the first
/// standalone letter where the choices are letters (MMLU's ` A`…` D`), else the choice sharing
/// the most words with the answer's first line (token F1); `None` when nothing matches.
pub fn pick_choice(output: &str, choices: &[String]) -> Option<usize> {
    let answer = strip_thinking(output);
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    let letters: Option<Vec<char>> = choices
        .iter()
        .map(|c| {
            let mut chars = c.trim().chars();
            match (chars.next(), chars.next()) {
                (Some(l), None) if l.is_ascii_uppercase() => Some(l),
                _ => None,
            }
        })
        .collect();
    if let Some(letters) = letters {
        static LETTER: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"\b([A-Z])\b").unwrap());
        return LETTER
            .captures_iter(line)
            .filter_map(|c| c[1].chars().next())
            .find_map(|l| letters.iter().position(|x| *x == l));
    }
    let scores: Vec<f64> = choices.iter().map(|c| crate::eval::overlap::token_f1(line, c)).collect();
    let best = crate::eval::metrics::argmax(&scores)?;
    (scores[best] > 0.0).then_some(best)
}

/// A reasoning model's thinking (`<think>…</think>` and the like) taken out before extraction;
/// a thought left open runs to the end of the text.
pub fn strip_thinking(text: &str) -> String {
    let mut out = text.to_string();
    for (open, close) in [("<think>", "</think>"), ("<thinking>", "</thinking>"), ("<reasoning>", "</reasoning>")] {
        while let Some(start) = out.find(open) {
            let end = out[start..].find(close).map_or(out.len(), |e| start + e + close.len());
            out.replace_range(start..end, "");
        }
    }
    // A reply that starts mid-thought (the template opened it) has only the closing tag.
    if let Some(end) = out.find("</think>") {
        out = out[end + "</think>".len()..].to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Regex {
        Regex::new(p).unwrap()
    }

    #[test]
    fn gsm8k_strict_and_flexible_filters() {
        // lm-eval's gsm8k.yaml patterns, as written there.
        let strict = re(r"#### (\-?[0-9\.\,]+)");
        let flexible = re(r"(-?[$0-9.,]{2,})|(-?[0-9]+)");
        let text = "She sells 9 eggs for $2 each: 9 * 2 = $18.\n#### 18";
        assert_eq!(regex_filter(text, &strict, 0), "18");
        assert_eq!(regex_filter(text, &flexible, -1), "18");
        assert_eq!(regex_filter("The total is 1,450,000 dollars.", &flexible, -1), "1,450,000");
        assert_eq!(regex_filter("#### -3", &strict, 0), "-3");
        assert_eq!(regex_filter("It loses 7, so -7 in all.", &flexible, -1), "-7");
        assert_eq!(regex_filter("The answer is $18.", &flexible, -1), "$18.");
        assert_eq!(regex_filter("no number here", &strict, 0), FALLBACK);
        assert_eq!(regex_filter("no number here", &flexible, -1), FALLBACK);
        // A lone digit is a number too (the second group).
        assert_eq!(regex_filter("So 5 apples, then 7", &flexible, -1), "7");
    }

    #[test]
    fn gsm8k_exact_match_ignores_commas_dollars_the_reasoning_and_a_final_dot() {
        let ignore = [re(","), re(r"\$"), re(r"(?s).*#### "), re(r"\.$")];
        let reference = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18";
        for prediction in ["18", "$18.", "18.", "#### 18"] {
            assert!(exact_match(prediction, reference, &ignore, true), "{prediction}");
        }
        assert!(exact_match("1,450,000", "#### 1450000", &ignore, true));
        assert!(!exact_match("180", reference, &ignore, true));
        assert!(!exact_match("[invalid]", reference, &ignore, true));
        assert!(exact_match("ABC", "abc", &[], true) && !exact_match("ABC", "abc", &[], false));
    }

    #[test]
    fn a_generated_answer_names_its_choice() {
        let letters: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
        assert_eq!(pick_choice(" B. Because it is.", &letters), Some(1));
        assert_eq!(pick_choice("\n(C) is right", &letters), Some(2));
        assert_eq!(pick_choice("I think D", &letters), Some(3));
        assert_eq!(pick_choice("Answer unknown", &letters), None, "no standalone letter");
        let texts: Vec<String> = ["the right one", "a wrong one", "sunlight"].map(String::from).to_vec();
        assert_eq!(pick_choice(" Sunlight.\nMore text", &texts), Some(2));
        assert_eq!(pick_choice(" the right one, surely", &texts), Some(0));
        assert_eq!(pick_choice(" nothing shared", &texts), None);
    }

    #[test]
    fn thinking_is_taken_out_before_extraction() {
        assert_eq!(strip_thinking("<think>maybe 12? no, #### 12</think>\n#### 14"), "\n#### 14");
        assert_eq!(strip_thinking("hmm 3</think>The answer is 4"), "The answer is 4");
        assert_eq!(strip_thinking("<think>never closed #### 9"), "");
        assert_eq!(strip_thinking("plain #### 5"), "plain #### 5");
    }
}
