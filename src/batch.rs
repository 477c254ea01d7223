//! Framing on one thread, value work on all cores.
//!
//! [`drive`] frames an RDB file a chunk at a time, in place, and hands the caller runs of key
//! records that pass a filter, and every non-key item, in file order. The caller typically
//! decodes a run's values in parallel with rayon while order is kept by index.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::mpsc::sync_channel;

use indicatif::{ProgressBar, ProgressStyle};
use redkit_formats::rdb::read::{Framed, Item, KeyRecord};
use redkit_formats::string::Str;

use crate::error::Result;
use crate::rdbfile::{RdbReader, Segment};

/// A key record framed in place, with its key decoded.
#[derive(Debug, Clone)]
pub struct KeyItem<'a> {
    pub rec: KeyRecord<'a>,
    /// The key's bytes (decompressed when the file stored it compressed).
    pub key: Cow<'a, [u8]>,
    /// Offset of the record's first byte (a prefix opcode or the type).
    pub start: u64,
}

impl KeyItem<'_> {
    /// Serialized size of the whole record.
    pub fn record_len(&self) -> u64 {
        self.rec.value_offset - self.start + self.rec.value.len() as u64
    }
}

/// What [`drive`] hands the caller, in file order.
pub enum Event<'a> {
    /// A non-key item (aux field, SELECTDB, function, ...).
    Item(&'a Framed<'a>),
    /// Consecutive key records that passed the filter.
    Keys(&'a [KeyItem<'a>]),
}

/// Options for [`drive`].
#[derive(Default)]
pub struct DriveOpts {
    /// Show a progress bar (only if stderr is a terminal).
    pub progress: bool,
}

/// Read the whole file. `keep(record, key)` decides which key records are passed on; `on` gets
/// runs of key records and the non-key items in file order.
///
/// Framing runs on its own thread, one segment ahead, so it overlaps the caller's work on the
/// previous segment (and the reader thread's CRC).
pub fn drive(
    reader: &mut RdbReader,
    opts: &DriveOpts,
    mut keep: impl FnMut(&KeyRecord<'_>, &[u8]) -> bool,
    mut on: impl FnMut(Event<'_>) -> Result<()>,
) -> Result<()> {
    let bar = progress_bar(opts.progress, reader.total_len);
    let result = std::thread::scope(|sc| -> Result<()> {
        let (tx, rx) = sync_channel::<Result<Segment>>(2);
        sc.spawn(move || loop {
            match reader.next_segment() {
                Ok(Some(seg)) => {
                    if tx.send(Ok(seg)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        for seg in rx {
            let seg = seg?;
            if let Some(b) = &bar {
                b.set_position(seg.end_offset);
            }
            let mut keys: Vec<KeyItem<'_>> = Vec::with_capacity(seg.items().len());
            for f in seg.items() {
                match &f.item {
                    Item::Key(k) => {
                        let key: Cow<'_, [u8]> = match k.key {
                            Str::Raw(b) => Cow::Borrowed(b),
                            s => Cow::Owned(s.to_vec(k.key_offset)?),
                        };
                        if keep(k, &key) {
                            keys.push(KeyItem {
                                rec: k.clone(),
                                key,
                                start: f.start,
                            });
                        }
                    }
                    _ => {
                        if !keys.is_empty() {
                            on(Event::Keys(&keys))?;
                            keys.clear();
                        }
                        on(Event::Item(f))?;
                    }
                }
            }
            if !keys.is_empty() {
                on(Event::Keys(&keys))?;
            }
        }
        Ok(())
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result
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
