// SPDX-License-Identifier: GPL-2.0

//! The rgup module: loads the `rgup` library for the drivers that depend on it, and shows what it
//! holds in `/sys/kernel/debug/rgup/stats`.
//!
//! The library itself lives in `rust/` (crate `rgup`); this crate is the module around it. It
//! registers no device node: rgup's users are drivers, which give user space their own uAPI.
//! The test front-ends (`/dev/rgup`, the `gup_test` and `dmirror` compatible nodes) live in the
//! separate test module `rgup_test.ko` (`tools/testing/rgup_test/`), as upstream keeps
//! `mm/gup_test.c` and `lib/test_hmm.c` apart from what they test.

use kernel::{
    debugfs,
    prelude::*, //
};

module! {
    type: RgupModule,
    name: "rgup",
    authors: ["rgup developers"],
    description: "Safe long-term pinning, secondary-MMU mirroring and P2P DMA-only \
                  scatterlists for device drivers",
    license: "GPL",
}

#[pin_data]
struct RgupModule {
    #[pin]
    _stats: debugfs::File<&'static rgup::stats::Stats>,
    _debugfs: debugfs::Dir,
}

impl kernel::InPlaceModule for RgupModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let v = rgup::version();
        pr_info!("version {}.{}.{} loaded\n", v.major, v.minor, v.patch);
        let dir = debugfs::Dir::new(c"rgup");

        try_pin_init!(Self {
            _stats <- dir.read_callback_file(c"stats", rgup::stats::global(), &|stats, f| {
                core::fmt::Display::fmt(*stats, f)
            }),
            _debugfs: dir,
        })
    }
}
