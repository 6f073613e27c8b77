//! Cuts `metadata.managedFields` out of the server's JSON before anything
//! parses it. A real kube-apiserver sends every object with its
//! managedFields, often most of the object's bytes; when no expression or
//! output reads them, skipping them value by value in the JSON parser was
//! the largest cost of each event. Here they are found by a structural scan
//! of the bytes (brackets counted, strings jumped over, nothing built) and
//! left out: of each watch event's `object`, and of each item of a list.
//!
//! Anything that is not what a Kubernetes server sends (not JSON, another
//! shape) passes through unchanged, for the parser to judge as before.

use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tower::Service;

static CUT: AtomicBool = AtomicBool::new(false);

/// The fields of watched objects the run reads besides `apiVersion`,
/// `kind` and `metadata` (`None`: all of them).
static KEPT: RwLock<Option<Arc<Fields>>> = RwLock::new(None);

/// The fields kept of an object, each with what is kept below it (`None`:
/// all of its value); below a key, only an object loses fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fields(pub(crate) Vec<(String, Option<Fields>)>);

impl Fields {
    /// What is kept below `key`; `None` if it is not kept.
    fn get(&self, key: &[u8]) -> Option<Option<&Fields>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_bytes() == key)
            .map(|(_, below)| below.as_ref())
    }
}

/// From now on, leave managedFields out of lists and watch events (`cut`:
/// nothing of this run reads them), or keep them again (a reload started a
/// rule that reads them).
pub(crate) fn cut_from_now_on(cut: bool) {
    CUT.store(cut, Ordering::Relaxed);
}

/// While cutting, leave out of each watch event's object also the fields
/// but these (and `apiVersion`, `kind`, `metadata`), as the parser's
/// projection would skip them; `None` keeps them all.
pub(crate) fn keep_only(fields: Option<Fields>) {
    if let Ok(mut kept) = KEPT.write() {
        *kept = fields.map(Arc::new);
    }
}

pub(crate) fn cutting() -> bool {
    CUT.load(Ordering::Relaxed)
}

/// One watch event (a line of a watch stream) without its object's
/// managedFields; `None` if it has none or is not an event.
#[cfg(test)]
pub(crate) fn from_event(line: &[u8]) -> Option<Vec<u8>> {
    let mut out = BytesMut::new();
    event_without(line, None, &mut out).then(|| out.to_vec())
}

/// A watch event as [`CutBody`] passes it on while `kept` are the fields
/// kept (see [`keep_only`]); `None` if it passes as it came.
#[cfg(test)]
pub(crate) fn from_event_keeping(line: &[u8], kept: &Fields) -> Option<Vec<u8>> {
    let mut out = BytesMut::new();
    event_without(line, Some(kept), &mut out).then(|| out.to_vec())
}

/// Writes to `out` a watch event (a line) without its object's managedFields
/// and, with `kept` (the fields read besides `apiVersion`, `kind` and
/// `metadata`), without what the parser's projection would skip: the
/// object's other fields, at the top and below the kept keys, and, unless
/// `metadata` is read, all of `metadata` but the identity. `false` (and
/// nothing written) if there is nothing to leave out or it is not an event.
fn event_without(line: &[u8], kept: Option<&Fields>, out: &mut BytesMut) -> bool {
    let Some(object) = find(line, 0, b"object") else {
        return false;
    };
    let Some(members) = members(line, object.value, true) else {
        return false;
    };
    // An ERROR event's object is a Status, a BOOKMARK's only a position:
    // only an object's changes lose more than managedFields.
    let change = find(line, 0, b"type").is_some_and(|t| {
        matches!(
            line.get(t.value..skip_string(line, t.value).unwrap_or(t.value)),
            Some(b"\"ADDED\"" | b"\"MODIFIED\"" | b"\"DELETED\"")
        )
    });
    let kept = kept.filter(|_| change);
    let keeps = |key: &[u8]| match kept {
        None => true,
        Some(kept) => {
            matches!(key, b"apiVersion" | b"kind" | b"metadata")
                || escaped(key)
                || kept.get(key).is_some()
        }
    };
    // What is kept below a kept top-level field (`None`: all of it).
    let below = |key: &[u8]| match escaped(key) {
        true => None,
        false => kept.and_then(|kept| kept.get(key).flatten()),
    };
    let whole_metadata = kept.is_none_or(|kept| kept.get(b"metadata").is_some());
    let keeps_in_metadata = |key: &[u8]| match whole_metadata {
        true => key != b"managedFields",
        false => {
            matches!(key, b"name" | b"namespace" | b"uid" | b"resourceVersion") || escaped(key)
        }
    };
    let key = |m: &Spanned| key_of(line, m);
    let metadata = members.metadata.as_deref();
    let cut_in_metadata =
        metadata.is_some_and(|(_, meta)| meta.list.iter().any(|m| !keeps_in_metadata(key(m))));
    let mut cut = cut_in_metadata || !members.list.iter().all(|m| keeps(key(m)));
    if !cut && members.list.iter().all(|m| below(key(m)).is_none()) {
        return false;
    }
    out.clear();
    out.extend_from_slice(&line[..members.body]);
    let mut first = true;
    for (i, m) in members.list.iter().enumerate() {
        if !keeps(key(m)) {
            continue;
        }
        if !first {
            out.extend_from_slice(b",");
        }
        first = false;
        match metadata {
            Some((at, meta)) if *at == i && cut_in_metadata => {
                out.extend_from_slice(&line[m.key..meta.body]);
                let mut first = true;
                for inner in meta
                    .list
                    .iter()
                    .filter(|inner| keeps_in_metadata(key(inner)))
                {
                    if !first {
                        out.extend_from_slice(b",");
                    }
                    first = false;
                    out.extend_from_slice(&line[inner.key..inner.end]);
                }
                out.extend_from_slice(&line[meta.close..m.end]);
            }
            _ => cut |= write_member(line, m, below(key(m)), out),
        }
    }
    out.extend_from_slice(&line[members.close..]);
    cut
}

