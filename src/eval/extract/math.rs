//! MATH answers as lm-evaluation-harness's `minerva_math` reads them: the last `\boxed{…}` by
//! brace matching, the "Final Answer: The final answer is …" line, and the normalisation of
//! Lewkowycz et al. (2022), appendix D, step for step.

use std::sync::LazyLock;

use regex::Regex;

/// What minerva's "Final Answer" reader gives when the line is missing.
pub const INVALID: &str = "[invalidanswer]";

/// The last `\boxed{…}` (or `\fbox{…}`) with its braces matched, or `\boxed X` up to the next `$`.
pub fn last_boxed(text: &str) -> Option<&str> {
    if let Some((_, after)) = text.rsplit_once("\\boxed ") {
        let end = after.find('$').unwrap_or(after.len());
        // The whole `\boxed X` as lm-eval returns it, from the last occurrence.
        let start = text.len() - after.len() - "\\boxed ".len();
        return Some(&text[start..text.len() - after.len() + end]);
    }
    let start = text.rfind("\\boxed").or_else(|| text.rfind("\\fbox"))?;
    let mut open = 0i32;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => open += 1,
            '}' => {
                open -= 1;
                if open == 0 {
                    return Some(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The inside of a `\boxed{…}`, `\fbox{…}` or `\boxed X`.
pub fn remove_boxed(boxed: &str) -> Option<&str> {
    if let Some(rest) = boxed.strip_prefix("\\boxed ") {
        return Some(rest);
    }
    boxed.strip_prefix("\\boxed{").or_else(|| boxed.strip_prefix("\\fbox{"))?.strip_suffix('}')
}

/// The normalised content of a text's last box, if it has one.
pub fn boxed_answer(text: &str) -> Option<String> {
    last_boxed(text).and_then(remove_boxed).map(normalize_final_answer)
}

/// minerva's `get_unnormalized_answer`: what follows "Final Answer: The final answer is" up to
/// the character before ". I hope it is correct." (added at the end, so a cut-off line counts).
pub fn final_answer_line(text: &str) -> String {
    static LINE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"Final Answer: The final answer is(.*?). I hope it is correct.").unwrap());
    let text = format!("{text}I hope it is correct.");
    LINE.captures(&text).and_then(|c| c.get(1)).map_or_else(|| INVALID.to_string(), |m| m.as_str().trim().to_string())
}

const SUBSTITUTIONS: [(&str, &str); 10] = [
    ("an ", ""),
    ("a ", ""),
    (".$", "$"),
    ("\\$", ""),
    ("\\ ", ""),
    (" ", ""),
    ("mbox", "text"),
    (",\\text{and}", ","),
    ("\\text{and}", ","),
    ("\\text{m}", "\\text{}"),
];

const REMOVED_EXPRESSIONS: [&str; 41] = [
    "square",
    "ways",
    "integers",
    "dollars",
    "mph",
    "inches",
    "ft",
    "hours",
    "km",
    "units",
    "\\ldots",
    "sue",
    "points",
    "feet",
    "minutes",
    "digits",
    "cents",
    "degrees",
    "cm",
    "gm",
    "pounds",
    "meters",
    "meals",
    "edges",
    "students",
    "childrentickets",
    "multiples",
    "\\text{s}",
    "\\text{.}",
    "\\text{\ns}",
    "\\text{}^2",
    "\\text{}^3",
    "\\text{\n}",
    "\\text{}",
    "\\mathrm{th}",
    "^\\circ",
    "^{\\circ}",
    "\\;",
    ",\\!",
    "{,}",
    "\"",
];

/// `normalize_final_answer`, as minerva's appendix D writes it.
pub fn normalize_final_answer(answer: &str) -> String {
    static REWRITES: LazyLock<[(Regex, &str); 7]> = LazyLock::new(|| {
        [
            // The answer inside the first pair of `$`, the rest of its line dropped.
            (Regex::new(r"(.*?)(\$)(.*?)(\$)(.*)").unwrap(), "$$${3}$$"),
            (Regex::new(r"(\\text\{)(.*?)(\})").unwrap(), "${2}"),
            (Regex::new(r"(\\textbf\{)(.*?)(\})").unwrap(), "${2}"),
            (Regex::new(r"(\\overline\{)(.*?)(\})").unwrap(), "${2}"),
            (Regex::new(r"(\\boxed\{)(.*)(\})").unwrap(), "${2}"),
            // Shorthand TeX: \fracab → \frac{a}{b}, \sqrta → \sqrt{a}.
            (Regex::new(r"(frac)([^{])(.)").unwrap(), "frac{${2}}{${3}}"),
            (Regex::new(r"(sqrt)([^{])").unwrap(), "sqrt{${2}}"),
        ]
    });
    let mut out = answer.rsplit('=').next().unwrap_or_default().to_string();
    for (before, after) in SUBSTITUTIONS {
        out = out.replace(before, after);
    }
    for expr in REMOVED_EXPRESSIONS.iter().chain(&["\\dots"]) {
        out = out.replace(expr, "");
    }
    for (pattern, replacement) in REWRITES.iter() {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    out = out.replace('$', "");
    let without_commas = out.replace(',', "");
    if !without_commas.is_empty() && without_commas.chars().all(|c| c.is_ascii_digit()) {
        out = without_commas;
    }
    out
}

/// Two normalised answers are the same: equal as text, or the same number (`0.5`, `\frac{1}{2}`,
/// `1/2`). lm-eval asks sympy whether their difference simplifies to zero, which also equates
/// symbolic forms (`2\sqrt{2}` and `\sqrt{8}`) and rejects what it cannot parse even when equal.
pub fn equivalent(a: &str, b: &str) -> bool {
    if a == b {
        return a != INVALID;
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

/// A plain number, fraction or `\frac{a}{b}` (`\dfrac`, `\tfrac`), with an optional sign.
fn number(text: &str) -> Option<f64> {
    static FRAC: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(-?)\\[dt]?frac\{(-?[0-9.]+)\}\{(-?[0-9.]+)\}$").unwrap());
    let text = text.trim();
    if let Some(c) = FRAC.captures(text) {
        let sign = if &c[1] == "-" { -1.0 } else { 1.0 };
        let (n, d): (f64, f64) = (c[2].parse().ok()?, c[3].parse().ok()?);
        return (d != 0.0).then(|| sign * n / d);
    }
    if let Some((n, d)) = text.split_once('/') {
        let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
        return (d != 0.0).then(|| n / d);
    }
    let plain = text.strip_prefix('+').unwrap_or(text);
    let valid = !plain.is_empty() && plain.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if valid { plain.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_box_is_read_with_its_braces_matched() {
        assert_eq!(last_boxed(r"so $\boxed{\frac{1}{2}}$."), Some(r"\boxed{\frac{1}{2}}"));
        assert_eq!(
            boxed_answer(r"first \boxed{3}, then \boxed{\left( 3, \frac{\pi}{2} \right)}").as_deref(),
            Some(r"\le(3,\frac{\pi}{2}\right)"),
            "minerva drops every \"ft\", \\left's too"
        );
        assert_eq!(boxed_answer(r"nested \boxed{x^{2^{3}}+1} done").as_deref(), Some("x^{2^{3}}+1"));
        assert_eq!(boxed_answer(r"a box never closed \boxed{\frac{1}{2}"), None);
        assert_eq!(boxed_answer("no box at all"), None);
        assert_eq!(boxed_answer(r"the answer is $\boxed 5$ units"), Some("5".into()));
        assert_eq!(boxed_answer(r"\fbox{12}").as_deref(), Some("12"));
    }

    #[test]
    fn normalisation_follows_minerva_appendix_d() {
        assert_eq!(normalize_final_answer("x = 5"), "5");
        assert_eq!(normalize_final_answer("$1,450,000$"), "1450000");
        assert_eq!(normalize_final_answer("10 \\text{ dollars}"), "10");
        assert_eq!(normalize_final_answer("\\frac12"), "\\frac{1}{2}");
        assert_eq!(normalize_final_answer("\\sqrt3"), "\\sqrt{3}");
        assert_eq!(normalize_final_answer("90^\\circ"), "90");
        assert_eq!(normalize_final_answer("\\text{(B)}"), "(B)");
        assert_eq!(normalize_final_answer("1,2"), "12", "digits around a comma are one number, as minerva");
        assert_eq!(normalize_final_answer("\\$18.50"), "18.50");
        assert_eq!(normalize_final_answer("[2,5)"), "[2,5)");
    }

    #[test]
    fn the_final_answer_line_is_minervas() {
        let text = "So $x=2$.\nFinal Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct.\n\nProblem:";
        assert_eq!(final_answer_line(text), "$-\\frac{2}{3}$");
        // "I hope it is correct." is added to a line cut off after its full stop and space.
        assert_eq!(final_answer_line("Final Answer: The final answer is 7. "), "7");
        assert_eq!(final_answer_line("Final Answer: The final answer is 7."), INVALID);
        assert_eq!(final_answer_line("the answer is 7"), INVALID);
    }

    #[test]
    fn equivalence_is_textual_or_numeric() {
        assert!(equivalent("\\frac{1}{2}", "0.5") && equivalent("\\dfrac{9}{7}", "9/7"));
        assert!(equivalent("-\\frac{2}{3}", "-\\frac{2}{3}") && equivalent("10", "10.0"));
        assert!(!equivalent("\\frac{1}{3}", "0.33") && !equivalent("x+1", "1+x"));
        assert!(!equivalent(INVALID, INVALID));
    }
}
