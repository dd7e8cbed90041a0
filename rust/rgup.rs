// SPDX-License-Identifier: GPL-2.0

//! rgup: safe user-memory access for device drivers.
//!
//! This crate is the library half of `rgup.ko`. Device drivers written in Rust import it from
//! their own modules (see `samples/rust/`) the way `nova-drm` imports `nova-core`: the crate's
//! metadata is emitted next to `rgup.ko`, dependents build with `--extern rgup`, and the symbols
//! they use are exported from `rgup.ko` with `EXPORT_SYMBOL_RUST_GPL`.
//!
//! What the crate offers:
//!
//! - [`pin`]: long-term pinning of user memory, with the `FOLL_LONGTERM` rules checked and
//!   explained, all-or-nothing pins, `RLIMIT_MEMLOCK` accounting and RAII unpin;
//! - [`dma`]: pinned pages mapped for a device's DMA, unmapped on drop;
//! - [`mirror`]: a device's coherent view of a process's address range (mmu interval notifier
//!   and HMM), without pinning;
//! - [`p2p`]: DMA-only scatterlists of PCI peer-to-peer memory, which the CPU cannot reach;
//! - [`user_page`]: the pages of pins and mirrors, copied without data races;
//! - [`Client`]: a driver's registration with rgup, so that what it holds is attributed and
//!   shown in rgup's statistics;
//! - [`stats`]: the counters behind `/sys/kernel/debug/rgup/stats`;
//! - [`version`]: the version of the running library.
//!
//! The design is described in `Documentation/rgup/design.rst`.

// `pr_*!` print with the crate's `__LOG_PREFIX`; this crate has no `module!` of its own.
const __LOG_PREFIX: &[u8] = b"rgup\0";

// Lets the doc-tests, which run inside this crate as KUnit cases, say `rgup::` as a driver would.
#[cfg(CONFIG_KUNIT)]
extern crate self as rgup;

mod client;
pub mod dma;
mod helpers;
pub mod mirror;
pub mod p2p;
pub mod pin;
pub mod stats;
#[cfg(CONFIG_KUNIT)]
#[doc(hidden)]
pub mod testing;
pub mod user_page;

pub use client::Client;

/// The version of the rgup library, in semantic-versioning terms.
///
/// The major version changes with an incompatible change to the Rust API or the uAPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible API changes.
    pub major: u32,
    /// Compatible additions.
    pub minor: u32,
    /// Fixes.
    pub patch: u32,
}

/// The version of the running rgup library.
///
/// A dependent module compares it with the version it was built against to refuse a library
/// too old for it, for example:
///
/// ```
/// let v = rgup::version();
/// if v < (rgup::Version { major: 0, minor: 1, patch: 0 }) || v.major != 0 {
///     return Err(ENODEV);
/// }
/// ```
pub fn version() -> Version {
    VERSION
}

const VERSION: Version = Version {
    major: 0,
    minor: 2,
    patch: 0,
};

// The doc-tests of the crate, as KUnit cases (scripts/rgup_doctests.py).
#[cfg(CONFIG_KUNIT)]
include!(concat!(env!("RGUP_OBJ"), "/rust/doctests_generated.rs"));
