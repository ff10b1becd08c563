//! Battle files: FastChat's clean battle JSON (a JSON array or JSON Lines of
//! `{model_a, model_b, winner, ...}`) and llmuses review JSONL (`win`, `win_1`/`win_2`, `score`).
//!
//! FastChat files can hold millions of battles, so they are read in parallel chunks straight
//! into the sufficient statistics (or, for online Elo, a compact ordered list), never into a
//! tree of JSON values.

use std::borrow::Cow;
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;

use super::reviews::{ReviewRecord, Win, read_reviews};
use crate::input::{BadInput, Problem};
use crate::rating::names::Names;
use crate::rating::style::{StyleCounts, StyleSet};
use crate::rating::{BattleSet, Outcome, RowBuilder};

/// What to keep while reading.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keep battles in order (online Elo needs them); otherwise only the row counts.
    pub keep_order: bool,
    /// Only battles whose `category` is this.
    pub category: Option<String>,
    /// Keep answer lengths of battles against this model (for length-controlled win rates).
    pub lengths_against: Option<String>,
    /// Keep each battle's style counts from FastChat's `conv_metadata` (for style control).
    pub style: bool,
}

/// A battle against the baseline with both answers' lengths (in tokens, from FastChat's
/// `conv_metadata`, or in characters from an arena's answers).
#[derive(Debug, Clone, PartialEq)]
pub struct LengthObservation {
    pub model: String,
    /// 1 for a win over the baseline, 0.5 for a tie, 0 for a loss.
    pub score: f64,
    pub model_length: f64,
    pub baseline_length: f64,
}

impl LengthObservation {
    /// The observation for a battle between A and B, if exactly one of them is the baseline.
    pub fn against(
        baseline: &str,
        model_a: &str,
        model_b: &str,
        outcome: Outcome,
        length_a: f64,
        length_b: f64,
    ) -> Option<Self> {
        let score_a = outcome.score_a();
        if model_b == baseline && model_a != baseline {
            Some(LengthObservation {
                model: model_a.to_string(),
                score: score_a,
                model_length: length_a,
                baseline_length: length_b,
            })
        } else if model_a == baseline && model_b != baseline {
            Some(LengthObservation {
                model: model_b.to_string(),
                score: 1.0 - score_a,
                model_length: length_b,
                baseline_length: length_a,
            })
        } else {
            None
        }
    }
}

/// A single-answer score (llmuses single-mode reviews).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreObservation {
    pub model: String,
    pub category: String,
    pub score: Option<f64>,
}

pub enum Battles {
    Ordered(BattleSet),
    Counted(RowBuilder),
}

/// Everything read from one or more battle files.
pub struct LoadedBattles {
    pub battles: Battles,
    /// Battles with an `unknown` (or otherwise unusable) verdict, left out.
    pub unknown: u64,
    /// Battles left out by the category filter.
    pub filtered_out: u64,
    pub lengths: Vec<LengthObservation>,
    pub scores: Vec<ScoreObservation>,
    /// With `ReadOptions::style`.
    pub style: StyleSet,
}

impl LoadedBattles {
    pub fn new(keep_order: bool) -> Self {
        LoadedBattles {
            battles: if keep_order {
                Battles::Ordered(BattleSet::new())
            } else {
                Battles::Counted(RowBuilder::default())
            },
            unknown: 0,
            filtered_out: 0,
            lengths: Vec::new(),
            scores: Vec::new(),
            style: StyleSet::default(),
        }
    }

    /// Adds one decided battle (from a source other than a file, such as the database).
    pub fn push(&mut self, a: &str, b: &str, outcome: Outcome, weight: f64) {
        match &mut self.battles {
            Battles::Ordered(set) => set.push(a, b, outcome, weight),
            Battles::Counted(rows) => rows.push(a, b, outcome, weight),
        }
    }
}

/// Reads battle files of either kind, in the order given.
pub fn read_battle_files(files: &[impl AsRef<Path>], options: &ReadOptions) -> Result<LoadedBattles, BadInput> {
    let mut all = LoadedBattles::new(options.keep_order);
    for file in files {
        let file = file.as_ref();
        let bytes = map_file(file)?;
        let bytes: &[u8] = &bytes;
        match detect(bytes) {
            Kind::Reviews => read_review_file(file, options, &mut all)?,
            Kind::FastChat => read_fastchat(bytes, file, options, &mut all)?,
            Kind::Empty => {}
            Kind::Unknown(line) => {
                return Err(Problem::new(
                    "not a battle file: expected FastChat battles ({model_a, model_b, winner}) or llmuses reviews \
                     ({model_a, model_b, win} / {win_1, win_2} / {model, score})",
                )
                .in_file(file)
                .at_line(Some(line))
                .into());
            }
        }
    }
    Ok(all)
}

