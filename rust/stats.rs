// SPDX-License-Identifier: GPL-2.0

//! Global counters of the rgup library.
//!
//! The counters are updated by the library itself (drivers only read them); `rgup.ko` shows them
//! in `/sys/kernel/debug/rgup/stats`, one `name: value` line each, and the tests read them from
//! there to prove that everything acquired was released.

use core::fmt;
use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

/// Counters of everything the library holds on behalf of its clients.
pub struct Stats {
    clients: Atomic<u64>,
    pins: Atomic<u64>,
    pinned_pages: Atomic<u64>,
    charged_pages: Atomic<u64>,
    pins_total: Atomic<u64>,
    mirrors: Atomic<u64>,
    mirrored_pages: Atomic<u64>,
    mirror_faults_total: Atomic<u64>,
    p2p_lists: Atomic<u64>,
    p2p_segments: Atomic<u64>,
}

/// The library-wide counters (updated by the library only).
pub(crate) static GLOBAL: Stats = Stats::new();

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

fn dec(counter: &Atomic<u64>, n: u64) {
    counter.fetch_sub(n, Relaxed);
}

impl Stats {
    const fn new() -> Self {
        Self {
            clients: Atomic::new(0),
            pins: Atomic::new(0),
            pinned_pages: Atomic::new(0),
            charged_pages: Atomic::new(0),
            pins_total: Atomic::new(0),
            mirrors: Atomic::new(0),
            mirrored_pages: Atomic::new(0),
            mirror_faults_total: Atomic::new(0),
            p2p_lists: Atomic::new(0),
            p2p_segments: Atomic::new(0),
        }
    }

    /// Number of [`crate::Client`]s currently registered.
    pub fn clients(&self) -> u64 {
        self.clients.load(Relaxed)
    }

    /// Number of [`crate::pin::PinnedPages`] currently alive (including pins being made).
    pub fn pins(&self) -> u64 {
        self.pins.load(Relaxed)
    }

    /// Pages held by those pins.
    pub fn pinned_pages(&self) -> u64 {
        self.pinned_pages.load(Relaxed)
    }

    /// Pages currently charged to some mm's `pinned_vm` by rgup.
    pub fn charged_pages(&self) -> u64 {
        self.charged_pages.load(Relaxed)
    }

    /// Pins completed since the module loaded.
    pub fn pins_total(&self) -> u64 {
        self.pins_total.load(Relaxed)
    }

    /// Number of [`crate::mirror::Mirror`]s currently alive.
    pub fn mirrors(&self) -> u64 {
        self.mirrors.load(Relaxed)
    }

    /// Translations currently held by those mirrors.
    pub fn mirrored_pages(&self) -> u64 {
        self.mirrored_pages.load(Relaxed)
    }

    /// Mirror faults completed since the module loaded.
    pub fn mirror_faults_total(&self) -> u64 {
        self.mirror_faults_total.load(Relaxed)
    }

    /// Number of [`crate::p2p::DmaOnlySgt`]s currently alive.
    pub fn p2p_lists(&self) -> u64 {
        self.p2p_lists.load(Relaxed)
    }

    /// DMA segments of those lists.
    pub fn p2p_segments(&self) -> u64 {
        self.p2p_segments.load(Relaxed)
    }

    pub(crate) fn p2p_mapped(&self, segments: usize) {
        self.p2p_lists.add(1, Relaxed);
        self.p2p_segments.add(segments as u64, Relaxed);
    }

    pub(crate) fn p2p_unmapped(&self, segments: usize) {
        dec(&self.p2p_lists, 1);
        dec(&self.p2p_segments, segments as u64);
    }

    pub(crate) fn mirror_created(&self) {
        self.mirrors.add(1, Relaxed);
    }

    pub(crate) fn mirror_dropped(&self) {
        dec(&self.mirrors, 1);
    }

    pub(crate) fn mirrored(&self, pages: u64) {
        self.mirrored_pages.add(pages, Relaxed);
    }

    pub(crate) fn unmirrored(&self, pages: u64) {
        dec(&self.mirrored_pages, pages);
    }

    pub(crate) fn mirror_faulted(&self) {
        self.mirror_faults_total.add(1, Relaxed);
    }

    pub(crate) fn client_registered(&self) {
        self.clients.add(1, Relaxed);
    }

    pub(crate) fn client_unregistered(&self) {
        dec(&self.clients, 1);
    }

    pub(crate) fn pin_started(&self) {
        self.pins.add(1, Relaxed);
    }

    pub(crate) fn pages_pinned(&self, pages: usize) {
        self.pinned_pages.add(pages as u64, Relaxed);
    }

    pub(crate) fn pin_completed(&self) {
        self.pins_total.add(1, Relaxed);
    }

    pub(crate) fn unpinned(&self, pages: usize) {
        dec(&self.pins, 1);
        dec(&self.pinned_pages, pages as u64);
    }

    pub(crate) fn charged(&self, pages: usize) {
        self.charged_pages.add(pages as u64, Relaxed);
    }

    pub(crate) fn uncharged(&self, pages: usize) {
        dec(&self.charged_pages, pages as u64);
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
