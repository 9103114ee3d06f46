//! Releasing the daemon's start-up code from its resident memory, once start-up is over.
//!
//! The kernel maps an executable's code in windows of 64 kB around every page fault
//! ("fault-around"), so once start-up has run (arguments, TOML, profiles, the registry's first
//! enumeration, routing) nearly every stretch of `headroomd`'s code is resident, although
//! about half of it never runs again. [`release_code_pages`] drops the process's mappings of
//! those pages (`madvise(MADV_DONTNEED)` on the executable's own read-only code mapping, and
//! nothing else); the code the steady state runs faults back from the page cache the next
//! time it runs, with its 64 kB windows. What this is: the pages stay in the page cache (they
//! are clean file pages: nothing is written or lost), they are simply no longer mapped by the
//! daemon, so its RSS no longer counts them and the kernel can reclaim them like any unmapped
//! cache page. It is not a smaller binary. See `PLAN.md`, Decisions.
//!
//! Safety conditions, checked on the mapping itself in `/proc/self/smaps` before the call:
//! the mapping holding this function, mapped `r-xp` from a file, with no private
//! (anonymous, copy-on-write) pages — so `MADV_DONTNEED` can only drop pages that are
//! identical to the file — and no locked pages (`mlockall`, e.g. PipeWire's `mem.mlock-all`,
//! is left alone: the user asked for resident code). Writable mappings, the relocated
//! read-only data (`RELRO`, copy-on-write pages) and the shared libraries are never touched.
//!
//! The executable's first pages stay mapped ([`KEPT_HEAD`]): its ELF headers, `.interp` and
//! the dynamic symbol tables (`.dynsym`, `.gnu.version`, `.gnu.hash`, `.dynstr`), which the
//! dynamic loader still reads after start-up: when a tap starts, `strcmp` in the loader reads
//! `.interp` (most likely `dlopen`, PipeWire loading a plugin, comparing names against the
//! loader's own entry, whose name points there; `dlopen` also looks symbols up in the global
//! scope, the executable's tables first). Released, the first such read faults them back with
//! a fault-around window that maps the whole start of the file (headers, the symbol tables and
//! the relocations after them: the page cache's 128 kB folio, resident again for 12 kB).

use std::io;

/// What [`release_code_pages`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Dropped the mappings' resident pages: how many kB were resident.
    Dropped {
        /// Resident kB of the released mappings before the call (their kept first pages
        /// included).
        resident_kb: u64,
    },
    /// Left alone: some of the mappings have locked pages.
    Locked,
    /// Left alone: the code is not in a private read-only file mapping (or none was found).
    NotFound,
}

/// How much of the start of the executable's file stays mapped (rounded up to whole pages):
/// what the dynamic loader reads of it after start-up (module doc). With `lld`'s layout the
/// ELF and program headers, `.interp`, `.dynsym`, `.gnu.version(_r)`, `.gnu.hash` and `.dynstr`
/// end at ≈ 9 kB into the file, in the third 4 kB page (the relocations, read only at start-up,
/// begin in that page and carry on after it).
pub const KEPT_HEAD: usize = 12 * 1024;

/// One mapping of `/proc/self/smaps`: its range, permissions, file offset, path and the
/// fields used here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    offset: u64,
    path: String,
    rss_kb: u64,
    anonymous_kb: u64,
    locked_kb: u64,
}

/// Every mapping of `smaps` (the text of `/proc/PID/smaps`), in order.
fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if !first.ends_with(':') {
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(start), Ok(end)) =
                    (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    let perms = words.next().unwrap_or("").to_string();
                    let offset = words
                        .next()
                        .and_then(|o| u64::from_str_radix(o, 16).ok())
                        .unwrap_or(0);
                    // device, inode, then the path (which may contain spaces).
                    let path = words.skip(2).collect::<Vec<_>>().join(" ");
                    out.push(Mapping {
                        start,
                        end,
                        perms,
                        offset,
                        path,
                        ..Mapping::default()
                    });
                    continue;
                }
            }
        }
        let Some(m) = out.last_mut() else { continue };
        let kb = words
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match first {
            "Rss:" => m.rss_kb = kb,
            "Anonymous:" => m.anonymous_kb = kb,
            "Locked:" => m.locked_kb = kb,
            _ => {}
        }
    }
    out
}