/// The file's bytes, memory-mapped: a large battle file is parsed in place, without a copy.
fn map_file(file: &Path) -> Result<memmap2::Mmap, BadInput> {
    let cannot = |e: std::io::Error| BadInput::one(Problem::new(format!("cannot read: {e}")).in_file(file));
    let handle = std::fs::File::open(file).map_err(cannot)?;
    if handle.metadata().map_err(cannot)?.is_dir() {
        return Err(Problem::new("is a folder, not a battle file").in_file(file).into());
    }
    // SAFETY: the map is read-only and dropped before this function's caller returns; a file
    // truncated by another process while it is read can fault, as with any mapped reader.
    let map = unsafe { memmap2::MmapOptions::new().map(&handle) }.map_err(cannot)?;
    Ok(map)
}

enum Kind {
    FastChat,
    Reviews,
    Empty,
    Unknown(usize),
}

/// Tells the two formats apart from the first record's keys.
fn detect(bytes: &[u8]) -> Kind {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Kind::Empty;
    }
    let first = if let Some(rest) = trimmed.strip_prefix('[') { rest.trim_start() } else { trimmed };
    // Look at the keys of the first object only (up to its first closing brace is enough
    // for these flat records).
    let head: String = first.chars().take(4096).collect();
    let has = |key: &str| head.contains(&format!("\"{key}\""));
    if has("winner") && has("model_a") {
        Kind::FastChat
    } else if has("win") || has("win_1") || (has("model") && has("score")) {
        Kind::Reviews
    } else if first.starts_with(']') {
        Kind::Empty
    } else {
        Kind::Unknown(1)
    }
}

fn read_review_file(file: &Path, options: &ReadOptions, all: &mut LoadedBattles) -> Result<(), BadInput> {
    let mut records: Vec<ReviewRecord> = read_reviews(file)?.into_iter().map(|l| l.value).collect();
    // llmuses rated reviews in time order.
    records.sort_by(|a, b| a.tstamp().total_cmp(&b.tstamp()));
    for record in records {
        let category = match &record {
            ReviewRecord::Pair(r) => &r.category,
            ReviewRecord::Swap(r) => &r.category,
            ReviewRecord::Single(r) => &r.category,
        };
        if options.category.as_ref().is_some_and(|c| c != category) {
            all.filtered_out += 1;
            continue;
        }
        let weight = match &record {
            ReviewRecord::Pair(r) => r.weight,
            ReviewRecord::Swap(r) => r.weight,
            ReviewRecord::Single(r) => {
                all.scores.push(ScoreObservation {
                    model: r.model.clone(),
                    category: r.category.clone(),
                    score: r.score,
                });
                continue;
            }
        };
        let (_, a, b, win) = record.pair_verdict().expect("single reviews are taken above");
        match outcome_of_win(win) {
            Some(outcome) => all.push(a, b, outcome, weight),
            None => all.unknown += 1,
        }
    }
    Ok(())
}

fn outcome_of_win(win: Win) -> Option<Outcome> {
    match win {
        Win::ModelA => Some(Outcome::ModelA),
        Win::ModelB => Some(Outcome::ModelB),
        Win::Tie => Some(Outcome::Tie),
        Win::TieBothBad => Some(Outcome::TieBothBad),
        Win::Unknown => None,
    }
}

#[derive(Deserialize)]
struct RawBattle<'a> {
    #[serde(borrow)]
    model_a: Cow<'a, str>,
    #[serde(borrow)]
    model_b: Cow<'a, str>,
    #[serde(borrow)]
    winner: Cow<'a, str>,
    #[serde(default, borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "optional_weight")]
    weight: Option<f64>,
    #[serde(default)]
    conv_metadata: Option<ConvMetadata>,
}

/// A battle's weight counts it that many times: it must be a finite number above zero.
pub(crate) fn weight<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let w = f64::deserialize(deserializer)?;
    if w.is_finite() && w > 0.0 {
        Ok(w)
    } else {
        Err(serde::de::Error::custom(format!("weight must be a finite number above 0, got {w}")))
    }
}

