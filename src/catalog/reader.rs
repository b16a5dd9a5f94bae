//! Reading catalog files: JSON Lines or CSV/TSV, plain or gzip-compressed.
//!
//! [`CatalogReader`] yields one [`Record`] per product line: its line number and either
//! the record as a JSON object or the reason it could not be read. Bytes read from the
//! file are counted in [`CatalogReader::progress`] so a progress bar can follow along.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::schema::CatalogFormat;

/// The longest catalog line accepted (a larger line is rejected, not loaded).
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// One input record: its 1-based line number and its content or why it is unusable.
pub type Record = (usize, std::result::Result<Map<String, Value>, String>);

/// Counts the bytes that pass through, for progress reporting.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

enum Lines {
    Json(Box<dyn BufRead + Send>),
    Delimited {
        reader: Box<csv::Reader<Box<dyn Read + Send>>>,
        headers: Vec<String>,
    },
}

/// Iterates over the records of a catalog file.
pub struct CatalogReader {
    lines: Lines,
    line: usize,
    buf: Vec<u8>,
    progress: Arc<AtomicU64>,
    total_bytes: u64,
}

impl CatalogReader {
    /// Opens `path`; gzip is recognized by its magic bytes, not by the file name.
    pub fn open(path: &Path, format: &CatalogFormat) -> Result<CatalogReader> {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("opening catalog {}", path.display()), e))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let progress = Arc::new(AtomicU64::new(0));
        let counting = CountingReader {
            inner: file,
            count: progress.clone(),
        };
        let mut buffered = BufReader::with_capacity(1 << 16, counting);
        let is_gzip = buffered
            .fill_buf()
            .map_err(|e| Error::io(format!("reading catalog {}", path.display()), e))?
            .starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn Read + Send> = if is_gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        CatalogReader::from_reader(input, format, progress, total_bytes)
    }

    /// Reads records from any reader (tests and in-memory catalogs).
    pub fn from_reader(
        input: Box<dyn Read + Send>,
        format: &CatalogFormat,
        progress: Arc<AtomicU64>,
        total_bytes: u64,
    ) -> Result<CatalogReader> {
        let mut line = 0;
        let lines = match format {
            CatalogFormat::JsonLines => {
                Lines::Json(Box::new(BufReader::with_capacity(1 << 16, input)))
            }
            CatalogFormat::Delimited { delimiter } => {
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(*delimiter)
                    .flexible(false)
                    .quoting(*delimiter != b'\t')
                    .from_reader(input);
                let headers = reader
                    .headers()
                    .map_err(|e| {
                        Error::Catalog(format!("line 1: cannot read the header row: {e}"))
                    })?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                line = 1;
                Lines::Delimited {
                    reader: Box::new(reader),
                    headers,
                }
            }
        };
        Ok(CatalogReader {
            lines,
            line,
            buf: Vec::new(),
            progress,
            total_bytes,
        })
    }

    /// Bytes of the file read so far (compressed bytes for gzip files).
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    /// Size of the file in bytes, 0 when unknown.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    fn next_json(&mut self) -> Option<Record> {
        let Lines::Json(input) = &mut self.lines else {
            return None;
        };
        loop {
            self.buf.clear();
            self.line += 1;
            let read = input
                .by_ref()
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf);
            match read {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some((self.line, Err(format!("cannot read: {e}")))),
            }
            if self.buf.len() > MAX_LINE_BYTES && !self.buf.ends_with(b"\n") {
                skip_rest_of_line(input.as_mut());
                return Some((
                    self.line,
                    Err(format!("line longer than {MAX_LINE_BYTES} bytes")),
                ));
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim(),
                Err(e) => return Some((self.line, Err(format!("not valid UTF-8: {e}")))),
            };
            if text.is_empty() {
                continue;
            }
            return Some((self.line, parse_json_object(text)));
        }
    }

    fn next_delimited(&mut self) -> Option<Record> {
        let Lines::Delimited { reader, headers } = &mut self.lines else {
            return None;
        };
        let mut row = csv::StringRecord::new();
        match reader.read_record(&mut row) {
            Ok(false) => None,
            Ok(true) => {
                let line = row
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(self.line + 1);
                self.line = line;
                let map = headers
                    .iter()
                    .zip(row.iter())
                    .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                    .collect();
                Some((line, Ok(map)))
            }
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(self.line + 1);
                self.line = line;
                Some((line, Err(csv_error_reason(&e))))
            }
        }
    }
}

fn csv_error_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} columns, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    }
}

fn skip_rest_of_line(input: &mut dyn BufRead) {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        match input.take(1 << 20).read_until(b'\n', &mut sink) {
            Ok(0) => return,
            Ok(_) if sink.ends_with(b"\n") => return,
            Ok(_) => continue,
            Err(_) => return,
        }
    }
}

/// Parses one JSON Lines record, which must be an object.
pub fn parse_json_object(text: &str) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("expected a JSON object".to_string()),
        Err(e) => Err(format!("invalid JSON at column {}: {e}", e.column())),
    }
}

impl Iterator for CatalogReader {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        match self.lines {
            Lines::Json(_) => self.next_json(),
            Lines::Delimited { .. } => self.next_delimited(),
        }
    }
}
