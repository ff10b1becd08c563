//! Telling a judge's own verdict from the format reminders around it.
//!
//! Judges repeat their instructions — before deciding, after it, or both: "reply [[A]], [[B]] or
//! [[C]]", `"[[A]]" if assistant A is better`, Arena-Hard's numbered list of the five verdicts,
//! "for example: [[5]]". A token is part of a reminder when
//! - it is followed by a condition about the answers ("if assistant A…", "for a tie"),
//! - it follows an example marker ("e.g.", "for example", "format:"),
//! - it is listed with different tokens, joined by separators (`, `, ` or `, `/`) or one a line
//!   in a run of at least three lines,
//! - or it closely follows a reminder token in the same sentence.
//!
//! The last token that is none of these decides; a reply with only reminders has no verdict.

use std::sync::LazyLock;

use regex::Regex;

/// One verdict token found in a reply: where it is and what it says.
pub struct Token<T> {
    pub start: usize,
    pub end: usize,
    pub value: T,
}

impl<T> Token<T> {
    pub fn at(m: regex::Match<'_>, value: T) -> Token<T> {
        Token { start: m.start(), end: m.end(), value }
    }
}

/// A condition after a token: `[[A]] if assistant A is better`, `"[[C]]" for a tie`. A plain
/// "if" is not enough ("my verdict is [[B]] if only because…").
static CONDITION_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^[ \t"'`*”’)]*(?i:(?:if|when)\s+(?:assistant|answer|response|model|output|the\s+(?:first|second|two|answers?|responses?)|both|neither|they|a\b|b\b|there\s+is)|for\s+(?:a\s+)?(?:tie|draw)|in\s+case\s+of)"#,
    )
    .unwrap()
});
/// An example marker before a token on its line, in the same sentence (`e.g. [[5]]`,
/// `Example output: "My final verdict is tie: [[A=B]]"`), or a format named just before it
/// (`format: [[7]]`).
static EXAMPLE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:(?:e\.g\.|\bexample|for\s+instance|such\s+as)[^\n.!?]{0,60}|\b(?:format|form)\s*[:,\-]?\s*["'`(*“‘]*\s*)$"#,
    )
    .unwrap()
});

/// A gap this short after a reminder token (with no sentence end) continues the reminder:
/// "[[B]] if B is better or [[C]]".
const REMINDER_GAP: usize = 48;
/// The longest line of a listed reminder ("3. Tie, relatively the same: [[A=B]]").
const LIST_LINE: usize = 80;

/// The last token that is the judge's own verdict.
pub fn last_verdict<T: PartialEq + Copy>(text: &str, tokens: Vec<Token<T>>) -> Option<T> {
    let gap = |i: usize| &text[tokens[i - 1].end..tokens[i].start];
    let mut reminder: Vec<bool> = tokens
        .iter()
        .map(|t| {
            let line_start = text[..t.start].rfind('\n').map_or(0, |n| n + 1);
            CONDITION_AFTER.is_match(&text[t.end..]) || EXAMPLE_BEFORE.is_match(&text[line_start..t.start])
        })
        .collect();
    mark_lists(&tokens, &mut reminder, 2, |i| is_separator(gap(i)));
    mark_lists(&tokens, &mut reminder, 3, |i| {
        let g = gap(i);
        g.matches('\n').count() == 1 && g.len() <= LIST_LINE
    });
    for i in 1..tokens.len() {
        let g = gap(i);
        if reminder[i - 1] && g.len() <= REMINDER_GAP && !g.contains(['\n', '.', '!', '?']) {
            reminder[i] = true;
        }
    }
    tokens.iter().zip(reminder).filter(|(_, reminder)| !reminder).map(|(t, _)| t.value).last()
}

/// Marks runs of at least `min` tokens, joined as `joined(i)` says (token i to the one
/// before), that hold different values: a list of choices, not a verdict.
fn mark_lists<T: PartialEq>(tokens: &[Token<T>], reminder: &mut [bool], min: usize, joined: impl Fn(usize) -> bool) {
    let mut start = 0;
    for i in 1..=tokens.len() {
        if i < tokens.len() && joined(i) {
            continue;
        }
        let run = &tokens[start..i];
        if run.len() >= min && run.iter().any(|t| t.value != run[0].value) {
            reminder[start..i].iter_mut().for_each(|r| *r = true);
        }
        start = i;
    }
}

/// What stands between the items of a list of choices: `, `, ` or `, ` / `, quotes.
fn is_separator(gap: &str) -> bool {
    let quotes = |c: char| c.is_whitespace() || "\"'`*“”‘’".contains(c);
    let words = gap.trim_matches(quotes).trim_start_matches([',', ';', '/', '|']).trim_matches(quotes);
    matches!(words.to_ascii_lowercase().as_str(), "" | "or" | "and")
}