fn optional_weight<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => weight(v).map(Some).map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize)]
struct ConvMetadata {
    sum_assistant_a_tokens: Option<f64>,
    sum_assistant_b_tokens: Option<f64>,
    #[serde(default)]
    header_count_a: Option<Count>,
    #[serde(default)]
    header_count_b: Option<Count>,
    #[serde(default)]
    list_count_a: Option<Count>,
    #[serde(default)]
    list_count_b: Option<Count>,
    #[serde(default)]
    bold_count_a: Option<Count>,
    #[serde(default)]
    bold_count_b: Option<Count>,
}

/// A style count: a number, or Chatbot Arena's breakdown (`{"h1": 2, "h2": 0, …}`), summed.
#[derive(Deserialize)]
#[serde(untagged)]
enum Count {
    Total(f64),
    Parts(std::collections::HashMap<String, f64>),
}

impl Count {
    fn total(&self) -> f64 {
        match self {
            Count::Total(n) => *n,
            Count::Parts(parts) => parts.values().sum(),
        }
    }
}

impl ConvMetadata {
    /// Both answers' style counts, when the metadata has all of them.
    fn style(&self) -> Option<(StyleCounts, StyleCounts)> {
        let side = |tokens: Option<f64>, headers: &Option<Count>, lists: &Option<Count>, bold: &Option<Count>| {
            Some(StyleCounts([tokens?, headers.as_ref()?.total(), lists.as_ref()?.total(), bold.as_ref()?.total()]))
        };
        Some((
            side(self.sum_assistant_a_tokens, &self.header_count_a, &self.list_count_a, &self.bold_count_a)?,
            side(self.sum_assistant_b_tokens, &self.header_count_b, &self.list_count_b, &self.bold_count_b)?,
        ))
    }
}

/// One chunk's worth of battles, with models interned locally.
#[derive(Default)]
struct Chunk {
    models: Names,
    battles: Vec<(u32, u32, Outcome, f64)>,
    rows: RowBuilder,
    keep_order: bool,
    unknown: u64,
    filtered_out: u64,
    lengths: Vec<LengthObservation>,
    style: StyleSet,
}

impl Chunk {
    fn add(&mut self, raw: RawBattle<'_>, options: &ReadOptions) {
        if let Some(c) = &options.category
            && raw.category.as_deref() != Some(c.as_str())
        {
            self.filtered_out += 1;
            return;
        }
        let Some(outcome) = Outcome::from_winner(raw.winner.as_ref()) else {
            self.unknown += 1;
            return;
        };
        let weight = raw.weight.unwrap_or(1.0);
        if let (Some(base), Some(meta)) = (&options.lengths_against, &raw.conv_metadata)
            && let (Some(la), Some(lb)) = (meta.sum_assistant_a_tokens, meta.sum_assistant_b_tokens)
        {
            self.lengths.extend(LengthObservation::against(base, &raw.model_a, &raw.model_b, outcome, la, lb));
        }
        if options.style {
            match raw.conv_metadata.as_ref().and_then(ConvMetadata::style) {
                Some(style) => self.style.push(&raw.model_a, &raw.model_b, outcome, weight, style),
                None => self.style.missing += 1,
            }
        }
        if self.keep_order {
            let a = self.models.id(&raw.model_a);
            let b = self.models.id(&raw.model_b);
            self.battles.push((a, b, outcome, weight));
        } else {
            self.rows.push(&raw.model_a, &raw.model_b, outcome, weight);
        }
    }
}

fn read_fastchat(bytes: &[u8], file: &Path, options: &ReadOptions, all: &mut LoadedBattles) -> Result<(), BadInput> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    let chunks =
        if bytes[start] == b'[' { read_array(bytes, file, options)? } else { read_lines(bytes, file, options)? };
    for chunk in chunks {
        all.unknown += chunk.unknown;
        all.filtered_out += chunk.filtered_out;
        all.lengths.extend(chunk.lengths);
        all.style.merge(chunk.style);
        match &mut all.battles {
            Battles::Ordered(set) => {
                let map: Vec<u32> = chunk.models.as_slice().iter().map(|m| set.model(m)).collect();
                for (a, b, outcome, weight) in chunk.battles {
                    set.push_indexed(map[a as usize], map[b as usize], outcome, weight);
                }
            }
            Battles::Counted(rows) => rows.merge(chunk.rows),
        }
    }
    Ok(())
}

