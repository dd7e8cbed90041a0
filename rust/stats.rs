// SPDX-License-Identifier: GPL-2.0

//! Global counters of the rgup library.
//!
//! The counters are updated by the library itself (drivers only read them); `rgup.ko` shows them
//! in `/sys/kernel/debug/rgup/stats`, one `name: value` line each, and the tests read them from
//! there to prove that everything acquired was released.

use crate::helpers;
use core::fmt;

/// The counters, in the order of the C helpers' per-CPU array (`rust/rgup_helpers.h`). The
/// counters one update changes are adjacent ([`apply`]): a pin's from `Pins` to `PinsTotal`, a
/// P2P list's `P2pLists` and `P2pSegments`.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Counter {
    Clients,
    Pins,
    PinnedPages,
    ChargedPages,
    PinsTotal,
    Mirrors,
    MirroredPages,
    MirrorFaultsTotal,
    P2pLists,
    P2pSegments,
}

const COUNTERS: usize = Counter::P2pSegments as usize + 1;
const _: () = assert!(COUNTERS == helpers::RGUP_STATS_NR as usize);

/// Counters of everything the library holds on behalf of its clients.
///
/// Each counter is per CPU: an update adds to the updating CPU's copy (one `this_cpu_add()`, no
/// atomic on a cache line that every pinning CPU writes), a read sums the copies. A read
/// concurrent with updates may see some of them and not others; with nothing in flight it is
/// exact.
pub struct Stats {
    _private: (),
}

/// The library-wide counters (updated by the library only).
pub(crate) static GLOBAL: Stats = Stats { _private: () };

/// The library-wide counters, to read: what every driver on this rgup holds right now, and what
/// was done since it loaded.
///
/// # Examples
///
/// ```
/// let before = rgup::stats::global().clients();
/// let client = rgup::Client::register(c"stats_example")?;
/// assert_eq!(rgup::stats::global().clients(), before + 1);
/// drop(client);
/// ```
pub fn global() -> &'static Stats {
    &GLOBAL
}

/// Adds `deltas` to the counters from `first` on, with one call: every update changes
/// consecutive counters (the order of [`Counter`]), and passes 0 for the rest of the four.
///
/// This and the updates of [`Stats`] below are `inline(always)`: each is that one call, which
/// at `-Copt-level=s` LLVM otherwise reaches through a call to a copy of the update (in
/// `DmaOnlySgt::from_user()`, for one). The changes are passed in registers: as an array of
/// (counter, change) pairs, the helper's loop over them took 20 translated blocks under TCG per
/// pin and unpin, where this takes two (`Documentation/rgup/performance.rst`, seventh round).
#[inline(always)]
fn apply(first: Counter, deltas: [i64; 4]) {
    let [d0, d1, d2, d3] = deltas;
    // SAFETY: `first` is below `RGUP_STATS_NR` (a `Counter`); the helper's per-CPU array has the
    // three counters after it, whatever they are.
    unsafe { helpers::rgup_helper_stats_add(first as u32, d0, d1, d2, d3) };
}

/// A count of pages or objects as a change: far below `i64::MAX`.
#[inline(always)]
fn count(n: usize) -> i64 {
    n as i64
}

/// The same count taken away. (Far below `i64::MAX`, it cannot overflow: `wrapping_neg()` leaves
/// out the check that `-` makes with `CONFIG_RUST_OVERFLOW_CHECKS`.)
#[inline(always)]
fn uncount(n: usize) -> i64 {
    count(n).wrapping_neg()
}

impl Stats {
    fn read(&self, counter: Counter) -> u64 {
        // SAFETY: `counter` is below `RGUP_STATS_NR`.
        let sum = unsafe { helpers::rgup_helper_stats_sum(counter as u32) };
        // A read racing with an update and its undo on other CPUs can see the undo alone.
        sum.max(0) as u64
    }