/// A member's key, without its quotes (escapes as written).
fn key_of<'a>(line: &'a [u8], m: &Spanned) -> &'a [u8] {
    &line[m.key + 1..m.key_end - 1]
}

/// A key written with escapes is kept whole: the parser judges it.
fn escaped(key: &[u8]) -> bool {
    key.contains(&b'\\')
}

/// Writes to `out` the member `m`, whole, or with only `below` kept of its
/// value; whether anything was left out.
fn write_member(line: &[u8], m: &Spanned, below: Option<&Fields>, out: &mut BytesMut) -> bool {
    let Some(fields) = below else {
        out.extend_from_slice(&line[m.key..m.end]);
        return false;
    };
    let value = ws(line, ws(line, m.key_end) + 1);
    out.extend_from_slice(&line[m.key..value]);
    write_below(line, value..m.end, fields, out)
}

/// Writes to `out` the value at `value` with only the `fields` kept if it
/// is an object (a key written with escapes is kept: the parser judges it),
/// else whole; whether anything was left out.
fn write_below(line: &[u8], value: Range<usize>, fields: &Fields, out: &mut BytesMut) -> bool {
    let Some(members) = members(line, value.start, false) else {
        out.extend_from_slice(&line[value]);
        return false;
    };
    out.extend_from_slice(&line[value.start..members.body]);
    let mut cut = false;
    let mut first = true;
    for m in &members.list {
        let key = key_of(line, m);
        let below = match escaped(key) {
            true => Some(None),
            false => fields.get(key),
        };
        let Some(below) = below else {
            cut = true;
            continue;
        };
        if !first {
            out.extend_from_slice(b",");
        }
        first = false;
        cut |= write_member(line, m, below, out);
    }
    out.extend_from_slice(&line[members.close..value.end]);
    cut
}

/// The members of the object whose text starts at `at` (after any
/// whitespace): where its first member may start, each member, where its
/// closing brace stands, and (when asked for) the members of `metadata`.
struct Members {
    body: usize,
    list: Vec<Spanned>,
    close: usize,
    /// Which member is `metadata`, and its members.
    metadata: Option<Box<(usize, Members)>>,
}

/// A member of an object: where its key starts and ends, and where its
/// value ends.
struct Spanned {
    key: usize,
    key_end: usize,
    end: usize,
}

/// Each value is skipped unparsed, but `metadata`'s (with `metadata`), whose
/// members are found on the way: the object is read once.
fn members(bytes: &[u8], at: usize, metadata: bool) -> Option<Members> {
    let at = ws(bytes, at);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut found = Members {
        body: at + 1,
        // Room for a Kubernetes object's metadata: no growing on the way.
        list: Vec::with_capacity(16),
        close: 0,
        metadata: None,
    };
    let mut at = ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        found.close = at;
        return Some(found);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(bytes, at)?;
        let colon = ws(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value = ws(bytes, colon + 1);
        let inner = match metadata && &bytes[at + 1..key_end - 1] == b"metadata" {
            true => members(bytes, value, false),
            false => None,
        };
        let end = match &inner {
            Some(inner) => inner.close + 1,
            None => skip_value(bytes, value)?,
        };
        if let Some(inner) = inner {
            found.metadata = Some(Box::new((found.list.len(), inner)));
        }
        found.list.push(Spanned {
            key: at,
            key_end,
            end,
        });
        at = ws(bytes, end);
        match bytes.get(at)? {
            b',' => at = ws(bytes, at + 1),
            b'}' => {
                found.close = at;
                return Some(found);
            }
            _ => return None,
        }
    }
}

/// A list (`{"items": [...]}`) without each item's managedFields; `None`
/// if there was nothing to leave out.
pub(crate) fn from_list(body: &[u8]) -> Option<Vec<u8>> {
    let mut at = ws(body, find(body, 0, b"items")?.value);
    if body.get(at) != Some(&b'[') {
        return None;
    }
    let mut cuts = Vec::new();
    at = ws(body, at + 1);
    while body.get(at) != Some(&b']') {
        let managed = find(body, at, b"metadata")
            .and_then(|metadata| find(body, metadata.value, b"managedFields"))
            .and_then(|managed| managed.cut(body));
        at = match managed {
            Some((cut, value_end)) => {
                cuts.push(cut);
                // On from the cut: the rest of metadata, then of the item.
                close(body, value_end, b'{', 2)?
            }
            None => skip_value(body, at)?,
        };
        at = ws(body, at);
        match body.get(at) {
            Some(b',') => at = ws(body, at + 1),
            Some(b']') => {}
            _ => return None,
        }
    }
    (!cuts.is_empty()).then(|| without(body, &cuts))
}