fn new_chunk(options: &ReadOptions) -> Chunk {
    Chunk { keep_order: options.keep_order, ..Chunk::default() }
}

/// The 1-based line of a byte offset (only computed for error messages).
fn line_at(bytes: &[u8], offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &bytes[..offset.min(bytes.len())]).count()
}

fn battle_problem(bytes: &[u8], file: &Path, offset: usize, error: serde_json::Error) -> Problem {
    let mut message = error.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    Problem::new(message).in_file(file).at_line(Some(line_at(bytes, offset)))
}

/// JSON Lines: chunks end at newlines, so every chunk starts on a record.
fn read_lines(bytes: &[u8], file: &Path, options: &ReadOptions) -> Result<Vec<Chunk>, BadInput> {
    let pieces = rayon::current_num_threads().max(1) * 4;
    let mut bounds = vec![0usize];
    for k in 1..pieces {
        let guess = bytes.len() * k / pieces;
        let at = memchr::memchr(b'\n', &bytes[guess..]).map(|p| guess + p + 1).unwrap_or(bytes.len());
        if at > *bounds.last().unwrap() {
            bounds.push(at);
        }
    }
    bounds.push(bytes.len());
    bounds.dedup();
    bounds
        .par_windows(2)
        .map(|w| {
            let mut chunk = new_chunk(options);
            let mut pos = w[0];
            while pos < w[1] {
                let end = memchr::memchr(b'\n', &bytes[pos..w[1]]).map(|p| pos + p).unwrap_or(w[1]);
                let line = &bytes[pos..end];
                if line.iter().any(|b| !b.is_ascii_whitespace()) {
                    let raw: RawBattle<'_> =
                        serde_json::from_slice(line).map_err(|e| battle_problem(bytes, file, pos, e))?;
                    chunk.add(raw, options);
                }
                pos = end + 1;
            }
            Ok(chunk)
        })
        .collect::<Result<Vec<Chunk>, Problem>>()
        .map_err(BadInput::one)
}

/// A JSON array. Chunks start at guessed element boundaries (`}` `,` `{`); a guess inside a
/// string is caught because the chunk before it does not end exactly there, and that part is
/// then read again from the true boundary.
fn read_array(bytes: &[u8], file: &Path, options: &ReadOptions) -> Result<Vec<Chunk>, BadInput> {
    let open = bytes.iter().position(|&b| b == b'[').unwrap_or(0) + 1;
    let close = bytes.iter().rposition(|&b| b == b']').filter(|&c| c >= open).ok_or_else(|| {
        BadInput::one(
            Problem::new("the JSON array is not closed with `]`")
                .in_file(file)
                .at_line(Some(line_at(bytes, bytes.len()))),
        )
    })?;
    if bytes[close + 1..].iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(Problem::new("text after the closing `]`")
            .in_file(file)
            .at_line(Some(line_at(bytes, close)))
            .into());
    }
    let pieces = rayon::current_num_threads().max(1) * 4;
    let mut starts = vec![skip_ws(bytes, open)];
    for k in 1..pieces {
        let guess = open + (close - open) * k / pieces;
        if let Some(s) = guess_element_start(bytes, guess, close)
            && s > *starts.last().unwrap()
        {
            starts.push(s);
        }
    }
    let ends: Vec<usize> = starts.iter().skip(1).copied().chain(std::iter::once(close)).collect();
    let parsed: Vec<ChunkResult> = starts
        .par_iter()
        .zip(ends.par_iter())
        .map(|(&from, &until)| parse_elements(bytes, file, options, from, until, close))
        .collect();

    // Stitch: a chunk counts only if reading reached its start exactly; a gap before a chunk
    // (its guess was inside a string the reader went through) is read again sequentially.
    let mut parsed: Vec<Option<ChunkResult>> = parsed.into_iter().map(Some).collect();
    let mut chunks = Vec::new();
    let mut pos = starts[0];
    let mut i = 0;
    loop {
        while i < starts.len() && starts[i] < pos {
            i += 1;
        }
        if i == starts.len() {
            if skip_ws(bytes, pos) < close {
                let (rest, _) =
                    parse_elements(bytes, file, options, pos, close, close).map_err(|(p, _)| BadInput::one(p))?;
                chunks.push(rest);
            }
            break;
        }
        if starts[i] > pos {
            let (gap, end) =
                parse_elements(bytes, file, options, pos, starts[i], close).map_err(|(p, _)| BadInput::one(p))?;
            chunks.push(gap);
            pos = end;
            continue;
        }
        let (chunk, end) = parsed[i].take().expect("each chunk is used once").map_err(|(p, _)| BadInput::one(p))?;
        chunks.push(chunk);
        pos = end;
        i += 1;
        if pos >= close {
            break;
        }
    }
    Ok(chunks)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

