// SPDX-License-Identifier: GPL-2.0

//! A driver module that uses rgup from another module.
//!
//! It imports a type ([`rgup::Client`]) and functions ([`rgup::require_version`]) from the `rgup`
//! crate, which lives in `rgup.ko`: load `rgup.ko` first, then this module. While it is loaded,
//! `/sys/kernel/debug/rgup/stats` counts one more client, and `rgup.ko` cannot be unloaded.

use kernel::prelude::*;

module! {
    type: SampleClient,
    name: "rgup_sample_client",
    authors: ["rgup developers"],
    description: "rgup sample: a driver registering with rgup across modules",
    license: "GPL",
}

/// The sample driver: one registration with rgup while loaded.
struct SampleClient {
    client: rgup::Client,
}

impl kernel::Module for SampleClient {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Refuse a loaded rgup that cannot serve the version this driver was built against.
        rgup::require_version(rgup::VERSION.major, rgup::VERSION.minor)?;
        let v = rgup::version();
        let client = rgup::Client::register(c"rgup_sample_client")?;
        pr_info!(
            "registered with rgup {}.{}.{} as {}; rgup now has {} client(s)\n",
            v.major,
            v.minor,
            v.patch,
            client.name().to_str()?,
            rgup::stats::global().clients()
        );
        Ok(Self { client })
    }
}

impl Drop for SampleClient {
    fn drop(&mut self) {
        pr_info!(
            "unregistering {}\n",
            self.client.name().to_str().unwrap_or("?")
        );
    }
}
