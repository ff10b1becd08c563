//! Problems with what the user gave us (configs, data files, arguments).
//!
//! Every problem names the file, the line and the key path when they are known, so the
//! message alone tells the user where to look. The CLI maps [`BadInput`] to exit code 2.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with the input, located as precisely as we can.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key_path: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem { file: None, line: None, key_path: None, message: message.into() }
    }

    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    pub fn at_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    pub fn at_key(mut self, key_path: impl Into<String>) -> Self {
        let key_path = key_path.into();
        self.key_path = (!key_path.is_empty()).then_some(key_path);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            write!(f, ": ")?;
        } else if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(key) = &self.key_path {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// All problems found in one piece of input. Validation collects every problem it can
/// find before failing, so the user fixes a file in one pass rather than one error at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct BadInput {
    pub problems: Vec<Problem>,
    /// Warnings found along the way (such as unknown keys), worth showing with the errors.
    pub warnings: Vec<String>,
}

impl BadInput {
    pub fn one(problem: Problem) -> Self {
        BadInput { problems: vec![problem], warnings: Vec::new() }
    }
}

impl From<Problem> for BadInput {
    fn from(problem: Problem) -> Self {
        BadInput::one(problem)
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BadInput {}

/// Collects problems while validating, then turns into `Err(BadInput)` if there were any.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Orders the problems by line (those without one last), keeping the order of equals.
    pub fn sort_by_line(&mut self) {
        self.0.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    }

    pub fn extend(&mut self, bad: BadInput) {
        self.0.extend(bad.problems);
    }

    pub fn into_result(self) -> Result<(), BadInput> {
        if self.0.is_empty() { Ok(()) } else { Err(BadInput { problems: self.0, warnings: Vec::new() }) }
    }
}
