/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the rgup crate: static inlines and macros of the kernel that
 * Rust cannot call directly, and the few mm facts that are not exported to
 * modules (each says which kernel function it mirrors). Bindgen turns this
 * header into rust/helpers_generated.rs (see Kbuild).
 */
#ifndef RGUP_HELPERS_H
#define RGUP_HELPERS_H

#include <linux/mm_types.h>
#include <linux/types.h>

struct page;
struct folio;

/* TASK_SIZE_MAX: one past the highest user address. */
unsigned long rgup_helper_task_size_max(void);

/* vma_is_fsdax() (include/linux/fs.h). */
bool rgup_helper_vma_is_fsdax(struct vm_area_struct *vma);

/* The s_magic of the filesystem of vma->vm_file, or 0 without a file. */
unsigned long rgup_helper_vma_fs_magic(struct vm_area_struct *vma);

/* vma_needs_dirty_tracking() (mm/vma.c), which is not exported. */
bool rgup_helper_vma_needs_dirty_tracking(struct vm_area_struct *vma);

/* arch_vma_access_permitted() for a data access (gup's last check). */
bool rgup_helper_vma_access_permitted(struct vm_area_struct *vma, bool write,
				      bool foreign);

/* rlimit(RLIMIT_MEMLOCK) of current, in pages (saturating). */
unsigned long rgup_helper_memlock_limit_pages(void);

/* atomic64_add_return(pages, &mm->pinned_vm) */
s64 rgup_helper_mm_pinned_vm_add(struct mm_struct *mm, s64 pages);

/* atomic64_read(&mm->pinned_vm) */
s64 rgup_helper_mm_pinned_vm(struct mm_struct *mm);

/* page_to_pfn() */
unsigned long rgup_helper_page_to_pfn(struct page *page);

/* page_folio() */
struct folio *rgup_helper_page_folio(struct page *page);

/* For the KUnit suites only: */
struct kunit;
struct device;

/* kunit_vm_mmap() of len bytes of private anonymous read-write memory. */
unsigned long rgup_helper_kunit_mmap_anon(struct kunit *test, unsigned long len);

/* dma_coerce_mask_and_coherent(): a DMA mask for a device without one (faux). */
int rgup_helper_dma_coerce_mask_and_coherent(struct device *dev, u64 mask);

#endif /* RGUP_HELPERS_H */