/// The mapping of `maps` that contains `addr`.
fn mapping_at(maps: &[Mapping], addr: usize) -> Option<&Mapping> {
    maps.iter().find(|m| (m.start..m.end).contains(&addr))
}

/// The mappings [`release_code_pages`] releases: those of the file that holds the code at
/// `code` which are private, not writable and hold no private (copy-on-write) pages — the
/// code and the read-only data that is not relocated (string constants, unwinding tables,
/// the relocations themselves). Writable mappings and the relocated read-only data (whose
/// pages the loader wrote) are not among them. Errors: no such mapping, or it is not a
/// private read-only file mapping; `Released::Locked` when any candidate has locked pages.
fn candidates(maps: &[Mapping], code: usize) -> Result<Vec<&Mapping>, Released> {
    let Some(code) = mapping_at(maps, code) else {
        return Err(Released::NotFound);
    };
    if code.perms != "r-xp" || !code.path.starts_with('/') {
        return Err(Released::NotFound);
    }
    let ours: Vec<&Mapping> = maps
        .iter()
        .filter(|m| m.path == code.path && m.perms.starts_with('r'))
        .filter(|m| !m.perms.contains('w') && m.perms.ends_with('p'))
        .filter(|m| m.anonymous_kb == 0)
        .collect();
    if ours.iter().any(|m| m.locked_kb > 0) {
        return Err(Released::Locked);
    }
    Ok(ours)
}

/// The range of `m` to release: all of it, except for the mapping of the file's start, whose
/// first [`KEPT_HEAD`] bytes (rounded up to `page`, a power of two) stay; `None` when nothing
/// is left to release.
fn released_range(m: &Mapping, page: usize) -> Option<(usize, usize)> {
    let start = if m.offset == 0 {
        m.start.saturating_add((KEPT_HEAD + page - 1) & !(page - 1))
    } else {
        m.start
    };
    (start < m.end).then_some((start, m.end))
}

