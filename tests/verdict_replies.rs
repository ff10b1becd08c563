//! Judge replies as GPT-4, Claude and small local models write them, and the verdict each must parse to.

use jury::arena::templates::TemplateKind::{self, Pairwise, Single};
use jury::arena::verdict::VerdictFormat::{self, Abc, FiveLevel, Json, OneScore, Ranking, TwoScores};
use jury::arena::verdict::{Verdict, parse_verdict};
use jury::data::Win::{self, ModelA, ModelB, Tie};

/// What a reply must parse to.
#[derive(Debug)]
enum Expect {
    /// A pairwise verdict for this side (weight and scores not checked).
    Side(Win),
    /// A pairwise verdict for this side with this weight.
    Weighted(Win, f64),
    /// A pairwise verdict for this side with these scores.
    Scores(Win, [f64; 2]),
    /// A single answer's score.
    Score(f64),
    /// No readable verdict: `None` (or, equally, a pair whose win is `Win::Unknown`).
    Unknown,
}

use Expect::{Score, Scores, Side, Unknown, Weighted};

struct Case {
    name: &'static str,
    format: VerdictFormat,
    kind: TemplateKind,
    reply: &'static str,
    expect: Expect,
}

/// A pairwise case; `.reply(..)` adds the judge's reply.
fn pair(name: &'static str, format: VerdictFormat, expect: Expect) -> Case {
    Case { name, format, kind: Pairwise, reply: "", expect }
}

/// A single-answer case; `.reply(..)` adds the judge's reply.
fn single(name: &'static str, format: VerdictFormat, expect: Expect) -> Case {
    Case { name, format, kind: Single, reply: "", expect }
}

impl Case {
    fn reply(self, reply: &'static str) -> Case {
        Case { reply, ..self }
    }
}

