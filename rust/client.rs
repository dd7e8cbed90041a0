// SPDX-License-Identifier: GPL-2.0

//! A driver's registration with rgup.

use crate::stats;
use kernel::prelude::*;

/// A driver registered as a user of rgup.
///
/// A driver registers once, typically when its module loads, and keeps the [`Client`] for as
/// long as it uses rgup. The registration is counted in [`stats::global`]`().clients()` and undone
/// on drop. It names the driver in rgup's logs; what the driver pins and mirrors is counted in the
/// library-wide statistics, not per client.
///
/// # Examples
///
/// ```
/// let client = rgup::Client::register(c"my_driver")?;
/// pr_info!("registered as {}\n", client.name().to_str()?);
/// # assert!(rgup::stats::global().clients() >= 1);
/// ```
pub struct Client {
    name: &'static CStr,
}

impl Client {
    /// Registers the driver called `name` (shown in rgup's logs).
    ///
    /// Fails with `EINVAL` for an empty name.
    pub fn register(name: &'static CStr) -> Result<Self> {
        if name.is_empty() {
            return Err(EINVAL);
        }
        stats::GLOBAL.client_registered();
        pr_debug!("client {} registered\n", name.to_str().unwrap_or("?"));
        Ok(Self { name })
    }

    /// The name the client registered with.
    pub fn name(&self) -> &'static CStr {
        self.name
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        stats::GLOBAL.client_unregistered();
        pr_debug!(
            "client {} unregistered\n",
            self.name.to_str().unwrap_or("?")
        );
    }
}

#[kunit_tests(rgup_client)]
mod tests {
    use super::*;

    #[test]
    fn register_counts_and_drop_uncounts() -> Result {
        let before = stats::GLOBAL.clients();
        let client = Client::register(c"kunit")?;
        assert_eq!(stats::GLOBAL.clients(), before + 1);
        assert_eq!(client.name(), c"kunit");
        drop(client);
        assert_eq!(stats::GLOBAL.clients(), before);
        Ok(())
    }

    #[test]
    fn empty_name_is_einval() {
        let before = stats::GLOBAL.clients();
        assert!(matches!(Client::register(c""), Err(e) if e == EINVAL));
        assert_eq!(stats::GLOBAL.clients(), before);
    }
}