/// `bytes` without the given ranges (in order, not overlapping).
fn without(bytes: &[u8], cuts: &[Range<usize>]) -> Vec<u8> {
    let cut: usize = cuts.iter().map(|c| c.len()).sum();
    let mut out = Vec::with_capacity(bytes.len() - cut);
    let mut from = 0;
    for c in cuts {
        out.extend_from_slice(&bytes[from..c.start]);
        from = c.end;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// A member of an object, found by its key; its value is not scanned yet.
struct Member {
    key: usize,
    value: usize,
    /// Where the member before it ended, if it is not the first.
    previous_end: Option<usize>,
}

impl Member {
    /// What to remove to leave the member out with the object still valid
    /// JSON (the comma before it, or if it is the first the one after),
    /// and where its value ends.
    fn cut(&self, bytes: &[u8]) -> Option<(Range<usize>, usize)> {
        let value_end = skip_value(bytes, self.value)?;
        let after = ws(bytes, value_end);
        let cut = match (self.previous_end, bytes.get(after)?) {
            (Some(end), b',' | b'}') => end..value_end,
            (None, b'}') => self.key..value_end,
            (None, b',') => self.key..ws(bytes, after + 1),
            _ => return None,
        };
        Some((cut, value_end))
    }
}

/// The member `key` of the object whose text starts at `at` (after any
/// whitespace), scanning no further than its value's start. Keys are
/// compared as written: an escaped spelling of the key is not found, and
/// the object is then parsed as it came.
fn find(bytes: &[u8], at: usize, key: &[u8]) -> Option<Member> {
    let mut at = ws(bytes, at);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut previous_end = None;
    at = ws(bytes, at + 1);
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_start = at;
        let key_end = skip_string(bytes, at)?;
        at = ws(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let value = ws(bytes, at + 1);
        if &bytes[key_start + 1..key_end - 1] == key {
            return Some(Member {
                key: key_start,
                value,
                previous_end,
            });
        }
        let value_end = skip_value(bytes, value)?;
        at = ws(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at = ws(bytes, at + 1),
            _ => return None,
        }
        previous_end = Some(value_end);
    }
}

fn ws(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The end (one past the closing quote) of the string opening at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    string_end(bytes, at + 1)
}

/// One past the quote that closes a string whose text starts at `at`.
/// Eight bytes at a time: most strings of an object are short (keys,
/// names, managedFields' `f:` entries), too short for memchr to pay.
#[inline(always)]
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `word` that equals `b` (exact up to the
    // first such byte, which is all that is read of it).
    let equal = |word: u64, b: u8| {
        let x = word ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    loop {
        while let Some(eight) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(eight.try_into().ok()?);
            let found = equal(word, b'"') | equal(word, b'\\');
            if found != 0 {
                at += found.trailing_zeros() as usize / 8;
                break;
            }
            at += 8;
        }
        match bytes.get(at)? {
            b'"' => return Some(at + 1),
            // A backslash and the character it escapes (the digits of a \u
            // escape are plain characters).
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

/// The end of the JSON value starting at `at`. Scalars end at the next
/// delimiter; objects and arrays at their closing bracket.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        open @ (b'{' | b'[') => close(bytes, at + 1, *open, 1),
        _ => {
            let rest = &bytes[at..];
            let end = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .unwrap_or(rest.len());
            (end > 0).then_some(at + end)
        }
    }
}

/// Where the value of `depth` open objects (`open` is `{`) or arrays (`[`)
/// ends: one past the closing bracket that closes the outermost. Strings
/// are jumped over whole. Only brackets of the value's own kind are
/// counted: in JSON that is valid, the other kind's pairs nest inside and
/// do not move the count. A value cut out is never parsed, so what is not
/// JSON inside it is not judged here (as a bad literal is not); a value
/// that never closes is `None`.
///
/// 64 bytes at a time (`Blocks`): which bytes are quotes, backslashes and
/// the kind's brackets is found for the whole block at once, which are
/// inside strings by arithmetic on those bit masks, and a block with fewer
/// closing brackets than are open is passed whole (managedFields, an array
/// of objects, holds no array: its whole length is one count). The last
/// bytes (fewer than 64) go one at a time. With AVX2 (found at run time) a
/// block is classified in two 32-byte halves, not four of 16.
fn close(bytes: &[u8], at: usize, open: u8, depth: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the processor has AVX2 and POPCNT (just checked).
        return unsafe { close_avx2(bytes, at, open, depth) };
    }
    close_with(bytes, at, open, depth, classes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn close_avx2(bytes: &[u8], at: usize, open: u8, depth: usize) -> Option<usize> {
    close_with(bytes, at, open, depth, |block, brackets| {
        classes_avx2(block, brackets)
    })
}

/// [`close`] with the given way of classifying a block's bytes.
#[inline(always)]
fn close_with(
    bytes: &[u8],
    at: usize,
    open: u8,
    mut depth: usize,
    classes: impl Fn(&[u8], [u8; 2]) -> [u64; 4],
) -> Option<usize> {
    // `]` and `}` are `[` and `{` plus two.
    let brackets = [open, open + 2];
    let mut blocks = Blocks::default();
    let mut at = at;
    while let Some(block) = bytes.get(at..at + 64) {
        let [quotes, backslashes, opens, shuts] = classes(block, brackets);
        let outside = blocks.outside(quotes, backslashes);
        let (opens, shuts) = (opens & outside, shuts & outside);
        let closing = shuts.count_ones() as usize;
        if closing < depth {
            depth = depth + opens.count_ones() as usize - closing;
            at += 64;
            continue;
        }
        let mut each = opens | shuts;
        while each != 0 {
            let bit = each & each.wrapping_neg();
            each ^= bit;
            if opens & bit != 0 {
                depth += 1;
                continue;
            }
            depth -= 1;
            if depth == 0 {
                return Some(at + bit.trailing_zeros() as usize + 1);
            }
        }
        at += 64;
    }
    // The rest one byte at a time, from inside a string if a block ended there.
    if blocks.in_string != 0 {
        at = string_end(bytes, at + usize::from(blocks.escaped != 0))?;
    }
    while let Some(&b) = bytes.get(at) {
        at += 1;
        if b == b'"' {
            at = string_end(bytes, at)?;
        } else if b == brackets[0] {
            depth += 1;
        } else if b == brackets[1] {
            depth -= 1;
            if depth == 0 {
                return Some(at);
            }
        }
    }
    None
}

/// What carries over from one 64-byte block to the next: whether the
/// block ended inside a string (all ones) and whether its last backslash
/// escapes the next block's first byte (1).
#[derive(Default)]
struct Blocks {
    in_string: u64,
    escaped: u64,
}

impl Blocks {
    /// The bytes of a block (64 bytes; its quotes and backslashes as
    /// `classes` finds them) outside strings, a bit a byte. (Written out
    /// without loops: the release build, optimised for size, would keep
    /// them.)
    #[inline(always)]
    fn outside(&mut self, quotes: u64, backslashes: u64) -> u64 {
        let quotes = match backslashes | self.escaped {
            0 => quotes,
            _ => quotes & !self.escapes(backslashes),
        };
        // Each bit the parity of the quotes up to it: 1 from an opening
        // quote up to its closing one (exclusive).
        let mut inside = quotes ^ (quotes << 1);
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside ^= inside << 8;
        inside ^= inside << 16;
        inside ^= inside << 32;
        inside ^= self.in_string;
        self.in_string = ((inside as i64) >> 63) as u64;
        !inside
    }

    /// The bytes escaped by a backslash (the second of each pair, counting
    /// runs of backslashes from their start), as simdjson finds them.
    #[inline(always)]
    fn escapes(&mut self, backslashes: u64) -> u64 {
        const EVEN: u64 = 0x5555_5555_5555_5555;
        let backslashes = backslashes & !self.escaped;
        let follows = backslashes << 1 | self.escaped;
        let odd_starts = backslashes & !EVEN & !follows;
        let (even_runs, overflow) = odd_starts.overflowing_add(backslashes);
        self.escaped = u64::from(overflow);
        (EVEN ^ (even_runs << 1)) & follows
    }
}

/// Of 64 bytes: which are quotes, backslashes, and each of the two
/// `brackets` (opening, closing), a bit a byte, the first byte lowest.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classes(block: &[u8], brackets: [u8; 2]) -> [u64; 4] {
    // SAFETY: SSE2 is part of every x86_64 processor (the target's baseline).
    unsafe { classes_sse2(block, brackets) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn classes_sse2(block: &[u8], [open, shut]: [u8; 2]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    assert!(block.len() >= 64);
    // SAFETY: 16 bytes from `at` are in the block (its 64 checked above);
    // an unaligned load reads them as they are.
    let load = |at: usize| unsafe { _mm_loadu_si128(block.as_ptr().add(at).cast::<__m128i>()) };
    let (quote, backslash) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8));
    let (open, shut) = (_mm_set1_epi8(open as i8), _mm_set1_epi8(shut as i8));
    let masks = |v: __m128i| {
        let bits = |w| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, w)) as u16);
        (bits(quote), bits(backslash), bits(open), bits(shut))
    };
    let (q0, b0, o0, s0) = masks(load(0));
    let (q1, b1, o1, s1) = masks(load(16));
    let (q2, b2, o2, s2) = masks(load(32));
    let (q3, b3, o3, s3) = masks(load(48));
    [
        q0 | q1 << 16 | q2 << 32 | q3 << 48,
        b0 | b1 << 16 | b2 << 32 | b3 << 48,
        o0 | o1 << 16 | o2 << 32 | o3 << 48,
        s0 | s1 << 16 | s2 << 32 | s3 << 48,
    ]
}