    /// Number of [`crate::Client`]s currently registered.
    pub fn clients(&self) -> u64 {
        self.read(Counter::Clients)
    }

    /// Number of [`crate::pin::PinnedPages`] currently alive.
    pub fn pins(&self) -> u64 {
        self.read(Counter::Pins)
    }

    /// Pages held by those pins.
    pub fn pinned_pages(&self) -> u64 {
        self.read(Counter::PinnedPages)
    }

    /// Of those pages, the ones charged to some mm's `pinned_vm` by rgup.
    pub fn charged_pages(&self) -> u64 {
        self.read(Counter::ChargedPages)
    }

    /// Pins completed since the module loaded.
    pub fn pins_total(&self) -> u64 {
        self.read(Counter::PinsTotal)
    }

    /// Number of [`crate::mirror::Mirror`]s currently alive.
    pub fn mirrors(&self) -> u64 {
        self.read(Counter::Mirrors)
    }

    /// Translations currently held by those mirrors.
    pub fn mirrored_pages(&self) -> u64 {
        self.read(Counter::MirroredPages)
    }

    /// Mirror faults completed since the module loaded.
    pub fn mirror_faults_total(&self) -> u64 {
        self.read(Counter::MirrorFaultsTotal)
    }

    /// Number of [`crate::p2p::DmaOnlySgt`]s currently alive.
    pub fn p2p_lists(&self) -> u64 {
        self.read(Counter::P2pLists)
    }

    /// DMA segments of those lists.
    pub fn p2p_segments(&self) -> u64 {
        self.read(Counter::P2pSegments)
    }

    #[inline(always)]
    pub(crate) fn p2p_mapped(&self, segments: usize) {
        apply(Counter::P2pLists, [1, count(segments), 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn p2p_unmapped(&self, segments: usize) {
        apply(Counter::P2pLists, [-1, uncount(segments), 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn mirror_created(&self) {
        apply(Counter::Mirrors, [1, 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn mirror_dropped(&self) {
        apply(Counter::Mirrors, [-1, 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn mirrored(&self, pages: u64) {
        apply(Counter::MirroredPages, [count(pages as usize), 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn unmirrored(&self, pages: u64) {
        apply(Counter::MirroredPages, [uncount(pages as usize), 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn mirror_faulted(&self) {
        apply(Counter::MirrorFaultsTotal, [1, 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn client_registered(&self) {
        apply(Counter::Clients, [1, 0, 0, 0]);
    }

    #[inline(always)]
    pub(crate) fn client_unregistered(&self) {
        apply(Counter::Clients, [-1, 0, 0, 0]);
    }

    /// A pin of `pages` pages, `charged` of them charged, was completed.
    #[inline(always)]
    pub(crate) fn pinned(&self, pages: usize, charged: usize) {
        apply(Counter::Pins, [1, count(pages), count(charged), 1]);
    }

    /// A pin counted by [`Stats::pinned`] was released.
    #[inline(always)]
    pub(crate) fn unpinned(&self, pages: usize, charged: usize) {
        apply(Counter::Pins, [-1, uncount(pages), uncount(charged), 0]);
    }
}

impl fmt::Display for Stats {
    /// One `name: value` line per counter, the format of `/sys/kernel/debug/rgup/stats`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "clients: {}", self.clients())?;
        writeln!(f, "pins: {}", self.pins())?;
        writeln!(f, "pinned_pages: {}", self.pinned_pages())?;
        writeln!(f, "charged_pages: {}", self.charged_pages())?;
        writeln!(f, "pins_total: {}", self.pins_total())?;
        writeln!(f, "mirrors: {}", self.mirrors())?;
        writeln!(f, "mirrored_pages: {}", self.mirrored_pages())?;
        writeln!(f, "mirror_faults_total: {}", self.mirror_faults_total())?;
        writeln!(f, "p2p_lists: {}", self.p2p_lists())?;
        writeln!(f, "p2p_segments: {}", self.p2p_segments())
    }
}
