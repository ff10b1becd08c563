//! MATH (Hendrycks et al.'s competition mathematics) as lm-eval's `minerva_math_<type>` tasks,
//! and MATH-500 as `minerva_math500`. Read from `competition_math/test.jsonl` (one
//! `{"problem", "level", "type", "solution"}` per line), or the release's
//! `MATH/test/<type>/<n>.json` files; MATH-500 from `competition_math/math500_test.jsonl`.
//! The prompt is minerva's: "Problem:\n{problem}\n\nSolution:", after its four worked examples
//! (each followed by " {solution}" and a blank line); greedy generation until "Problem:", up to
//! 256 tokens. The reference is the normalised content of the solution's last `\boxed{}`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{Check, Extracted, FewshotSampler, GenDoc, GenTaskData, read_lines, read_text, required_file};
use crate::eval::extract::math::{INVALID, boxed_answer, equivalent, final_answer_line, normalize_final_answer};
use crate::eval::extract::strip_thinking;
use crate::input::{BadInput, Problem, Problems};

/// lm-eval's subject tasks: (task suffix, the `type` field of the data).
pub const SUBJECTS: [(&str, &str); 7] = [
    ("algebra", "Algebra"),
    ("counting_and_prob", "Counting & Probability"),
    ("geometry", "Geometry"),
    ("intermediate_algebra", "Intermediate Algebra"),
    ("num_theory", "Number Theory"),
    ("prealgebra", "Prealgebra"),
    ("precalc", "Precalculus"),
];

/// minerva's four worked examples (lm-eval's `list_fewshot_samples`), as (problem, solution).
const EXAMPLES: [(&str, &str); 4] = [
    (
        "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}",
        "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is $[2,5)$. I hope it is correct.",
    ),
    (
        "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} \\mathbf{B}).$",
        "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = \\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is correct.",
    ),
    (
        "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how many times must Terrell lift them in order to lift the same total weight?",
        "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:\n\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\nFinal Answer: The final answer is $16$. I hope it is correct.",
    ),
    (
        "If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x &=b.\n\\end{align*}has a solution $(x, y)$ where $x$ and $y$ are both nonzero,\nfind $\\frac{a}{b},$ assuming $b$ is nonzero.",
        "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\nFinal Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct.",
    ),
];

#[derive(Deserialize)]
struct RawProblem {
    problem: String,
    solution: String,
    /// "Level 3" in MATH, 3 in MATH-500.
    level: Value,
    /// MATH's field; MATH-500 calls it `subject`.
    #[serde(alias = "subject")]
    r#type: String,
    #[serde(default)]
    unique_id: Option<String>,
    #[serde(default)]
    idx: Option<Value>,
}

/// The subject tasks named in `subsets` (all seven when none are).
pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<GenTaskData>, BadInput> {
    let mut problems = Problems::default();
    for subset in subsets {
        if !SUBJECTS.iter().any(|(name, _)| name == subset) {
            let names: Vec<&str> = SUBJECTS.iter().map(|(n, _)| *n).collect();
            problems.push(Problem::new(format!("math has no subject `{subset}` (its subjects: {})", names.join(", "))));
        }
    }
    problems.into_result()?;
    let jsonl = dir.join("competition_math/test.jsonl");
    let release = dir.join("MATH/test");
    let (source, docs) = if jsonl.is_file() || !release.is_dir() {
        (jsonl.clone(), read_jsonl(&required_file(dir, "competition_math/test.jsonl", "MATH test file")?)?)
    } else {
        (release.clone(), read_release(&release)?)
    };
    let known: Vec<&str> = SUBJECTS.iter().map(|(_, kind)| *kind).collect();
    if let Some((kind, _)) = docs.iter().find(|(t, _)| !known.contains(&t.as_str())) {
        return Err(Problem::new(format!("MATH problem of unknown type {kind:?} (the types: {})", known.join(", ")))
            .in_file(&source)
            .into());
    }
    let mut tasks = Vec::new();
    for (suffix, kind) in SUBJECTS {
        if !subsets.is_empty() && !subsets.iter().any(|s| s == suffix) {
            continue;
        }
        let subject: Vec<GenDoc> = docs.iter().filter(|(t, _)| t == kind).map(|(_, d)| d.clone()).collect();
        tasks.push(task(format!("minerva_math_{suffix}"), vec!["minerva_math".into()], subject));
    }
    Ok(tasks)
}

/// MATH-500, one task broken down by level.
pub fn load_500(dir: &Path) -> Result<GenTaskData, BadInput> {
    let file = required_file(dir, "competition_math/math500_test.jsonl", "MATH-500 file")?;
    let docs = read_jsonl(&file)?.into_iter().map(|(_, d)| d).collect();
    Ok(task("minerva_math500".into(), Vec::new(), docs))
}