/// As [`classes`], 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classes_avx2(block: &[u8], [open, shut]: [u8; 2]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    assert!(block.len() >= 64);
    // SAFETY: 32 bytes from `at` are in the block (its 64 checked above);
    // an unaligned load reads them as they are.
    let load = |at: usize| unsafe { _mm256_loadu_si256(block.as_ptr().add(at).cast::<__m256i>()) };
    let (quote, backslash) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b'\\' as i8));
    let (open, shut) = (_mm256_set1_epi8(open as i8), _mm256_set1_epi8(shut as i8));
    let masks = |v: __m256i| {
        let bits = |w| u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, w)) as u32);
        (bits(quote), bits(backslash), bits(open), bits(shut))
    };
    let (q0, b0, o0, s0) = masks(load(0));
    let (q1, b1, o1, s1) = masks(load(32));
    [q0 | q1 << 32, b0 | b1 << 32, o0 | o1 << 32, s0 | s1 << 32]
}

/// Of 64 bytes: which are quotes, backslashes, and each of the two
/// `brackets` (opening, closing), a bit a byte, the first byte lowest.
#[cfg(not(target_arch = "x86_64"))]
fn classes(block: &[u8], [open, shut]: [u8; 2]) -> [u64; 4] {
    let mut masks = [0u64; 4];
    for (i, &b) in block.iter().enumerate() {
        let class = match b {
            b'"' => 0,
            b'\\' => 1,
            _ if b == open => 2,
            _ if b == shut => 3,
            _ => continue,
        };
        masks[class] |= 1 << i;
    }
    masks
}

/// The client's service with the responses of lists and watches cut as
/// above while `cut_from_now_on` is in force.
#[derive(Clone)]
pub(crate) struct Cut<S>(pub(crate) S);