fn cases() -> Vec<Case> {
    vec![
        // ---- Abc: FastChat / MT-Bench pairwise ("[[A]]", "[[B]]", "[[C]]") ----
        pair("abc_gpt4_verdict_on_last_line", Abc, Side(ModelA)).reply(
            r#"Both assistants answer the question about the time complexity of binary search.

Assistant A correctly states that binary search runs in O(log n), explains that the interval is halved at each step
and mentions that the array must be sorted. Assistant B claims the worst case is O(n), which is incorrect.

Because Assistant A is accurate and Assistant B contains a factual error, Assistant A is better.

[[A]]"#,
        ),
        pair("abc_claude_bold_token", Abc, Side(ModelB)).reply(
            r#"## Evaluation

**Assistant A** gives a generic list of tips for learning Spanish ("watch movies", "use an app").
**Assistant B** builds a four-week plan around the user's stated 20 minutes per day and suggests concrete resources.

- Helpfulness: B is clearly more actionable
- Accuracy: both are accurate
- Depth: B

**[[B]]**"#,
        ),
        pair("abc_verdict_first_then_explanation", Abc, Side(Tie)).reply(
            r#"[[C]]

Both responses convert 100°F to Celsius correctly (37.8°C) and show the formula `C = (F - 32) × 5/9`.
Assistant A is more concise while Assistant B adds a sentence about body temperature; neither difference matters
for the user's question, so I consider them equally good."#,
        ),
        pair("abc_spaces_inside_brackets", Abc, Side(ModelB)).reply(
            r#"After comparing the two poems: Assistant B follows the requested haiku structure (5-7-5 syllables),
while the second line of Assistant A's poem has nine syllables and the poem does not mention autumn at all.

Final verdict: [[ B ]]"#,
        ),
        pair("abc_reminder_with_or_after_verdict", Abc, Side(ModelB)).reply(
            r#"The user wants every customer, including those without orders. Assistant A uses an INNER JOIN and
silently drops them; Assistant B uses a LEFT JOIN and counts `o.id`, so customers without orders get 0:

```sql
SELECT c.name, COUNT(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
```

My final verdict is [[B]].

(As instructed, I reply with exactly one of [[A]], [[B]] or [[C]].)"#,
        ),
        pair("abc_claude_restates_quoted_format_first", Abc, Side(ModelA)).reply(
            r#"I'll compare both responses and then output "[[A]]" if assistant A is better, "[[B]]" if assistant B
is better, and "[[C]]" for a tie.

### Assistant A
Explains the difference between `git merge` and `git rebase`, with a diagram of the resulting history.

### Assistant B
Claims that rebase "deletes the old branch", which is wrong, and gives no example.

Assistant A is more accurate and more helpful.

[[A]]"#,
        ),
        pair("abc_small_model_only_echoes_reminder", Abc, Unknown).reply(
            r#"Output your final verdict by strictly following this format: "[[A]]" if assistant A is better,
"[[B]]" if assistant B is better, and "[[C]]" for a tie.

The assistant A is a good assistant. The assistant B is a good assistant. The user question is about the capital
of Australia. The capital of Australia is Sydney. Output your final verdict by strictly following this format:
"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie."#,
        ),
        pair("abc_counterfactual_if_clause_after_verdict", Abc, Side(ModelA)).reply(
            r#"Assistant A gives a working Python function and handles the empty list. Assistant B's function
raises an IndexError on empty input because it reads `xs[0]` before checking the length.

Verdict: [[A]]

Note: I would have chosen [[B]] if Assistant B had handled the empty list, since its explanation is clearer."#,
        ),
        pair("abc_changes_mind_on_reflection", Abc, Side(ModelB)).reply(
            r#"Initially [[A]] seemed right, because Assistant A's answer is longer and cites more sources.

However, several of those sources are invented: the "Journal of Applied Lunar Agriculture" does not exist, and the
quoted 1987 study cannot be found. Assistant B is shorter, but everything it says is correct.

On reflection, final verdict: [[B]]"#,
        ),
        pair("abc_lowercase_token_is_not_a_verdict", Abc, Unknown).reply(
            r#"assistant a is more detailed and answers all three sub-questions. assistant b only answers the first
one and repeats the question back to the user.

final verdict: [[a]]"#,
        ),
        pair("abc_markdown_headings_and_code_final_verdict", Abc, Side(ModelB)).reply(
            r#"# Comparison

## Correctness
Both assistants implement `fib(n)`. Assistant A uses naive recursion:

```rust
fn fib(n: u64) -> u64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
```

Assistant B uses an iterative loop with two accumulators, which is O(n) instead of exponential.

## Conclusion
The user asked for a version that is fast for n = 90; only Assistant B's solution meets that requirement.

Final verdict: [[B]]"#,
        ),
        pair("abc_small_model_repeats_verdict", Abc, Side(ModelA)).reply(
            r#"[[A]]

Assistant A is better because Assistant A is better. The answer of Assistant A is good and the answer of
Assistant A is good. [[A]] [[A]] The assistant A answer the question of the user which is the question of the
user. [[A]]"#,
        ),
        pair("abc_small_model_truncated_reminder_after_verdict", Abc, Side(ModelB)).reply(
            r#"The final verdict is [[B]]. Assistant B is better.

[[A]] if assistant A is better, [[B]] if assistant B is better, and [[C]] for a tie. [[A]] if assistant A is
better, [[B]] if assistant B is better, and [[C]] for a tie. [[A]] if assistant A is better, [[B]] if assistant"#,
        ),
        pair("abc_refusal_without_verdict", Abc, Unknown).reply(
            r#"I'm sorry, but I can't evaluate these responses.

The conversation asks for instructions that could be used to hurt someone, and comparing the two answers would
mean ranking them by how useful they are for that purpose."#,
        ),
        // ---- FiveLevel: Arena-Hard ("[[A>>B]]" ... "[[B>>A]]") ----
        pair("five_arena_hard_strong_b", FiveLevel, Weighted(ModelB, 3.0)).reply(
            r#"My own answer to the prompt:

To reverse a linked list in place, walk it with three pointers (`prev`, `curr`, `next`) and flip each `next` link.

Evaluation:

Assistant A's code never updates `prev`, so it loops forever on any list with more than one node, and it gives no
explanation. Assistant B's code matches my answer, handles the empty list and explains each step.

My final verdict is: Assistant B is significantly better: [[B>>A]]"#,
        ),
        pair("five_arena_hard_tie", FiveLevel, Weighted(Tie, 1.0)).reply(
            r#"Both assistants correctly explain that the sky is blue because of Rayleigh scattering, which affects
shorter wavelengths more strongly. Neither makes a mistake, both are concise, and neither adds anything the other
lacks.

My final verdict is tie: [[A=B]]"#,
        ),
        pair("five_label_list_after_verdict", FiveLevel, Weighted(ModelA, 1.0)).reply(
            r#"Both regular expressions match valid e-mail addresses, but Assistant A explains each part of the
pattern while Assistant B only pastes it. Assistant A is slightly better.

[[A>B]]

(Choices: [[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]])"#,
        ),
        pair("five_claude_quotes_labels_first", FiveLevel, Weighted(ModelA, 3.0)).reply(
            r#"I need to compare the two answers and choose one label from
[[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]].

**Assistant A** reads the spreadsheet with `pandas.read_excel` and filters the rows as requested.
**Assistant B** calls `pandas.read_excelx`, which does not exist, so its code fails immediately.

My final verdict is: [[A>>B]]"#,
        ),
        pair("five_degenerate_after_valid", FiveLevel, Weighted(ModelB, 1.0)).reply(
            r#"Assistant B gives the correct boiling point of water at 3,000 m (about 90 °C); Assistant A says 100 °C.

My final verdict is: [[B>A]]

[[A>A]] The assistant A is the assistant A."#,
        ),
        pair("five_degenerate_before_valid", FiveLevel, Weighted(ModelA, 1.0)).reply(
            r#"[[B=B]] Assistant B is equal to Assistant B. The answer of Assistant A is longer and it has the steps.

My final verdict is Assistant A is slightly better: [[A>B]]"#,
        ),
        pair("five_only_degenerate_tokens", FiveLevel, Unknown).reply(
            r#"The assistant A is the assistant A. [[A>A]]
The assistant B is better than the assistant B. [[B>>B]]
The answer is the answer. [[A=A]]"#,
        ),
        pair("five_less_than_weak", FiveLevel, Weighted(ModelB, 1.0)).reply(
            r#"Both short stories follow the prompt. Assistant B's ending has a twist that fits the set-up, while
Assistant A's ending is abrupt. The difference is small.

Verdict: [[A<B]]"#,
        ),
        pair("five_less_than_strong", FiveLevel, Weighted(ModelB, 3.0)).reply(
            r#"Assistant A refuses to answer a harmless question about how vaccines train the immune system.
Assistant B answers it accurately and at the right level for a child.

Verdict: [[A<<B]]"#,
        ),
        pair("five_falls_back_to_plain_abc", FiveLevel, Weighted(ModelB, 1.0)).reply(
            r#"Assistant B's answer is better because it includes the unit conversion the user asked for, while
Assistant A only restates the formula.

[[B]]"#,
        ),
        pair("five_only_label_reminder", FiveLevel, Unknown).reply(
            r#"Please output one of [[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]].
I am a helpful assistant. The answer of the assistant is the answer. The answer is good."#,
        ),
        // ---- TwoScores: FastChat v1 / llmuses ("8 6" first line, or "[[8, 6]]") ----
        pair("two_fastchat_v1_first_line", TwoScores, Scores(ModelA, [9.0, 6.0])).reply(
            r#"9 6
Assistant 1 gives a complete and accurate explanation of photosynthesis, including the light-dependent reactions
and the Calvin cycle. Assistant 2 confuses the roles of chlorophyll and ATP and omits the Calvin cycle entirely,
so it receives a lower score."#,
        ),
        pair("two_first_line_with_comma", TwoScores, Scores(ModelB, [7.0, 9.0])).reply(
            r#"7, 9

Assistant 1's cover letter is polite but generic. Assistant 2 refers to the job posting, quantifies the
candidate's achievements and keeps to one page, which is what the user asked for."#,
        ),
        pair("two_bracketed_pair_at_end", TwoScores, Scores(ModelA, [8.0, 6.0])).reply(
            r#"### Assistant A
Correct answer (x = 4), with every algebraic step shown.

### Assistant B
Correct answer, but it skips the step where both sides are divided by 3 and never checks the result.

I will answer in the format [[rating_a, rating_b]]:

[[8, 6]]"#,
        ),
        pair("two_tie", TwoScores, Scores(Tie, [7.0, 7.0])).reply(
            r#"Both assistants list the same five tourist attractions in Lisbon with accurate short descriptions.
Neither mentions opening hours, which the user asked about.

[[7,7]]"#,
        ),
        pair("two_last_pair_decides", TwoScores, Scores(ModelA, [8.0, 5.0])).reply(
            r#"My first impression was [[6, 8]], because Assistant B is more detailed.

However, step 3 of Assistant B divides by (x - 2) without excluding x = 2, which produces a wrong second solution.
Assistant A's shorter derivation is correct. Revised scores:

[[8, 5]]"#,
        ),
        pair("two_decimal_scores", TwoScores, Scores(ModelB, [7.5, 8.0])).reply(
            r#"Both assistants give a correct bash one-liner. Assistant B also quotes `"$file"` so names with spaces
work, which Assistant A does not.

[[7.5, 8]]"#,
        ),
        pair("two_out_of_range_is_not_a_verdict", TwoScores, Unknown).reply(
            r#"On a 100-point scale I would rate the two answers as follows:

[[85, 70]]"#,
        ),
        pair("two_no_scores", TwoScores, Unknown).reply(
            r#"Both assistants provide helpful answers.
Assistant 1 is more concise, while Assistant 2 is more detailed. I am unable to decide which one is better
without more information about the user's needs."#,
        ),
        // ---- OneScore: MT-Bench single ("Rating: [[8]]") ----
        single("one_claude_markdown_rating", OneScore, Score(8.0)).reply(
            r#"## Assessment

**Strengths**
- Accurately explains the difference between TCP and UDP
- Gives sensible examples (video calls, file downloads)

**Weaknesses**
- Does not mention QUIC, which the user asked about

Rating: [[8]]"#,
        ),
        single("one_last_rating_decides", OneScore, Score(6.5)).reply(
            r#"At first I would give this a [[4]], because the final total looks wrong.

Checking the arithmetic again, the total of $1,240 is correct; only the tax line is rounded differently from the
user's example. The explanation is clear but a little long.

Rating: [[6.5]]"#,
        ),
        single("one_single_bracket_after_rating_word", OneScore, Score(7.0)).reply(
            r#"The response gives a correct recipe for sourdough bread and explains the role of the starter, but
the baking time is given without a temperature.

Rating: [7]"#,
        ),
        single("one_citations_then_rating", OneScore, Score(7.0)).reply(
            r#"The answer summarises the paper's main finding [1] and correctly notes that the effect size was
small [2]. However, it attributes the dataset to the authors of [3], which is wrong, and it does not discuss
limitations.

Rating: [[7]]"#,
        ),
        single("one_only_citations_no_rating", OneScore, Unknown).reply(
            r#"The response explains the causes of World War I, as shown in [2], and compares the alliance system
with the arms race (see [1] and [3]). It is well organised and cites its sources."#,
        ),
        single("one_rating_out_of_ten", OneScore, Score(8.0)).reply(
            r#"The assistant translates the paragraph into French accurately and keeps the formal register. One
idiom is rendered literally.

Rating: 8/10"#,
        ),
        single("one_citations_and_rating_out_of_ten", OneScore, Score(9.0)).reply(
            r#"The answer correctly describes the mechanism of action of metformin [4] and its common side effects
[5]. It appropriately advises the user to talk to their doctor.

Rating: 9/10"#,
        ),
        single("one_year_in_double_brackets_is_not_a_score", OneScore, Unknown).reply(
            r#"The answer says the model was released in [[2023]] and the user question is about the model. The
model is a model. The answer is about the model released in [[2023]]."#,
        ),
        single("one_small_model_rambling", OneScore, Score(9.0)).reply(
            r#"The answer is good. The answer is good because it is good. Rating: [[9]] The answer is good. The
assistant is a helpful assistant and the answer is the answer of the assistant. Rating: [[9]] The answer is good.
The"#,
        ),
        // ---- Json ----
        pair("json_fenced_winner_a", Json, Side(ModelA)).reply(
            r#"I compared both responses for accuracy and helpfulness.

```json
{"winner": "A", "reason": "Assistant A's answer handles leap years; Assistant B's does not."}
```"#,
        ),
        pair("json_winner_model_b", Json, Side(ModelB)).reply(
            r#"Assistant B identifies the off-by-one error in the loop and fixes it; Assistant A rewrites the whole
function and introduces a new bug.

{"winner": "model_b"}"#,
        ),
        pair("json_verdict_tie", Json, Side(Tie)).reply(
            r#"{"verdict": "tie", "explanation": "Both summaries cover the three main points equally well."}

Both answers are equally good."#,
        ),
        pair("json_scores_pair", Json, Scores(ModelB, [4.0, 9.0])).reply(
            r#"Assistant A misreads the question as asking for the median; Assistant B computes the mean correctly.

{"scores": [4, 9]}"#,
        ),
        single("json_single_score", Json, Score(9.0)).reply(
            r#"```json
{
  "explanation": "The answer is correct, well structured and cites the relevant section of the GDPR.",
  "score": 9
}
```"#,
        ),
        pair("json_score_under_pairwise_is_no_verdict", Json, Unknown).reply(
            r#"The answer is mostly correct.

{"score": 9}"#,
        ),
        pair("json_last_object_decides", Json, Side(ModelB)).reply(
            r#"Draft: {"winner": "A"}

Wait, Assistant A's conversion uses 1 mile = 1.2 km, which is wrong; Assistant B uses 1.609 km. Correcting:

{"winner": "B"}"#,
        ),
        pair("json_nested_details_and_winner", Json, Side(ModelB)).reply(
            r#"```json
{
  "assistant_a": {"helpfulness": 6, "accuracy": 5},
  "assistant_b": {"helpfulness": 8, "accuracy": 9},
  "winner": "B"
}
```"#,
        ),
        pair("json_malformed_object", Json, Unknown).reply(
            r#"{winner: Assistant A, because its answer is complete}

(The object above could not be written as valid JSON.)"#,
        ),
        // ---- Ranking: llmuses ranking_parser ----
        pair("rank_python_literal_a", Ranking, Side(ModelA)).reply(
            r#"model_a answers both parts of the question accurately, while model_b misses the second part.

[{'model': 'model_a', 'rank': 1}, {'model': 'model_b', 'rank': 2}]"#,
        ),
        pair("rank_apostrophes_in_text", Ranking, Side(ModelB)).reply(
            r#"Assistant A's answer doesn't mention the deadline, and it's also longer than needed. model_b's
answer is direct and it's correct.

[{'model': 'model_b', 'rank': 1}, {'model': 'model_a', 'rank': 2}]"#,
        ),
        pair("rank_apostrophe_inside_reason", Ranking, Side(ModelB)).reply(
            r#"Ranking:

[{'model': 'model_a', 'rank': 2, 'reason': "it's vague"},
 {'model': 'model_b', 'rank': 1, 'reason': "it's clearer"}]"#,
        ),
        pair("rank_tied", Ranking, Side(Tie)).reply(
            r#"Both models give the same correct answer (42) with the same level of detail, so they share the first
rank.

[{'model': 'model_a', 'rank': 1}, {'model': 'model_b', 'rank': 1}]"#,
        ),
        pair("rank_double_quoted_json", Ranking, Side(ModelB)).reply(
            r#"Model B is more accurate.

[{"model": "model_a", "rank": 2}, {"model": "model_b", "rank": 1}]"#,
        ),
        pair("rank_last_list_decides", Ranking, Side(ModelB)).reply(
            r#"[{'model': 'model_a', 'rank': 1}, {'model': 'model_b', 'rank': 2}]

Correction: I mixed up the two outputs. model_b is the one that includes the citation the user asked for.

[{'model': 'model_a', 'rank': 2}, {'model': 'model_b', 'rank': 1}]"#,
        ),
        pair("rank_multiline_python_block", Ranking, Side(ModelB)).reply(
            r#"```python
[
    {'model': 'model_a', 'rank': 2},
    {'model': 'model_b', 'rank': 1}
]
```"#,
        ),
        // ---- Reminders in every format, and conditions that are not reminders ----
        pair("abc_if_that_is_no_condition_on_the_answers", Abc, Side(ModelB)).reply(
            r#"On style alone, Assistant A's answer would normally earn [[A]] from me: it is warmer and better organised.
However, it gets the boiling point of water at altitude wrong, and Assistant B does not.

My final verdict is [[B]] if only because accuracy matters more than tone here."#,
        ),
        pair("five_arena_hard_numbered_options_after_verdict", FiveLevel, Weighted(ModelB, 1.0)).reply(
            r#"Assistant B's proof handles the base case that Assistant A skips, though both reach the right bound.

My final verdict is: [[B>A]]

For reference, the options were:
1. Assistant A is significantly better: [[A>>B]]
2. Assistant A is slightly better: [[A>B]]
3. Tie, relatively the same: [[A=B]]
4. Assistant B is slightly better: [[B>A]]
5. Assistant B is significantly better: [[B>>A]]"#,
        ),
        pair("five_example_output_echoed_after_verdict", FiveLevel, Weighted(ModelA, 3.0)).reply(
            r#"Assistant A gives a working SQL query with an index suggestion; Assistant B's query does not run.

Final verdict: [[A>>B]]

Example output: "My final verdict is tie: [[A=B]]"."#,
        ),
        single("one_score_format_echoed_after_rating", OneScore, Score(8.0)).reply(
            r#"The answer explains photosynthesis correctly and at the right level for a child, with one vague sentence.

Rating: [[8]]

(Required format: [[7]])"#,
        ),
        pair("json_example_after_verdict", Json, Side(ModelA)).reply(
            r#"```json
{"winner": "A", "reason": "A cites the correct statute; B invents one."}
```
Note: the expected form was, e.g. {"winner": "B"}, with a reason."#,
        ),
        pair("two_scores_example_after_verdict", TwoScores, Scores(ModelA, [8.0, 6.0])).reply(
            r#"Assistant 1 is accurate and complete; Assistant 2 misses the second part of the question.

[[8, 6]]

The format asked for [[rating_a, rating_b]], for example [[3, 9]]."#,
        ),
        pair("rank_small_model_echoes_template_after_list", Ranking, Side(ModelA)).reply(
            r#"[{'model': 'model_a', 'rank': 1}, {'model': 'model_b', 'rank': 2}]
The output is a list of the models and the rank of the models. The format is
[{'model': <model-name>, 'rank': <model-rank>}, {'model': <model-name>, 'rank': <model-rank>}]"#,
        ),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn check(case: &Case) -> Result<(), String> {
    let got = parse_verdict(case.format, case.kind, case.reply);
    let ok = match (&case.expect, got) {
        (Unknown, None) | (Unknown, Some(Verdict::Pair { win: Win::Unknown, .. })) => true,
        (Side(w), Some(Verdict::Pair { win, .. })) => win == *w,
        (Weighted(w, weight), Some(Verdict::Pair { win, weight: got, .. })) => win == *w && close(got, *weight),
        (Scores(w, s), Some(Verdict::Pair { win, scores: Some(got), .. })) => {
            win == *w && close(got[0], s[0]) && close(got[1], s[1])
        }
        (Score(s), Some(Verdict::Score(got))) => close(got, *s),
        _ => false,
    };
    ok.then_some(())
        .ok_or_else(|| format!("{} ({:?}): expected {:?}, got {:?}", case.name, case.format, case.expect, got))
}

#[test]
fn judge_replies_parse_to_their_verdicts() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    for (format, min) in [(Abc, 12), (FiveLevel, 8), (TwoScores, 6), (OneScore, 8), (Json, 5), (Ranking, 6)] {
        let n = cases.iter().filter(|c| c.format == format).count();
        assert!(n >= min, "{format:?}: {n} cases, want at least {min}");
    }
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");

    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} replies misread:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
