// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the whole `rgup` library to the drivers that depend on it: every
 * global symbol that rust/rgup.o and rust/rgup_helpers.o define. The list (an
 * "extern int sym;" declaration and an EXPORT_SYMBOL_GPL(sym) line per
 * symbol) is generated at build time, see Kbuild, as rust/exports.c does for
 * the kernel crate. This is a workaround until the kernel's build system
 * supports Rust cross-module dependencies natively.
 */

#include <linux/export.h>

#include "rgup_exports_generated.h"
