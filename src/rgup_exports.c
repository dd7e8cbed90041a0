// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the symbols of the `rgup` crate that dependent modules use. The
 * list (an "extern int sym;" declaration and an EXPORT_SYMBOL_GPL(sym) line
 * per symbol) is generated at build time from the dependents' undefined
 * symbols, see Kbuild. This is a workaround until the kernel's build system
 * supports Rust cross-module dependencies natively.
 */

#include <linux/export.h>

#include "rgup_exports_generated.h"
