//! `tracing` logs on stderr that do not tear through progress bars.

use std::io::{IsTerminal, Write};

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the subscriber (`RUST_LOG` overrides the default of warnings, plus jury's info).
/// Returns the bar container that log lines suspend while they print.
pub fn init() -> MultiProgress {
    let bars = MultiProgress::new();
    // mistral.rs warns about GPU device mapping even on CPU-only runs; keep its errors only.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,jury=info,mistralrs_core=error,mistralrs_quant=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(BarAwareWriter(bars.clone()))
        .try_init();
    bars
}

#[derive(Clone)]
struct BarAwareWriter(MultiProgress);

impl<'a> MakeWriter<'a> for BarAwareWriter {
    type Writer = BarAwareLine;

    fn make_writer(&'a self) -> Self::Writer {
        BarAwareLine { bars: self.0.clone(), buf: Vec::new() }
    }
}

/// Buffers one log event and prints it with the bars suspended.
struct BarAwareLine {
    bars: MultiProgress,
    buf: Vec<u8>,
}

impl Write for BarAwareLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BarAwareLine {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.bars.suspend(|| {
            let _ = std::io::stderr().write_all(&buf);
        });
    }
}
