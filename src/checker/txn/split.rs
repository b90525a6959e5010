//! Scanning a big history file on two threads. The file is cut at a newline followed by `{`
//! near its middle; each half is scanned into its own `Scanned` (with its own interning), then
//! the second is joined onto the first: its key ids and strings remapped to the first's, its
//! positions and txn ids shifted, the completions that follow the cut matched with the invokes
//! still open before it, and the reads of any key whose version order the two halves do not
//! agree on placed again in history order. The result is the one-thread scan's, field for
//! field. Anything the join cannot reproduce exactly (an error in either half, an op without
//! `:index`, a cut that is not between two ops) falls back to the one-thread scan, so errors
//! read exactly as they do there.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::history::{place_read, Mop, MopKind, Status, Txns, NONE, STR_BASE};
use super::scan::{self, feed, Scanned, Smop, Sval};
use super::{Model, TxnError};

/// Files smaller than this are scanned on one thread (a thread costs more than it saves).
const MIN_SPLIT: usize = 8 << 20;
/// How far past the middle the cut is looked for.
const WINDOW: usize = 1 << 20;
/// How much of the file's start tells whether it opens a vector.
const HEAD: usize = 64 << 10;

/// Reads `path` into the compact representation, on two threads when it is big enough.
pub(crate) fn read(path: &Path, model: Model) -> Result<Txns, TxnError> {
    read_with(path, model, MIN_SPLIT)
}

/// `read`, splitting files of at least `min_split` bytes.
pub(crate) fn read_with(path: &Path, model: Model, min_split: usize) -> Result<Txns, TxnError> {
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if two_cores || min_split == 0 {
        if let Some(t) = split_file(path, model, min_split) {
            return Ok(t);
        }
    }
    scan::read(path, model)
}

fn split_file(path: &Path, model: Model, min_split: usize) -> Option<Txns> {
    let file = std::fs::File::open(path).ok()?;
    let size = usize::try_from(file.metadata().ok()?.len()).ok()?;
    if size < min_split.max(2) {
        return None;
    }
    let mut head = vec![0u8; HEAD.min(size)];
    file.read_exact_at(&mut head, 0).ok()?;
    let mid = size / 2;
    let mut window = vec![0u8; WINDOW.min(size - mid)];
    file.read_exact_at(&mut window, mid as u64).ok()?;
    let cut = mid + find_cut(&window)?;
    let shown = path.display().to_string();
    let first = (&file).take(cut as u64);
    let mut second = std::fs::File::open(path).ok()?;
    second.seek(SeekFrom::Start(cut as u64)).ok()?;
    let second = second.take((size - cut) as u64);
    split(first, cut, second, size - cut, &head, &shown, model)
}

/// The offset of the first `{` that starts a line in `w` (not at its very start, whose line
/// start is unknown).
fn find_cut(w: &[u8]) -> Option<usize> {
    w.windows(2).position(|p| p == b"\n{").map(|i| i + 1)
}

/// Scans `bytes` split at `cut` (which must start a line with `{`); `None` where the one-thread
/// scan must be used instead. What the tests of the join call.
#[cfg(test)]
pub(crate) fn split_bytes(bytes: &[u8], cut: usize, model: Model) -> Option<Txns> {
    let (a, b) = bytes.split_at(cut);
    split(a, a.len(), b, b.len(), &bytes[..HEAD.min(bytes.len())], "h.edn", model)
}

/// Scans the two parts on two threads and joins them.
fn split<A: Read + Send, B: Read + Send>(
    first: A,
    first_len: usize,
    second: B,
    second_len: usize,
    head: &[u8],
    path: &str,
    model: Model,
) -> Option<Txns> {
    // The second part starts inside the enclosing vector if the file opens one (checked
    // against where the first part ends, below).
    let lead = scan::skip_leading(head)?;
    let in_vector = matches!(head[lead], b'[' | b'(');
    let whole = first_len + second_len;
    let (p1, p2) = std::thread::scope(|s| {
        let h = s.spawn(move || scan::scan_part(second, second_len, second_len, path, model, Some(in_vector)));
        let p1 = scan::scan_part(first, first_len, whole, path, model, None);
        (p1, h.join())
    });
    let (p1, p2) = (p1.ok()?, p2.ok()?.ok()?);
    if p2.missing_index || p1.in_vector != in_vector {
        return None;
    }
    join(p1, p2, model)
}