impl<S, R, B> Service<http::Request<R>> for Cut<S>
where
    S: Service<http::Request<R>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<CutBody<B>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<R>) -> Self::Future {
        let shape = if !cutting() || request.method() != http::Method::GET {
            Shape::Untouched
        } else if is_watch(request.uri()) {
            Shape::Lines
        } else {
            Shape::List
        };
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await?;
            // Only a success, not compressed, is cut: anything else passes as it came.
            let plain = response
                .headers()
                .get(http::header::CONTENT_ENCODING)
                .is_none_or(|e| e.as_bytes().eq_ignore_ascii_case(b"identity"));
            let shape = if response.status().is_success() && plain {
                shape
            } else {
                Shape::Untouched
            };
            Ok(response.map(|body| CutBody {
                inner: body,
                shape,
                pending: BytesMut::new(),
                out: BytesMut::new(),
                ended: false,
            }))
        })
    }
}

/// Whether `data` is one line ending with its newline.
fn one_line(data: &[u8]) -> bool {
    data.split_last()
        .is_some_and(|(last, rest)| *last == b'\n' && memchr::memchr(b'\n', rest).is_none())
}

fn is_watch(uri: &http::Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Untouched,
    /// A watch: one event a line, each passed on once whole.
    Lines,
    /// A list: passed on once it has all arrived.
    List,
}

/// A response body with managedFields cut out of what it carries.
pub(crate) struct CutBody<B> {
    inner: B,
    shape: Shape,
    /// Bytes read but not yet passed on: the start of a line, or a list so far.
    pending: BytesMut,
    /// Where cut lines are written.
    out: BytesMut,
    ended: bool,
}

impl<B> CutBody<B> {
    /// A watch event's line without what is left out of it, written to the
    /// body's own buffer (its allocation taken back once the lines before
    /// have been read), or the line as it came.
    fn cut_line(&mut self, line: Bytes) -> Bytes {
        let kept = KEPT.read().ok().and_then(|k| k.clone());
        self.out.reserve(line.len());
        match event_without(&line, kept.as_deref(), &mut self.out) {
            true => self.out.split().freeze(),
            false => line,
        }
    }
}

