// SPDX-License-Identifier: GPL-2.0

//! rgup: safe user-memory access for device drivers.
//!
//! This crate is the library half of `rgup.ko`. Device drivers written in Rust import it from
//! their own modules (see `samples/rust/`) the way `nova-drm` imports `nova-core`: the crate's
//! metadata is emitted next to `rgup.ko`, dependents build with `--extern rgup`, and every
//! global symbol of the crate is exported from `rgup.ko` with `EXPORT_SYMBOL_GPL`. Drivers
//! outside rgup's tree build against its SDK (`make sdk`, `Documentation/rgup/drivers.rst`).
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
//! - [`Client`]: a driver's registration with rgup, named in its logs and counted in its
//!   statistics (what drivers hold is counted library-wide, not per client);
//! - [`Access`]: what a device does with user memory (pins, mirror faults, regions);
//! - [`stats`]: the counters behind `/sys/kernel/debug/rgup/stats`;
//! - [`version()`] and [`require_version`]: the version of the running library, and the check a
//!   dependent makes at init.
//!
//! The design is described in `Documentation/rgup/design.rst`.

// `pr_*!` print with the crate's `__LOG_PREFIX`; this crate has no `module!` of its own.
const __LOG_PREFIX: &[u8] = b"rgup\0";

// Lets the doc-tests, which run inside this crate as KUnit cases, say `rgup::` as a driver would.
#[cfg(CONFIG_KUNIT)]
extern crate self as rgup;

use kernel::prelude::*;

mod client;
mod dirty_pages;
pub mod dma;
mod helpers;
pub mod mirror;
pub mod p2p;
mod page_array;
pub mod pin;
pub mod stats;
#[cfg(CONFIG_KUNIT)]
#[doc(hidden)]
pub mod testing;
pub mod user_page;

pub use client::Client;

/// What a device does with user memory: of a pin ([`pin::PinRequest`]), a mirror fault
/// ([`mirror::Mirror::fault`]) or a region ([`dma::DmaRegion`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The device only reads.
    Read,
    /// The device may write (`FOLL_WRITE`): anonymous copy-on-write pages are broken first, and
    /// the pages are marked dirty when the device is done.
    Write,
}

/// A version of the rgup library, in semantic-versioning terms.
///
/// While the major version is 0, a minor version may break the Rust API: a dependent works only
/// with the minor version it was built against. From 1.0 on, only a major version breaks it.
/// [`require_version`] applies that rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible API changes.
    pub major: u32,
    /// Compatible additions (incompatible ones while `major` is 0).
    pub minor: u32,
    /// Fixes.
    pub patch: u32,
}

impl Version {
    /// Whether a library of this version can serve a dependent that needs `major.minor`.
    pub const fn serves(self, major: u32, minor: u32) -> bool {
        if self.major != major {
            false
        } else if major == 0 {
            self.minor == minor
        } else {
            self.minor >= minor
        }
    }
}

/// The version of the rgup library that a dependent is compiled against.
///
/// This is a constant: its value is fixed into the dependent when it is built, while
/// [`version()`] asks the library that is loaded. Pass it to [`require_version`] at init.
pub const VERSION: Version = Version {
    major: 0,
    minor: 3,
    patch: 0,
};

/// The version of the running rgup library.
pub fn version() -> Version {
    VERSION
}

/// Refuses a running rgup that cannot serve a driver built for `major.minor`.
///
/// A driver calls it first in its module's `init`, so that a library built from another
/// version fails the load with one clear line rather than misbehaving later. Returns
/// `ENOEXEC` (what the module loader returns for a module built for another kernel) and logs
/// both versions when [`Version::serves`] says no.
///
/// # Examples
///
/// ```
/// // In a driver's `init`: the version it was compiled against.
/// rgup::require_version(rgup::VERSION.major, rgup::VERSION.minor)?;
/// # assert_eq!(rgup::require_version(rgup::VERSION.major, rgup::VERSION.minor + 1), Err(ENOEXEC));
/// ```
pub fn require_version(major: u32, minor: u32) -> Result {
    let v = version();
    if v.serves(major, minor) {
        return Ok(());
    }
    pr_err!(
        "this is rgup {}.{}.{}; a driver needs rgup {}.{}: rebuild the driver against this \
         rgup's SDK, or load the rgup it was built for\n",
        v.major,
        v.minor,
        v.patch,
        major,
        minor
    );
    Err(ENOEXEC)
}

// The doc-tests of the crate, as KUnit cases (scripts/rgup_doctests.py).
#[cfg(CONFIG_KUNIT)]
include!(concat!(env!("RGUP_OBJ"), "/rust/doctests_generated.rs"));

#[kunit_tests(rgup_version)]
mod tests {
    use super::*;

    const fn v(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn zero_major_needs_the_same_minor() {
        assert!(v(0, 3, 1).serves(0, 3));
        assert!(!v(0, 3, 0).serves(0, 2));
        assert!(!v(0, 3, 0).serves(0, 4));
        assert!(!v(0, 3, 0).serves(1, 0));
    }

    #[test]
    fn from_one_on_minor_versions_add() {
        assert!(v(1, 2, 0).serves(1, 0));
        assert!(v(1, 2, 0).serves(1, 2));
        assert!(!v(1, 2, 0).serves(1, 3));
        assert!(!v(2, 0, 0).serves(1, 0));
    }

    #[test]
    fn require_version_of_the_running_library() {
        assert_eq!(require_version(VERSION.major, VERSION.minor), Ok(()));
        assert_eq!(require_version(VERSION.major + 1, 0), Err(ENOEXEC));
    }
}
