//! How far each judge can be trusted, from the battles it decided: whether its verdict survives
//! swapping the answers' positions, how often it prefers the answer shown first or the longer
//! one, and how often it agrees with people and with the other judges on the same battles.

use std::collections::BTreeMap;

use serde::Serialize;

use super::agreement::{Agreement, Side, agreement};
use super::battles::Outcome;
use super::proportion::Proportion;

/// One decided battle, by a judge or by a person.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedBattle {
    /// The judge's name; `None` for a person's vote.
    pub judge: Option<String>,
    pub question: i64,
    pub answer_a: i64,
    pub answer_b: i64,
    /// The battle's verdict (with swapped positions, the two judgments combined).
    pub winner: Outcome,
    /// Answer lengths in characters.
    pub length_a: u64,
    pub length_b: u64,
    /// The verdict of the judgment that was shown A first, and of the one shown B first when
    /// positions were swapped, each as given: `First` is the answer the judge saw first.
    pub shown_a_first: Option<Side>,
    pub shown_b_first: Option<Side>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeReport {
    pub judge: String,
    pub battles: u64,
    /// Share of swapped pairs whose two verdicts agree (a tie with a tie counts as agreeing).
    pub consistency: Option<Proportion>,
    /// Share of decisive verdicts (ties left out) that chose the answer shown first.
    pub first_position_rate: Option<Proportion>,
    /// Share of decisive battles between answers of different lengths won by the longer one.
    pub longer_answer_win_rate: Option<Proportion>,
    /// Agreement with people's votes on the same question and the same two answers.
    pub human_agreement: Option<Agreement>,
    /// Agreement with each other judge on the same battles.
    pub agreement: BTreeMap<String, Agreement>,
}

/// People's side of the same figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeopleReport {
    pub battles: u64,
    pub longer_answer_win_rate: Option<Proportion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JudgeReports {
    pub judges: Vec<JudgeReport>,
    pub people: Option<PeopleReport>,
}

/// The battle as an item both sources can speak about: the question and the two answers in
/// id order, with the verdict turned to that order.
fn item(b: &JudgedBattle) -> ((i64, i64, i64), Side) {
    let side = match b.winner {
        Outcome::Tie | Outcome::TieBothBad => Side::Tie,
        Outcome::ModelA if b.answer_a <= b.answer_b => Side::First,
        Outcome::ModelB if b.answer_a > b.answer_b => Side::First,
        _ => Side::Second,
    };
    ((b.question, b.answer_a.min(b.answer_b), b.answer_a.max(b.answer_b)), side)
}

fn longer_answer_win_rate<'a>(battles: impl Iterator<Item = &'a JudgedBattle>) -> Option<Proportion> {
    let (mut longer_won, mut decided) = (0, 0);
    for b in battles.filter(|b| b.length_a != b.length_b) {
        let a_longer = b.length_a > b.length_b;
        match b.winner {
            Outcome::ModelA => longer_won += u64::from(a_longer),
            Outcome::ModelB => longer_won += u64::from(!a_longer),
            Outcome::Tie | Outcome::TieBothBad => continue,
        }
        decided += 1;
    }
    Proportion::wilson(longer_won, decided)
}

/// The swapped-position figures: (consistent pairs, pairs), (first-shown wins, decisive verdicts).
fn position_counts(battles: &[&JudgedBattle]) -> ((u64, u64), (u64, u64)) {
    let (mut consistent, mut pairs, mut first, mut decisive) = (0, 0, 0, 0);
    for b in battles {
        for shown in [b.shown_a_first, b.shown_b_first].into_iter().flatten() {
            if shown != Side::Tie {
                decisive += 1;
                first += u64::from(shown == Side::First);
            }
        }
        if let (Some(one), Some(two)) = (b.shown_a_first, b.shown_b_first) {
            // The second judgment saw B first: its "first" is B.
            let two_as_ab = match two {
                Side::First => Side::Second,
                Side::Second => Side::First,
                Side::Tie => Side::Tie,
            };
            pairs += 1;
            consistent += u64::from(one == two_as_ab);
        }
    }
    ((consistent, pairs), (first, decisive))
}