fn task(name: String, groups: Vec<String>, docs: Vec<GenDoc>) -> GenTaskData {
    let fewshot =
        EXAMPLES.iter().map(|(problem, solution)| GenDoc::new(prompt(problem), solution.to_string())).collect();
    GenTaskData {
        name,
        groups,
        description: String::new(),
        docs,
        fewshot,
        target_delimiter: " ",
        sampler: FewshotSampler::FirstN,
        until: vec!["Problem:".into()],
        max_tokens: 256,
        check: Check::Rules(score),
        samples: 1,
    }
}

fn prompt(problem: &str) -> String {
    format!("Problem:\n{problem}\n\nSolution:")
}

/// The headline: the last box of the answer (thinking taken out), normalised, against the
/// reference; then minerva's own reading, the "Final Answer: The final answer is …" line.
pub fn score(output: &str, doc: &GenDoc) -> Vec<Extracted> {
    let answer = strip_thinking(output);
    let boxed = boxed_answer(&answer).unwrap_or_else(|| INVALID.to_string());
    let line = normalize_final_answer(&final_answer_line(&answer));
    let boxed_ok = equivalent(&boxed, &doc.target);
    let line_ok = equivalent(&line, &doc.target);
    vec![
        Extracted::matched("exact_match", "boxed", boxed, boxed_ok),
        Extracted::matched("exact_match", "none", line, line_ok),
    ]
}

/// A problem as a document: its prompt, the normalised boxed answer, and its level as the tag.
fn document(raw: RawProblem) -> Result<(String, GenDoc), &'static str> {
    let target = boxed_answer(&raw.solution).ok_or("the solution has no \\boxed{} answer")?;
    let level = match &raw.level {
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("Level {n}"),
        _ => return Err("level is neither \"Level N\" nor a number"),
    };
    let id = raw.unique_id.or_else(|| raw.idx.map(|v| v.to_string().trim_matches('"').to_string()));
    let doc = GenDoc { id, tag: Some(level), ..GenDoc::new(prompt(&raw.problem), target) };
    Ok((raw.r#type, doc))
}

/// (type, document) per line, every bad line reported at once.
fn read_jsonl(file: &Path) -> Result<Vec<(String, GenDoc)>, BadInput> {
    let (lines, mut problems) = read_lines::<RawProblem>(file)?;
    let mut docs = Vec::new();
    for line in lines {
        match document(line.value) {
            Ok(doc) => docs.push(doc),
            Err(why) => problems.push(Problem::new(why).in_file(file).at_line(Some(line.line)).at_key("solution")),
        }
    }
    problems.into_result()?;
    Ok(docs)
}

/// The release's layout: one JSON file per problem under a folder per type, read in name order.
fn read_release(folder: &Path) -> Result<Vec<(String, GenDoc)>, BadInput> {
    let listing = |dir: &Path| -> Result<Vec<PathBuf>, BadInput> {
        let entries = std::fs::read_dir(dir).map_err(|e| Problem::new(format!("cannot list: {e}")).in_file(dir))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        Ok(paths)
    };
    let mut docs = Vec::new();
    let mut problems = Problems::default();
    for kind in listing(folder)?.into_iter().filter(|p| p.is_dir()) {
        for file in listing(&kind)?.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let parsed = serde_json::from_str::<RawProblem>(&read_text(&file)?)
                .map_err(|e| Problem::new(format!("not a MATH problem: {e}")).in_file(&file).at_line(Some(e.line())))
                .and_then(|raw| document(raw).map_err(|why| Problem::new(why).in_file(&file).at_key("solution")));
            match parsed {
                Ok(doc) => docs.push(doc),
                Err(p) => problems.push(p),
            }
        }
    }
    problems.into_result()?;
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boxed_answer_is_the_headline_and_minervas_line_follows() {
        let doc = GenDoc::new(String::new(), "\\frac{1}{2}".into());
        let out = " We get $\\boxed{\\frac12}$.\nFinal Answer: The final answer is $0.5$. I hope it is correct.";
        let scored = score(out, &doc);
        assert_eq!(
            (scored[0].filter, scored[0].prediction.as_str(), scored[0].correct()),
            ("boxed", "\\frac{1}{2}", true)
        );
        assert_eq!((scored[1].filter, scored[1].prediction.as_str(), scored[1].correct()), ("none", "0.5", true));
        let wrong = score("<think>\\boxed{\\frac{1}{2}}</think> so \\boxed{3}", &doc);
        assert_eq!((wrong[0].prediction.as_str(), wrong[0].correct()), ("3", false));
        assert_eq!(wrong[1].prediction, INVALID);
    }
}