/// Drops the resident pages of the executable's code mapping (see the module's doc). Call it
/// once, after start-up; never from a real-time thread. Threads running meanwhile simply
/// fault their code back. Errors: `/proc/self/smaps` unreadable, no such mapping, or
/// `madvise` refused.
pub fn release_code_pages() -> io::Result<Released> {
    let here = release_code_pages as fn() -> io::Result<Released> as usize;
    let maps = mappings(&std::fs::read_to_string("/proc/self/smaps")?);
    let ours = match candidates(&maps, here) {
        Ok(m) => m,
        Err(r) => return Ok(r),
    };
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 && (p as usize).is_power_of_two() => p as usize,
        _ => 4096,
    };
    let mut resident_kb = 0;
    for m in ours {
        let Some((start, end)) = released_range(m, page) else {
            continue;
        };
        // SAFETY: [start, end) is a page-aligned part of a mapping of this process (from
        // smaps) of the executable's file, private, not writable, without private or locked
        // pages: MADV_DONTNEED only unmaps pages identical to the file's, which the next
        // access maps again from the page cache. No Rust object lives in these pages (they
        // hold code and constants, never written), so no reference is invalidated.
        let r =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        resident_kb += m.rss_kb;
    }
    Ok(Released::Dropped { resident_kb })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executable's mappings as the loader leaves them: read-only data, code, the
    /// relocated read-only data (RELRO: copy-on-write pages), writable data; then a library
    /// and an anonymous mapping.
    const SMAPS: &str = "\
55d0c0000000-55d0c00c7000 r--p 00000000 fe:01 123 /usr/bin/head room d
Size:                796 kB
Rss:                 400 kB
Anonymous:             0 kB
Locked:                0 kB
55d0c00c7000-55d0c034b000 r-xp 000c6000 fe:01 123 /usr/bin/head room d
Size:               2576 kB
Rss:                2300 kB
Anonymous:             0 kB
Locked:                0 kB
VmFlags: rd ex mr mw me
55d0c034b000-55d0c0372000 r--p 00349000 fe:01 123 /usr/bin/head room d
Rss:                 156 kB
Anonymous:           156 kB
Locked:                0 kB
55d0c0372000-55d0c0374000 rw-p 0036f000 fe:01 123 /usr/bin/head room d
Rss:                   8 kB
Anonymous:             0 kB
Locked:                0 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:01 456 /usr/lib/libc.so.6
Rss:                1300 kB
Anonymous:             0 kB
7f0000200000-7f0000201000 rw-p 00000000 00:00 0 
Rss:                   4 kB
";

    #[test]
    fn mappings_are_read_with_their_fields() {
        let maps = mappings(SMAPS);
        assert_eq!(maps.len(), 6);
        let m = mapping_at(&maps, 0x55d0c0100000).unwrap();
        assert_eq!((m.start, m.end), (0x55d0c00c7000, 0x55d0c034b000));
        assert_eq!(m.perms, "r-xp");
        assert_eq!(m.offset, 0xc6000);
        assert_eq!(m.path, "/usr/bin/head room d");
        assert_eq!((m.rss_kb, m.anonymous_kb, m.locked_kb), (2300, 0, 0));
        assert_eq!(mapping_at(&maps, 0x7f0000200000).unwrap().path, "");
        assert!(mapping_at(&maps, 0x1000).is_none());
    }

    #[test]
    fn only_the_executables_unwritten_read_only_mappings_are_released() {
        let maps = mappings(SMAPS);
        let ours = candidates(&maps, 0x55d0c0100000).unwrap();
        let starts: Vec<usize> = ours.iter().map(|m| m.start).collect();
        // Not the RELRO mapping (copy-on-write pages), not the writable one, not libc's.
        assert_eq!(starts, [0x55d0c0000000, 0x55d0c00c7000]);
        // Code found elsewhere than in a private read-only file mapping: nothing.
        assert_eq!(
            candidates(&maps, 0x7f0000200000).unwrap_err(),
            Released::NotFound
        );
        assert_eq!(candidates(&maps, 0x1000).unwrap_err(), Released::NotFound);
        // Locked pages (mlockall): left alone.
        let locked = SMAPS.replacen(
            "Locked:                0 kB",
            "Locked:              400 kB",
            1,
        );
        assert_eq!(
            candidates(&mappings(&locked), 0x55d0c0100000).unwrap_err(),
            Released::Locked
        );
        // The mapping of the file's start keeps its first pages; the others are released
        // whole; one no larger than the kept pages is not released at all.
        assert_eq!(
            released_range(ours[0], 4096),
            Some((0x55d0c0000000 + 0x3000, 0x55d0c00c7000))
        );
        assert_eq!(
            released_range(ours[0], 65536),
            Some((0x55d0c0010000, 0x55d0c00c7000))
        );
        assert_eq!(
            released_range(ours[1], 4096),
            Some((0x55d0c00c7000, 0x55d0c034b000))
        );
        let small = Mapping {
            end: 0x55d0c0003000,
            ..ours[0].clone()
        };
        assert_eq!(released_range(&small, 4096), None);
        // Code with a private page (a debugger's breakpoint): that mapping is left alone.
        let patched = SMAPS.replacen(
            "Anonymous:             0 kB",
            "Anonymous:             4 kB",
            2,
        );
        let maps = mappings(&patched);
        let ours = candidates(&maps, 0x55d0c0100000).unwrap();
        assert!(ours.is_empty(), "{ours:?}");
    }
}
