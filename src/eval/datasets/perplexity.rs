//! Perplexity over text, as lm-eval's `loglikelihood_rolling` tasks: `wikitext` from the
//! WikiText-2 release (`wikitext-2-raw/wiki.test.raw`, split into pages at each `= Title =` line,
//! scored after lm-eval's detokenizer, words and bytes counted on the page as written), and
//! `perplexity` over users' texts (`perplexity/<name>.txt`, one document per file, or
//! `perplexity/<name>.jsonl` with a `text` per line).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{read_lines, read_text, required_file};
use crate::input::{BadInput, Problem, Problems};

/// A document scored whole, and what its perplexities are counted in.
#[derive(Debug, Clone, PartialEq)]
pub struct TextDoc {
    pub id: Option<String>,
    /// The text the model scores.
    pub text: String,
    pub words: usize,
    pub bytes: usize,
}

impl TextDoc {
    /// A text counted as it is scored.
    pub fn new(id: Option<String>, text: String) -> TextDoc {
        TextDoc { id, words: count_words(&text), bytes: text.len(), text }
    }
}

#[derive(Debug, Clone)]
pub struct TextTaskData {
    pub name: String,
    pub docs: Vec<TextDoc>,
}

/// lm-eval's `len(re.split(r"\s+", text))`: the runs of whitespace plus one.
pub fn count_words(text: &str) -> usize {
    static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());
    SPACES.find_iter(text).count() + 1
}

/// WikiText-2's test pages.
pub fn load_wikitext(dir: &Path) -> Result<TextTaskData, BadInput> {
    let candidates = ["wikitext/wikitext-2-raw/wiki.test.raw", "wikitext-2-raw/wiki.test.raw"];
    let file = candidates.iter().map(|c| dir.join(c)).find(|p| p.is_file());
    let file = match file {
        Some(f) => f,
        None => required_file(dir, candidates[0], "WikiText-2 test file")?,
    };
    let docs = pages(&read_text(&file)?)
        .into_iter()
        .map(|page| {
            let mut doc = TextDoc::new(None, page.clone());
            doc.text = detokenize(&page);
            doc
        })
        .collect();
    Ok(TextTaskData { name: "wikitext".into(), docs })
}

/// The pages of a WikiText file, as EleutherAI's `wikitext_document_level` splits it: a new page at
/// every level-one heading line, lines kept as they are; the last page always, even empty.
pub fn pages(text: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let heading = line.replace("= = =", "===").replace("= =", "==");
        let heading = heading.trim();
        if heading.starts_with("= ") && heading.ends_with(" =") {
            let page = lines.join("\n");
            if !page.trim().is_empty() {
                pages.push(page);
            }
            lines.clear();
        }
        lines.push(line);
    }
    pages.push(lines.join("\n"));
    pages
}

/// lm-eval's `wikitext_detokenizer`, step for step.
pub fn detokenize(page: &str) -> String {
    static BRACKETS: LazyLock<[(Regex, &str); 5]> = LazyLock::new(|| {
        [
            (Regex::new(r"\(\s*([^\)]*?)\s*\)").unwrap(), "(${1})"),
            (Regex::new(r"\[\s*([^\]]*?)\s*\]").unwrap(), "[${1}]"),
            (Regex::new(r"\{\s*([^}]*?)\s*\}").unwrap(), "{${1}}"),
            (Regex::new(r#""\s*([^"]*?)\s*""#).unwrap(), "\"${1}\""),
            (Regex::new(r"'\s*([^']*?)\s*'").unwrap(), "'${1}'"),
        ]
    });
    // lm-eval's `/' [0-9]/` pattern matches slashes around it, which WikiText never has.
    let mut s = page.replace("s '", "s'");
    for (from, to) in [
        (" @-@ ", "-"),
        (" @,@ ", ","),
        (" @.@ ", "."),
        (" : ", ": "),
        (" ; ", "; "),
        (" . ", ". "),
        (" ! ", "! "),
        (" ? ", "? "),
        (" , ", ", "),
    ] {
        s = s.replace(from, to);
    }
    for (pattern, replacement) in BRACKETS.iter() {
        s = pattern.replace_all(&s, *replacement).into_owned();
    }
    for (from, to) in [
        ("= = = =", "===="),
        ("= = =", "==="),
        ("= =", "=="),
        (" \u{b0} ", "\u{b0}"),
        (" \n", "\n"),
        ("\n ", "\n"),
        (" N ", " 1 "),
        (" 's", "'s"),
    ] {
        s = s.replace(from, to);
    }
    s
}

#[derive(Deserialize)]
struct RawText {
    text: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

/// Every `<name>.txt` and `<name>.jsonl` under `perplexity/` (or the names given), a task each.
pub fn load_texts(dir: &Path, subsets: &[String]) -> Result<Vec<TextTaskData>, BadInput> {
    let folder = dir.join("perplexity");
    let listing = std::fs::read_dir(&folder).map_err(|e| {
        Problem::new(format!(
            "cannot list {} ({e}): perplexity reads every <name>.txt and <name>.jsonl there",
            folder.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "jsonl"))
        .filter(|p| {
            subsets.is_empty() || p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| subsets.iter().any(|n| n == s))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Problem::new(format!("no <name>.txt or <name>.jsonl files in {}", folder.display())).into());
    }
    let mut tasks = Vec::new();
    let mut problems = Problems::default();
    for file in files {
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let docs = if file.extension().is_some_and(|e| e == "txt") {
            read_text(&file).map(|text| vec![TextDoc::new(None, text)])
        } else {
            read_lines::<RawText>(&file).and_then(|(lines, line_problems)| {
                line_problems.into_result()?;
                Ok(lines
                    .into_iter()
                    .map(|l| {
                        let id = l.value.id.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
                        TextDoc::new(id, l.value.text)
                    })
                    .collect())
            })
        };
        match docs {
            Ok(docs) => tasks.push(TextTaskData { name: format!("perplexity_{name}"), docs }),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_whitespace_runs_plus_one_as_pythons_split() {
        assert_eq!(count_words("a b  c"), 3);
        assert_eq!(count_words(" a b\n"), 4, "leading and trailing runs count, as re.split does");
        assert_eq!(count_words(""), 1);
    }

    #[test]
    fn wikitext_pages_and_detokenizer() {
        let raw = " \n = Valkyria = \n \n The game 's 1 @,@ 000 copies ( in Japan ) sold . \n \n = = Plot = = \n Text \n = Next = \n More \n";
        let pages = pages(raw);
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert!(pages[0].starts_with(" = Valkyria = ") && pages[0].contains(" = = Plot = = "));
        assert_eq!(pages[1], " = Next = \n More \n");
        assert_eq!(
            detokenize(" The game 's 1 @,@ 000 copies ( in Japan ) sold . \n = = Plot = = \n"),
            " The game's 1,000 copies (in Japan) sold.\n== Plot ==\n"
        );
    }
}
