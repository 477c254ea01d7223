//! Framing on one thread, value work on all cores.
//!
//! [`drive`] frames an RDB file record by record and copies the key records that pass a filter
//! into a [`Batch`] (one contiguous arena, so a batch is a handful of allocations whatever its
//! size). Full batches, and every non-key item in file order, go to the caller, which typically
//! decodes the batch's values in parallel with rayon while order is kept by index.

use std::io::IsTerminal;
use std::ops::Range;

use indicatif::{ProgressBar, ProgressStyle};
use redkit_formats::rdb::read::{Framed, Item, KeyRecord};
use redkit_formats::string::Str;

use crate::error::Result;
use crate::rdbfile::RdbReader;

/// A key record whose bytes live in a [`Batch`] arena.
#[derive(Debug, Clone)]
pub struct Rec {
    pub db: u64,
    pub rdb_type: u8,
    pub key: Range<usize>,
    pub key_offset: u64,
    /// Where the record's first byte (a prefix opcode or the type) sits in the file.
    pub start: u64,
    pub value: Range<usize>,
    pub value_offset: u64,
    pub expire_ms: Option<i64>,
    pub lru_idle: Option<u64>,
    pub lfu_freq: Option<u8>,
    pub has_meta: bool,
}

/// Key records copied out of the reader's window.
#[derive(Debug, Default)]
pub struct Batch {
    pub arena: Vec<u8>,
    pub recs: Vec<Rec>,
}

impl Batch {
    pub fn key(&self, r: &Rec) -> &[u8] {
        &self.arena[r.key.clone()]
    }

    /// The record as the format crate's reader would hand it out.
    pub fn record<'a>(&'a self, r: &Rec) -> KeyRecord<'a> {
        KeyRecord {
            db: r.db,
            rdb_type: r.rdb_type,
            key: Str::Raw(self.key(r)),
            key_offset: r.key_offset,
            value: &self.arena[r.value.clone()],
            value_offset: r.value_offset,
            expire_ms: r.expire_ms,
            lru_idle: r.lru_idle,
            lfu_freq: r.lfu_freq,
            meta: None,
        }
    }

    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    pub fn clear(&mut self) {
        self.arena.clear();
        self.recs.clear();
    }

    /// Copy a framed key record in; the key is decompressed if it was stored compressed.
    pub fn push(&mut self, k: &KeyRecord<'_>, start: u64, key: &[u8]) {
        let ks = self.arena.len();
        self.arena.extend_from_slice(key);
        let vs = self.arena.len();
        self.arena.extend_from_slice(k.value);
        self.recs.push(Rec {
            db: k.db,
            rdb_type: k.rdb_type,
            key: ks..vs,
            key_offset: k.key_offset,
            start,
            value: vs..self.arena.len(),
            value_offset: k.value_offset,
            expire_ms: k.expire_ms,
            lru_idle: k.lru_idle,
            lfu_freq: k.lfu_freq,
            has_meta: k.meta.is_some(),
        });
    }
}

/// What [`drive`] hands the caller, in file order.
pub enum Event<'a> {
    /// A non-key item (aux field, SELECTDB, function, ...). Pending keys were flushed before it.
    Item(&'a Framed<'a>),
    /// Key records, in file order.
    Batch(&'a Batch),
}

/// Options for [`drive`].
pub struct DriveOpts {
    /// Flush a batch once its arena holds this many bytes.
    pub batch_bytes: usize,
    /// Show a progress bar (only if stderr is a terminal).
    pub progress: bool,
}

impl Default for DriveOpts {
    fn default() -> Self {
        DriveOpts {
            batch_bytes: 8 << 20,
            progress: false,
        }
    }
}

/// Read the whole file. `keep(record, key)` decides which key records are batched; `on` gets
/// batches and non-key items in order.
pub fn drive(
    reader: &mut RdbReader,
    opts: &DriveOpts,
    mut keep: impl FnMut(&KeyRecord<'_>, &[u8]) -> bool,
    mut on: impl FnMut(Event<'_>) -> Result<()>,
) -> Result<()> {
    let bar = progress_bar(opts.progress, reader.total_len);
    let mut batch = Batch::default();
    let mut key_scratch = Vec::new();
    let mut since_tick = 0u32;
    loop {
        let Some(f) = reader.next_item()? else {
            break;
        };
        match &f.item {
            Item::Key(k) => {
                let key: &[u8] = match k.key {
                    Str::Raw(b) => b,
                    s => s.bytes(&mut key_scratch, k.key_offset)?,
                };
                if keep(k, key) {
                    batch.push(k, f.start, key);
                }
            }
            _ => {
                if !batch.recs.is_empty() {
                    on(Event::Batch(&batch))?;
                    batch.clear();
                }
                on(Event::Item(&f))?;
            }
        }
        if batch.bytes() >= opts.batch_bytes || batch.recs.len() >= 65536 {
            on(Event::Batch(&batch))?;
            batch.clear();
        }
        since_tick += 1;
        if since_tick >= 4096 {
            since_tick = 0;
            if let Some(b) = &bar {
                b.set_position(reader.offset());
            }
        }
    }
    if !batch.recs.is_empty() {
        on(Event::Batch(&batch))?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}

fn progress_bar(wanted: bool, total: Option<u64>) -> Option<ProgressBar> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