/// The first `{` after `from` that follows `}` `,` (whitespace allowed between).
fn guess_element_start(bytes: &[u8], from: usize, limit: usize) -> Option<usize> {
    let mut pos = from;
    while pos < limit {
        let brace = pos + memchr::memchr(b'{', &bytes[pos..limit])?;
        let mut back = brace;
        while back > 0 && bytes[back - 1].is_ascii_whitespace() {
            back -= 1;
        }
        if back > 0 && bytes[back - 1] == b',' {
            let mut before = back - 1;
            while before > 0 && bytes[before - 1].is_ascii_whitespace() {
                before -= 1;
            }
            if before > 0 && bytes[before - 1] == b'}' {
                return Some(brace);
            }
        }
        pos = brace + 1;
    }
    None
}

/// A chunk read, with where reading stopped; or the problem, with where it was met.
type ChunkResult = Result<(Chunk, usize), (Problem, usize)>;

/// Reads array elements from `from` until reaching `until` (or the array's end). Returns
/// where it stopped: the start of the next element, or `close`.
fn parse_elements(
    bytes: &[u8],
    file: &Path,
    options: &ReadOptions,
    from: usize,
    until: usize,
    close: usize,
) -> ChunkResult {
    let mut chunk = new_chunk(options);
    let mut pos = skip_ws(bytes, from);
    while pos < until && pos < close {
        let mut stream = serde_json::Deserializer::from_slice(&bytes[pos..close]).into_iter::<RawBattle<'_>>();
        let raw = match stream.next() {
            Some(Ok(raw)) => raw,
            Some(Err(e)) => return Err((battle_problem(bytes, file, pos, e), pos)),
            None => break,
        };
        let consumed = stream.byte_offset();
        chunk.add(raw, options);
        pos = skip_ws(bytes, pos + consumed);
        if pos < close {
            if bytes[pos] != b',' {
                return Err((
                    Problem::new("expected `,` between battles").in_file(file).at_line(Some(line_at(bytes, pos))),
                    pos,
                ));
            }
            pos = skip_ws(bytes, pos + 1);
        }
    }
    Ok((chunk, pos.min(close)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    fn battle(a: &str, b: &str, w: &str) -> String {
        format!("{{\"model_a\": \"{a}\", \"model_b\": \"{b}\", \"winner\": \"{w}\", \"note\": \"}},{{ tricky\"}}")
    }

    #[test]
    fn arrays_and_lines_read_the_same_battles_in_order() {
        let records: Vec<String> = (0..500)
            .map(|i| {
                battle(
                    &format!("m{}", i % 7),
                    &format!("m{}", (i + 3) % 7),
                    ["model_a", "model_b", "tie", "unknown"][i % 4],
                )
            })
            .collect();
        let array = write(&format!("[\n{}\n]", records.join(",\n")));
        let lines = write(&records.join("\n"));
        let options = ReadOptions { keep_order: true, ..ReadOptions::default() };
        let a = read_battle_files(&[array.path()], &options).unwrap();
        let b = read_battle_files(&[lines.path()], &options).unwrap();
        let (Battles::Ordered(a_set), Battles::Ordered(b_set)) = (&a.battles, &b.battles) else { panic!() };
        assert_eq!(a_set.len(), 375);
        assert_eq!(a.unknown, 125);
        let names = |s: &BattleSet| {
            s.battles()
                .iter()
                .map(|x| (s.models()[x.a as usize].clone(), s.models()[x.b as usize].clone(), x.outcome))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(a_set), names(b_set));
        assert_eq!(names(a_set)[0], ("m0".to_string(), "m3".to_string(), Outcome::ModelA));
    }

    #[test]
    fn bad_records_name_their_line() {
        let f = write(
            "[\n{\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"tie\"},\n{\"model_a\": \"x\", \"winner\": \"tie\"}\n]",
        );
        let e = read_battle_files(&[f.path()], &ReadOptions::default()).err().unwrap();
        assert_eq!(e.problems[0].line, Some(3), "{e}");
        assert!(e.to_string().contains("model_b"), "{e}");
    }
}
