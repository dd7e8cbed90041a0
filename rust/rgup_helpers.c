// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the rgup crate, see rgup_helpers.h.
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/dma-mapping.h>
#include <linux/backing-dev.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_context.h>
#include <linux/pkeys.h>
#include <linux/sched/signal.h>

#include "rgup_helpers.h"

unsigned long rgup_helper_task_size_max(void)
{
	return TASK_SIZE_MAX;
}

bool rgup_helper_vma_is_fsdax(struct vm_area_struct *vma)
{
	return vma_is_fsdax(vma);
}

unsigned long rgup_helper_vma_fs_magic(struct vm_area_struct *vma)
{
	if (!vma->vm_file)
		return 0;
	return file_inode(vma->vm_file)->i_sb->s_magic;
}

/*
 * Mirrors vma_needs_dirty_tracking() in mm/vma.c: only shared writable
 * mappings need it, when the filesystem wants write notification or can
 * write back.
 */
bool rgup_helper_vma_needs_dirty_tracking(struct vm_area_struct *vma)
{
	const struct vm_operations_struct *ops = vma->vm_ops;
	struct address_space *mapping;

	if ((vma->vm_flags & (VM_WRITE | VM_SHARED)) != (VM_WRITE | VM_SHARED))
		return false;
	if (ops && (ops->page_mkwrite || ops->pfn_mkwrite))
		return true;
	if (vma->vm_flags & VM_PFNMAP)
		return false;
	if (!vma->vm_file)
		return false;
	mapping = vma->vm_file->f_mapping;
	return mapping && mapping_can_writeback(mapping);
}

bool rgup_helper_vma_access_permitted(struct vm_area_struct *vma, bool write,
				      bool foreign)
{
	return arch_vma_access_permitted(vma, write, false, foreign);
}

unsigned long rgup_helper_memlock_limit_pages(void)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK);

	if (limit == RLIM_INFINITY)
		return ULONG_MAX;
	return limit >> PAGE_SHIFT;
}

s64 rgup_helper_mm_pinned_vm_add(struct mm_struct *mm, s64 pages)
{
	return atomic64_add_return(pages, &mm->pinned_vm);
}

s64 rgup_helper_mm_pinned_vm(struct mm_struct *mm)
{
	return atomic64_read(&mm->pinned_vm);
}

unsigned long rgup_helper_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

struct folio *rgup_helper_page_folio(struct page *page)
{
	return page_folio(page);
}

unsigned long rgup_helper_kunit_mmap_anon(struct kunit *test, unsigned long len)
{
	return kunit_vm_mmap(test, NULL, 0, len, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
}

int rgup_helper_dma_coerce_mask_and_coherent(struct device *dev, u64 mask)
{
	return dma_coerce_mask_and_coherent(dev, mask);
}
