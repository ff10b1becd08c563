//! Maps YAML key paths (`reviews_gen.reviewer.args.mode`, `reviews_gen.target_answers[1]`) to
//! the line they are written on, so checks made after deserialization can still point at a line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Builds the index; a document the YAML parser rejects gives an empty index (the
    /// deserializer reports that error with its own location).
    pub fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut builder, false);
        LineIndex { lines: builder.lines }
    }

    /// The line of `key_path`, or of its closest ancestor that is in the file.
    pub fn line_of(&self, key_path: &str) -> Option<usize> {
        let mut path = key_path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    /// A mapping; `key` is set while its value is being read.
    Map {
        key: Option<String>,
    },
    Seq {
        index: usize,
    },
}

#[derive(Default)]
struct Builder {
    frames: Vec<Frame>,
    lines: HashMap<String, usize>,
}

impl Builder {
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.frames {
            match frame {
                Frame::Map { key: Some(key) } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Frame::Map { key: None } => {}
                Frame::Seq { index } => path.push_str(&format!("[{index}]")),
            }
        }
        path
    }

    /// Records where a value starts (sequence items have no key line of their own).
    fn value_starts(&mut self, mark: &Marker) {
        if let Some(Frame::Seq { .. }) = self.frames.last() {
            let path = self.path();
            self.lines.entry(path).or_insert(mark.line());
        }
    }

    fn value_done(&mut self) {
        match self.frames.last_mut() {
            Some(Frame::Map { key }) => *key = None,
            Some(Frame::Seq { index }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::MappingStart(..) => {
                self.value_starts(&mark);
                self.frames.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                self.value_starts(&mark);
                self.frames.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                self.value_done();
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { key: None }) = self.frames.last() {
                    if let Some(Frame::Map { key }) = self.frames.last_mut() {
                        *key = Some(value);
                    }
                    let path = self.path();
                    self.lines.entry(path).or_insert(mark.line());
                } else {
                    self.value_starts(&mark);
                    self.value_done();
                }
            }
            Event::Alias(_) => {
                self.value_starts(&mark);
                self.value_done();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let text = "a: 1\nb:\n  c:\n    d: x\n  e: [p, q]\nf:\n  - one\n  - two\n";
        let index = LineIndex::build(text);
        assert_eq!(index.line_of("a"), Some(1));
        assert_eq!(index.line_of("b.c.d"), Some(4));
        assert_eq!(index.line_of("b.e"), Some(5));
        assert_eq!(index.line_of("f[1]"), Some(8));
        // Unknown leaves fall back to their closest known ancestor.
        assert_eq!(index.line_of("b.c.zzz"), Some(3));
        assert_eq!(index.line_of("nowhere"), None);
    }
}