/// Every judge's report (by name), and people's, from all the battles of a scope.
pub fn judge_reports(battles: &[JudgedBattle]) -> JudgeReports {
    let mut by_judge: BTreeMap<&str, Vec<&JudgedBattle>> = BTreeMap::new();
    let mut people: Vec<&JudgedBattle> = Vec::new();
    for b in battles {
        match &b.judge {
            Some(judge) => by_judge.entry(judge).or_default().push(b),
            None => people.push(b),
        }
    }
    let items = |list: &[&JudgedBattle]| list.iter().map(|b| item(b)).collect::<Vec<_>>();
    let people_items = items(&people);
    let judge_items: BTreeMap<&str, Vec<_>> = by_judge.iter().map(|(j, list)| (*j, items(list))).collect();
    let judges = by_judge
        .iter()
        .map(|(judge, list)| {
            let ((consistent, pairs), (first, decisive)) = position_counts(list);
            let mine = &judge_items[judge];
            JudgeReport {
                judge: judge.to_string(),
                battles: list.len() as u64,
                consistency: Proportion::wilson(consistent, pairs),
                first_position_rate: Proportion::wilson(first, decisive),
                longer_answer_win_rate: longer_answer_win_rate(list.iter().copied()),
                human_agreement: agreement(mine, &people_items),
                agreement: judge_items
                    .iter()
                    .filter(|(other, _)| *other != judge)
                    .filter_map(|(other, theirs)| Some((other.to_string(), agreement(mine, theirs)?)))
                    .collect(),
            }
        })
        .collect();
    let people = (!people.is_empty()).then(|| PeopleReport {
        battles: people.len() as u64,
        longer_answer_win_rate: longer_answer_win_rate(people.iter().copied()),
    });
    JudgeReports { judges, people }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn battle(judge: Option<&str>, q: i64, answers: (i64, i64), winner: Outcome) -> JudgedBattle {
        JudgedBattle {
            judge: judge.map(str::to_string),
            question: q,
            answer_a: answers.0,
            answer_b: answers.1,
            winner,
            length_a: 10,
            length_b: 20,
            shown_a_first: None,
            shown_b_first: None,
        }
    }

    #[test]
    fn position_consistency_and_first_position_preference() {
        let swapped = |q, one, two, winner| JudgedBattle {
            shown_a_first: Some(one),
            shown_b_first: Some(two),
            ..battle(Some("j"), q, (1, 2), winner)
        };
        let reports = judge_reports(&[
            // A wins in both orders: consistent.
            swapped(1, Side::First, Side::Second, Outcome::ModelA),
            // Whatever is shown first wins: inconsistent, a tie.
            swapped(2, Side::First, Side::First, Outcome::Tie),
            // Ties in both orders: consistent.
            swapped(3, Side::Tie, Side::Tie, Outcome::Tie),
        ]);
        let j = &reports.judges[0];
        let consistency = j.consistency.unwrap();
        assert_eq!((consistency.count, consistency.n), (2, 3));
        // Decisive verdicts: F, S, F, F: three of four chose the first shown.
        let first = j.first_position_rate.unwrap();
        assert_eq!((first.count, first.n), (3, 4));
        assert!(reports.people.is_none());
    }

    #[test]
    fn length_preference_and_agreement_are_per_source() {
        let reports = judge_reports(&[
            // Judge "j": B (the longer) wins q1; A wins q2 with the sides listed in reverse.
            battle(Some("j"), 1, (1, 2), Outcome::ModelB),
            battle(Some("j"), 2, (4, 3), Outcome::ModelA),
            battle(Some("k"), 1, (2, 1), Outcome::ModelA),
            // People: on q1 one vote agrees with j, one calls a tie; on q2 the same answer as j.
            battle(None, 1, (1, 2), Outcome::ModelB),
            battle(None, 1, (2, 1), Outcome::Tie),
            battle(None, 2, (3, 4), Outcome::ModelB),
        ]);
        let j = &reports.judges[0];
        assert_eq!(j.judge, "j");
        let longer = j.longer_answer_win_rate.unwrap();
        // q1: B (20 chars) wins; q2: A (10 chars, the shorter) wins.
        assert_eq!((longer.count, longer.n), (1, 2));
        let human = j.human_agreement.unwrap();
        assert_eq!((human.n, human.with_ties, human.without_ties), (3, 2.0 / 3.0, Some(1.0)));
        // k's A (answer 2) on q1 is j's B (answer 2): they agree.
        assert_eq!(j.agreement["k"].with_ties, 1.0);
        assert_eq!(reports.judges[1].agreement["j"].n, 1);
        let people = reports.people.unwrap();
        assert_eq!(people.battles, 3);
        assert_eq!(people.longer_answer_win_rate.unwrap().n, 2);
    }
}