impl<B> Body for CutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if this.shape == Shape::Untouched {
            return Pin::new(&mut this.inner).poll_frame(cx);
        }
        loop {
            if this.shape == Shape::Lines
                && let Some(newline) = memchr::memchr(b'\n', &this.pending)
            {
                let line = this.pending.split_to(newline + 1).freeze();
                let data = this.cut_line(line);
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if this.ended {
                if this.pending.is_empty() {
                    return Poll::Ready(None);
                }
                let rest = this.pending.split();
                let data = match this.shape {
                    Shape::List => from_list(&rest).map_or_else(|| rest.freeze(), Bytes::from),
                    _ => rest.freeze(),
                };
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => this.ended = true,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    // The usual frame of a watch: one whole event.
                    Ok(data)
                        if this.shape == Shape::Lines
                            && this.pending.is_empty()
                            && one_line(&data) =>
                    {
                        let data = this.cut_line(data);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(data) => this.pending.extend_from_slice(&data),
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.shape {
            Shape::Untouched => self.inner.is_end_stream(),
            _ => self.ended && self.pending.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.shape {
            Shape::Untouched => self.inner.size_hint(),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn managed() -> Value {
        json!([{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                             "f:spec": {"f:i": {}}}}])
    }

    /// What a parser reads of the cut text: the same as of the original
    /// with managedFields removed from the object's metadata.
    fn assert_cut_event(event: Value) {
        let line = serde_json::to_vec(&event).unwrap();
        let cut = from_event(&line).expect("managedFields found");
        let mut expected = event.clone();
        expected["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let got: Value = serde_json::from_slice(&cut).unwrap();
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(&cut));
    }

    #[test]
    fn managed_fields_leave_an_event_wherever_they_stand() {
        for (before, after) in [
            (json!({}), json!({})),
            (json!({"name": "a"}), json!({})),
            (json!({}), json!({"name": "a", "uid": "u"})),
            (
                json!({"name": "a", "labels": {"x": "y"}}),
                json!({"uid": "u"}),
            ),
        ] {
            // serde_json's Map is sorted: place the member by its key.
            let mut metadata = serde_json::Map::new();
            for (k, v) in before.as_object().unwrap() {
                metadata.insert(format!("a{k}"), v.clone());
            }
            metadata.insert("managedFields".into(), managed());
            for (k, v) in after.as_object().unwrap() {
                metadata.insert(format!("z{k}"), v.clone());
            }
            assert_cut_event(json!({"type": "MODIFIED", "object": {
                "apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": metadata, "spec": {"i": 1}}}));
        }
    }

    #[test]
    fn the_key_written_inside_strings_or_deeper_objects_is_left_alone() {
        let event = json!({"type": "ADDED", "object": {
            "kind": "Widget",
            "metadata": {
                "annotations": {"note": "\"managedFields\":[{}] } ] \\ \\\" {", "b\\": "\\"},
                "managedFields": managed(),
                "name": "a\"b",
            },
            "spec": {"template": {"metadata": {"managedFields": [1, 2]}}},
        }});
        assert_cut_event(event.clone());
        // Written by hand with whitespace, as another server might.
        let spaced = b"{ \"type\" : \"ADDED\" , \"object\" : { \"metadata\" : { \"managedFields\" : [ 1 , { \"a\" : \"]\" } ] , \"name\" : \"x\" } } }\n";
        let cut = from_event(spaced).unwrap();
        let got: Value = serde_json::from_slice(&cut).unwrap();
        assert_eq!(
            got,
            json!({"type": "ADDED", "object": {"metadata": {"name": "x"}}})
        );
    }

    #[test]
    fn anything_else_passes_unchanged() {
        for text in [
            &b""[..],
            b"not json",
            b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}",
            b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}",
            b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"managedFields\":[1,2}}",
            b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"managedFields\":[1,2},\"name\":\"x\"}}}",
            b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"managedFields\":\"unterminated",
            b"[1,2,3]",
        ] {
            assert_eq!(from_event(text), None, "{}", String::from_utf8_lossy(text));
            assert_eq!(from_list(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn a_list_loses_each_items_managed_fields_and_nothing_else() {
        let item = |name: &str, with: bool| {
            let mut metadata = json!({"name": name, "resourceVersion": "7"});
            if with {
                metadata["managedFields"] = managed();
            }
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata,
                   "spec": {"i": 1}})
        };
        let list = json!({"apiVersion": "example.com/v1", "kind": "WidgetList",
            "metadata": {"resourceVersion": "9", "continue": ""},
            "items": [item("a", true), item("b", false), item("c", true)]});
        let cut = from_list(&serde_json::to_vec(&list).unwrap()).unwrap();
        let got: Value = serde_json::from_slice(&cut).unwrap();
        let mut expected = list;
        for item in expected["items"].as_array_mut().unwrap() {
            item["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
        }
        assert_eq!(got, expected);
        let empty = serde_json::to_vec(&json!({"kind": "WidgetList", "items": []})).unwrap();
        assert_eq!(from_list(&empty), None);
    }

    /// Objects of every shape, with strings full of JSON's special
    /// characters: the cut text always parses to the original minus the
    /// object's managedFields.
    #[test]
    fn generated_objects_parse_the_same_but_for_managed_fields() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        fn value(next: &mut dyn FnMut(u64) -> u64, depth: u32) -> Value {
            const TEXT: [&str; 6] = ["", "x", "\"", "\\", "{[}]", "\"managedFields\":"];
            match if depth > 3 { next(4) } else { next(7) } {
                0 => Value::Null,
                1 => json!(next(1000) as i64 - 500),
                2 => json!(next(2) == 1),
                3 => json!(TEXT[next(6) as usize]),
                4 => json!(1.5),
                5 => (0..next(4)).map(|_| value(next, depth + 1)).collect(),
                _ => {
                    let mut map = serde_json::Map::new();
                    for _ in 0..next(4) {
                        let key = ["managedFields", "metadata", "a\"", "b"][next(4) as usize];
                        map.insert(key.into(), value(next, depth + 1));
                    }
                    Value::Object(map)
                }
            }
        }
        for _ in 0..500 {
            let mut metadata = match value(&mut next, 1) {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            metadata.insert("managedFields".into(), value(&mut next, 1));
            let event = json!({"type": "MODIFIED", "object": {
                "metadata": metadata, "spec": value(&mut next, 1)}});
            assert_cut_event(event);
        }
    }

    /// An event with only `kept` of its object's top-level fields (and
    /// apiVersion, kind, metadata), as the parser reads it.
    fn cut_keeping(event: &Value, kept: &[&str]) -> Option<Value> {
        let line = serde_json::to_vec(event).unwrap();
        let kept = Fields(kept.iter().map(|k| (k.to_string(), None)).collect());
        let mut out = BytesMut::new();
        event_without(&line, Some(&kept), &mut out)
            .then(|| serde_json::from_slice(&out).expect("valid JSON"))
    }

    /// Below a kept key only the keys kept below it stay, at any depth; a
    /// value that is no object, and a key written with escapes, stay whole.
    #[test]
    fn a_change_loses_what_lies_below_the_kept_keys_but_what_is_read() {
        let kept = |keys: &[(&str, Option<Fields>)]| {
            Fields(
                keys.iter()
                    .map(|(k, b)| (k.to_string(), b.clone()))
                    .collect(),
            )
        };
        let read = kept(&[
            (
                "spec",
                Some(kept(&[("i", None), ("t", Some(kept(&[("b", None)])))])),
            ),
            (
                "status",
                Some(kept(&[("ready", Some(kept(&[("x", None)])))])),
            ),
        ]);
        let line = br#"{"type":"MODIFIED","object":{"kind":"W","metadata":{"name":"a","uid":"u"},"spec":{"x":[1,{"i":2}],"i":{"deep":[1]},"t":{"a":1,"b":{"c":"}"}},"e\u0073c":3,"z":"{"},"status":{"ready":true,"more":{}}}}"#;
        let cut = from_event_keeping(line, &read).expect("something left out");
        assert_eq!(
            std::str::from_utf8(&cut).unwrap(),
            r#"{"type":"MODIFIED","object":{"kind":"W","metadata":{"name":"a","uid":"u"},"spec":{"i":{"deep":[1]},"t":{"b":{"c":"}"}},"e\u0073c":3},"status":{"ready":true}}}"#
        );
        // Nothing below the kept keys to leave out: the line passes as it came.
        let plain = br#"{"type":"MODIFIED","object":{"kind":"W","metadata":{"name":"a"},"spec":{"i":1,"t":[]}}}"#;
        assert_eq!(from_event_keeping(plain, &read), None);
    }

    #[test]
    fn a_change_loses_the_top_level_fields_nothing_reads_and_other_events_do_not() {
        let object = json!({"apiVersion": "v1", "kind": "Widget",
            "metadata": {"name": "a", "managedFields": managed(), "uid": "u", "labels": {"l": "}"}},
            "spec": {"i": 1, "x": [1, {"y": "}"}]}, "status": {"ready": true},
            "a\"b": 1, "zz": "\\"});
        for kind in ["ADDED", "MODIFIED", "DELETED"] {
            let event = json!({"type": kind, "object": object});
            let mut expected = event.clone();
            let o = expected["object"].as_object_mut().unwrap();
            o["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            for gone in ["status", "zz"] {
                o.remove(gone);
            }
            // An expression reading metadata: all of it but managedFields.
            let keeping_metadata = cut_keeping(&event, &["spec", "metadata"]);
            assert_eq!(keeping_metadata, Some(expected.clone()));
            // Else only its identity. A key written with an escape is kept:
            // the parser judges it.
            let o = expected["object"].as_object_mut().unwrap();
            o["metadata"].as_object_mut().unwrap().remove("labels");
            assert_eq!(cut_keeping(&event, &["spec"]), Some(expected.clone()));
            // Not one member kept but the identity's.
            let o = expected["object"].as_object_mut().unwrap();
            o.remove("spec");
            assert_eq!(cut_keeping(&event, &[]), Some(expected));
        }
        // A Status (ERROR) and a BOOKMARK lose only managedFields, if any.
        let status = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "message": "too old", "reason": "Expired", "code": 410}});
        assert_eq!(cut_keeping(&status, &["spec"]), None);
        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Widget", "apiVersion": "v1",
            "metadata": {"resourceVersion": "12", "annotations": {"k8s.io/initial-events-end": "true"}},
            "spec": null}});
        assert_eq!(cut_keeping(&bookmark, &[]), None);
        // Nothing to leave out: the line passes as it came.
        let plain = json!({"type": "MODIFIED", "object": {"kind": "W", "metadata": {"name": "a"}, "spec": 1}});
        assert_eq!(cut_keeping(&plain, &["spec"]), None);
    }

    /// The value's end byte by byte, counting its own kind of bracket:
    /// the reference for the tests below.
    fn end_bytewise(bytes: &[u8], at: usize) -> Option<usize> {
        let open = *bytes.get(at)?;
        let shut = open + 2;
        let mut depth = 1;
        let mut at = at + 1;
        while let Some(&b) = bytes.get(at) {
            at += 1;
            if b == b'"' {
                at = string_end(bytes, at)?;
            } else if b == open {
                depth += 1;
            } else if b == shut {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
        }
        None
    }

    #[test]
    fn a_value_ends_where_it_does_whatever_falls_on_the_edge_of_a_block() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // Runs of backslashes and quotes, and brackets, inside strings.
        const PIECES: [&str; 8] = ["\\", "\"", "\\\\", "\\\"", "{", "]", "x", "\\\\\\"];
        fn value(next: &mut dyn FnMut(u64) -> u64, depth: u32) -> Value {
            match if depth > 4 { 0 } else { next(4) } {
                0 | 1 => {
                    let text: String = (0..next(24)).map(|_| PIECES[next(8) as usize]).collect();
                    json!(text)
                }
                2 => (0..next(6)).map(|_| value(next, depth + 1)).collect(),
                _ => (0..next(6))
                    .map(|k| {
                        (
                            format!("k{k}{}", PIECES[next(8) as usize]),
                            value(next, depth + 1),
                        )
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            }
        }
        let mut long = 0;
        for _ in 0..3000 {
            let inner = value(&mut next, 1);
            let pad = next(70) as usize;
            let text = format!("{}[{inner},{{\"a\":[]}}] ,", " ".repeat(pad));
            let bytes = text.as_bytes();
            long += usize::from(text.len() > 200);
            assert_eq!(skip_value(bytes, pad), Some(text.len() - 2), "{text}");
            // A bracket of the other kind anywhere: both scans agree.
            let mut broken = bytes.to_vec();
            let at = pad + next((text.len() - pad) as u64) as usize;
            broken[at] = match broken[at] {
                b'{' => b'[',
                b'[' => b'{',
                b'}' => b']',
                b']' => b'}',
                other => other,
            };
            assert_eq!(
                skip_value(&broken, pad),
                end_bytewise(&broken, pad),
                "{}",
                String::from_utf8_lossy(&broken)
            );
            // Cut short: no end.
            assert_eq!(skip_value(&bytes[..text.len() - 3], pad), None);
        }
        assert!(long > 500, "{long} values span several blocks");
    }

    /// managedFields' shape: objects in objects, most of them empty (`{}`),
    /// few arrays, keys that hold brackets and quotes. Ends, wrong kinds
    /// and cut-short values as the byte-by-byte scan finds them.
    #[test]
    fn a_value_ends_where_it_does_in_fields_of_empty_objects() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        fn value(next: &mut dyn FnMut(u64) -> u64, depth: u32) -> Value {
            match if depth > 9 { 0 } else { next(10) } {
                0..=3 => json!({}),
                4 => json!([]),
                5 => (0..next(3)).map(|_| value(next, depth + 1)).collect(),
                _ => (0..next(7))
                    .map(|k| {
                        let key = match next(3) {
                            0 => format!("k:{{\"port\":{k},\"x\":[{{}}]}}"),
                            _ => format!("f:field{k}"),
                        };
                        (key, value(next, depth + 1))
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            }
        }
        let mut long = 0;
        for _ in 0..3000 {
            let inner = value(&mut next, 1);
            let pad = next(70) as usize;
            // Objects only to the outermost, or an array on the way.
            let text = match next(2) {
                0 => format!("{}{{\"a\":{inner},\"b\":{{}}}} ,", " ".repeat(pad)),
                _ => format!("{}{{\"a\":[{inner},{{\"b\":{{}}}}]}} ,", " ".repeat(pad)),
            };
            let bytes = text.as_bytes();
            long += usize::from(text.len() > 300);
            assert_eq!(skip_value(bytes, pad), Some(text.len() - 2), "{text}");
            let mut broken = bytes.to_vec();
            let at = pad + next((text.len() - pad) as u64) as usize;
            broken[at] = match broken[at] {
                b'{' => b'[',
                b'[' => b'{',
                b'}' => b']',
                b']' => b'}',
                other => other,
            };
            assert_eq!(
                skip_value(&broken, pad),
                end_bytewise(&broken, pad),
                "{}",
                String::from_utf8_lossy(&broken)
            );
            assert_eq!(skip_value(&bytes[..text.len() - 3], pad), None);
        }
        assert!(long > 500, "{long} values span several blocks");
    }

    /// Both ways of classifying a block find the same bytes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_classifies_a_block_as_sse2_does() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const BYTES: &[u8] = b"\"\\{}[]azAZ;:[\x7b\x7d\x5b\x5d\xfb\xdb\x00\xff";
        for _ in 0..20_000 {
            let block: Vec<u8> = (0..64)
                .map(|_| match next() % 3 {
                    0 => (next() % 256) as u8,
                    _ => BYTES[(next() % BYTES.len() as u64) as usize],
                })
                .collect();
            for brackets in [*b"{}", *b"[]"] {
                // SAFETY: AVX2 is there (checked above).
                let avx2 = unsafe { classes_avx2(&block, brackets) };
                assert_eq!(avx2, classes(&block, brackets), "{block:?}");
            }
        }
    }

    /// However deep the nesting, a value ends at its closing bracket,
    /// wherever it falls in a block; cut short, it has no end.
    #[test]
    fn deep_nesting_ends_where_it_does() {
        for pad in 0..64 {
            for (open, shut) in [("{\"k\":", "}"), ("[", "]")] {
                for depth in [63, 64, 65, 300] {
                    let deep = format!(
                        "{}{}{{}}{} ,",
                        " ".repeat(pad),
                        open.repeat(depth),
                        shut.repeat(depth)
                    );
                    let end = deep.len() - 2;
                    assert_eq!(skip_value(deep.as_bytes(), pad), Some(end), "{deep}");
                    assert_eq!(skip_value(&deep.as_bytes()[..end - 1], pad), None);
                }
            }
        }
    }

    /// What a real kube-apiserver 1.32 sent (the captures kept beside the
    /// test server): every list and watch event parses, once cut, to what
    /// it was but for each object's managedFields, and each that had them
    /// is cut.
    #[test]
    fn real_server_lists_and_events_lose_managed_fields_and_nothing_else() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testserver/tests/k8s-reference");
        let without_managed = |mut object: Value| {
            if let Some(metadata) = object["metadata"].as_object_mut() {
                metadata.remove("managedFields");
            }
            object
        };
        let (mut lists, mut events) = (0, 0);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            let name = path.display();
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => {
                    let Ok(original) = serde_json::from_slice::<Value>(&text) else {
                        continue;
                    };
                    let Some(items) = original["items"].as_array() else {
                        assert_eq!(from_list(&text), None, "{name}");
                        continue;
                    };
                    let had = items
                        .iter()
                        .any(|i| i["metadata"].get("managedFields").is_some());
                    let Some(cut) = from_list(&text) else {
                        assert!(!had, "{name}: managedFields left in");
                        continue;
                    };
                    let mut expected = original.clone();
                    for item in expected["items"].as_array_mut().unwrap() {
                        *item = without_managed(item.take());
                    }
                    let got: Value = serde_json::from_slice(&cut).unwrap();
                    assert_eq!(got, expected, "{name}");
                    lists += 1;
                }
                Some("jsonl") => {
                    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        let original: Value = serde_json::from_slice(line).unwrap();
                        let had = original["object"]["metadata"]
                            .get("managedFields")
                            .is_some();
                        let Some(cut) = from_event(line) else {
                            assert!(!had, "{name}: managedFields left in");
                            continue;
                        };
                        let mut expected = original.clone();
                        expected["object"] = without_managed(expected["object"].take());
                        let got: Value = serde_json::from_slice(&cut).unwrap();
                        assert_eq!(got, expected, "{name}");
                        events += 1;
                    }
                }
                _ => {}
            }
        }
        assert!(
            lists >= 3 && events >= 3,
            "{lists} lists and {events} events cut"
        );
    }

    #[tokio::test]
    async fn a_watch_body_passes_whole_lines_however_the_bytes_arrive() {
        use http_body_util::{BodyExt, StreamBody};
        let events: Vec<Value> = (0..3)
            .map(|i| {
                json!({"type": "MODIFIED", "object": {
                "metadata": {"name": format!("w{i}"), "managedFields": managed()},
                "spec": {"i": i}}})
            })
            .collect();
        let mut text = Vec::new();
        for event in &events {
            serde_json::to_writer(&mut text, event).unwrap();
            text.push(b'\n');
        }
        // In pieces of 1, 7, 100 bytes, all at once, and a line a frame
        // (as a server sends them).
        let mut splits: Vec<Vec<&[u8]>> = [1, 7, 100, text.len()]
            .iter()
            .map(|size| text.chunks(*size).collect())
            .collect();
        splits.push(text.split_inclusive(|b| *b == b'\n').collect());
        for pieces in splits {
            let size = pieces[0].len();
            let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = pieces
                .iter()
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            let body = CutBody {
                inner: StreamBody::new(futures::stream::iter(frames)),
                shape: Shape::Lines,
                pending: BytesMut::new(),
                out: BytesMut::new(),
                ended: false,
            };
            let out = body.collect().await.unwrap().to_bytes();
            let lines: Vec<Value> = out
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            let expected: Vec<Value> = events
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["object"]["metadata"]
                        .as_object_mut()
                        .unwrap()
                        .remove("managedFields");
                    e
                })
                .collect();
            assert_eq!(lines, expected, "in pieces of {size} bytes");
        }
    }
}