/// Joins the second part's scan onto the first's, as if one scan had read both.
fn join(p1: Scanned, p2: Scanned, model: Model) -> Option<Txns> {
    let Scanned { b: mut b1, invokes: mut inv1, ordinal: ord1, .. } = p1;
    let Scanned { b: mut b2, invokes: inv2, first, .. } = p2;
    let open2 = b2.take_open();
    let t2 = b2.finish();
    // Keys and strings the second part met first get ids after the first part's, in the order
    // it met them: the order one scan gives them.
    let kmap: Vec<u32> = t2.keys.iter().map(|a| b1.atom_key(a)).collect();
    let smap: Vec<i64> = t2.strs.iter().map(|s| b1.str_val(s)).collect();
    let sval = |v: i64| -> i64 {
        let id = v.wrapping_sub(STR_BASE) as u64;
        if id < smap.len() as u64 {
            smap[id as usize]
        } else {
            v
        }
    };
    // A key's reads keep their form when both parts' version orders agree (one is a prefix of
    // the other) and the second part found no odd read of it; the others are placed again.
    let mut replay = vec![false; t2.keys.len()];
    for m in &t2.mops {
        if m.kind == MopKind::ReadOdd {
            replay[m.key as usize] = true;
        }
    }
    for (k, l2) in t2.longest.iter().enumerate() {
        if replay[k] || l2.is_empty() {
            continue;
        }
        let l2: Vec<i64> = l2.iter().map(|v| sval(*v)).collect();
        let l1 = &mut b1.t.longest[kmap[k] as usize];
        let n = l1.len().min(l2.len());
        if l1[..n] != l2[..n] {
            replay[k] = true;
        } else if l2.len() > l1.len() {
            *l1 = l2;
        }
    }
    // Txn ids: a completion that opens the second part's ops of a process completes the invoke
    // that process left open before the cut; every other txn follows the first part's.
    let n1 = b1.t.txns.len() as u32;
    let mut tmap = vec![NONE; t2.txns.len()];
    let mut joined = vec![false; t2.txns.len()];
    for (p, &j) in &first {
        let Some(slot) = inv1.get_mut(p) else { continue };
        if slot.0 == NONE {
            continue;
        }
        // Completed across the cut, or left open by a second invoke (as one scan leaves it:
        // without micro-ops).
        if j != NONE {
            tmap[j as usize] = slot.0;
            joined[j as usize] = true;
        }
        slot.0 = NONE;
    }
    let mut next = n1;
    for (j, id) in tmap.iter_mut().enumerate() {
        if !joined[j] {
            *id = next;
            next += 1;
        }
    }
    let mut never = vec![false; t2.txns.len()];
    for j in open2 {
        never[j as usize] = true;
    }
    let m1 = b1.t.mops.len() as u32;
    b1.t.txns.reserve(t2.txns.len());
    for (j, x) in t2.txns.iter().enumerate() {
        let mut x = *x;
        if x.invoke_pos != 0 {
            x.invoke_pos += ord1;
        }
        if x.complete_pos != u64::MAX {
            x.complete_pos += ord1;
        }
        if !never[j] {
            x.mop_start += m1;
            x.mop_end += m1;
        }
        if joined[j] {
            let y = &mut b1.t.txns[tmap[j] as usize];
            (y.op, y.status, y.complete_pos, y.mop_start, y.mop_end) =
                (x.op, x.status, x.complete_pos, x.mop_start, x.mop_end);
        } else {
            b1.t.txns.push(x);
        }
    }
    b1.t.mops.reserve(t2.mops.len());
    for m in &t2.mops {
        let (key, txn) = (kmap[m.key as usize], tmap[m.txn as usize]);
        let (kind, val) = match m.kind {
            MopKind::Append | MopKind::Write | MopKind::ReadReg => (m.kind, sval(m.val)),
            MopKind::ReadPrefix | MopKind::ReadOdd if replay[m.key as usize] => {
                let vs: Vec<i64> = t2.read_list(m).iter().map(|v| sval(*v)).collect();
                let counts = t2.txns[m.txn as usize].status != Status::Fail;
                place_read(&mut b1.t.longest[key as usize], &mut b1.t.odd, &vs, counts)
            }
            MopKind::ReadOdd => return None,
            MopKind::ReadPrefix | MopKind::ReadNil | MopKind::ReadInit => (m.kind, m.val),
        };
        b1.t.mops.push(Mop { val, key, txn, kind });
    }
    // The invokes still open at the end get their micro-ops last, in txn order.
    let mut left: Vec<(u32, Vec<Smop>, Vec<i64>)> = inv1.into_values().filter(|s| s.0 != NONE).collect();
    for (id, ms, ls) in inv2.into_values() {
        if id == NONE {
            continue;
        }
        let ms = ms
            .into_iter()
            .map(|m| {
                let val = match m.val {
                    Sval::Int(v) => Sval::Int(sval(v)),
                    v => v,
                };
                Smop { f: m.f, key: kmap[m.key as usize], val }
            })
            .collect();
        let ls = ls.into_iter().map(sval).collect();
        left.push((tmap[id as usize], ms, ls));
    }
    left.sort_by_key(|x| x.0);
    for (id, ms, ls) in left {
        b1.reopen(id);
        feed(&mut b1, model, &ms, &ls, Status::Info).ok()?;
        b1.end();
    }
    Some(b1.finish())
}
