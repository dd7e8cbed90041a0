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
}

/// The library-wide counters.
pub static GLOBAL: Stats = Stats::new();

impl Stats {
    const fn new() -> Self {
        Self {
            clients: Atomic::new(0),
        }
    }

    /// Number of [`crate::Client`]s currently registered.
    pub fn clients(&self) -> u64 {
        self.clients.load(Relaxed)
    }

    pub(crate) fn client_registered(&self) {
        self.clients.add(1, Relaxed);
    }

    pub(crate) fn client_unregistered(&self) {
        self.clients.fetch_sub(1, Relaxed);
    }
}

impl fmt::Display for Stats {
    /// One `name: value` line per counter, the format of `/sys/kernel/debug/rgup/stats`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "clients: {}", self.clients())
    }
}
