// SPDX-License-Identifier: GPL-2.0

//! A driver module that uses rgup from another module.
//!
//! It imports a type ([`rgup::Client`]) and a function ([`rgup::version`]) from the `rgup`
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

/// The oldest rgup this sample works with.
const NEEDS: rgup::Version = rgup::Version {
    major: 0,
    minor: 1,
    patch: 0,
};

struct SampleClient {
    client: rgup::Client,
}

impl kernel::Module for SampleClient {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let v = rgup::version();
        if v < NEEDS || v.major != NEEDS.major {
            pr_err!(
                "rgup {}.{}.{} is not compatible\n",
                v.major,
                v.minor,
                v.patch
            );
            return Err(ENODEV);
        }
        let client = rgup::Client::register(c"rgup_sample_client")?;
        pr_info!(
            "registered with rgup {}.{}.{} as {}; rgup now has {} client(s)\n",
            v.major,
            v.minor,
            v.patch,
            client.name().to_str()?,
            rgup::stats::GLOBAL.clients()
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
