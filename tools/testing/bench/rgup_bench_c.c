// SPDX-License-Identifier: GPL-2.0
/*
 * The C counterparts of rgup's calls for the benchmark module rgup_bench
 * (see rgup_bench.rs): what a C driver writes to pin a user range long-term,
 * and to map a user range that may hold P2P memory for one device, and to
 * undo them.
 */
#include <linux/capability.h>
#include <linux/device/faux.h>
#include <linux/dma-mapping.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "rgup_bench.h"
#include "../../../rust/rgup_helpers.h"

s64 rgup_bench_p2p_c(struct device *dev, unsigned long addr, unsigned long len,
		     unsigned int iters, bool one_array, unsigned int *nents)
{
	unsigned long first = addr & PAGE_MASK;
	unsigned int npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	struct page **pages = NULL;
	struct scatterlist *sg;
	struct sg_table sgt;
	unsigned long bytes;
	ktime_t start;
	unsigned int i, k;
	int got, ret = 0;

	if (one_array) {
		pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
	}
	start = ktime_get();
	for (i = 0; i < iters && !ret; i++) {
		if (!one_array) {
			pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
			if (!pages)
				return -ENOMEM;
		}
		got = pin_user_pages_fast(first, npages, FOLL_PCI_P2PDMA | FOLL_WRITE, pages);
		if (got != npages) {
			if (got > 0)
				unpin_user_pages(pages, got);
			ret = got < 0 ? got : -EFAULT;
			break;
		}
		ret = sg_alloc_table_from_pages_segment(&sgt, pages, npages, addr - first, len,
							dma_max_mapping_size(dev), GFP_KERNEL);
		if (!ret) {
			ret = dma_map_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, 0);
			if (!ret) {
				/* The DMA list, as a driver reads it to program its device. */
				bytes = 0;
				for_each_sgtable_dma_sg(&sgt, sg, k)
					bytes += sg_dma_len(sg);
				if (bytes != len)
					ret = -EIO;
				*nents = sgt.nents;
				dma_unmap_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, 0);
			}
			sg_free_table(&sgt);
		}
		unpin_user_pages_dirty_lock(pages, npages, true);
		if (!one_array) {
			kvfree(pages);
			pages = NULL;
		}
	}
	kvfree(pages);
	return ret ? ret : ktime_to_ns(ktime_sub(ktime_get(), start));
}

/*
 * What rgup_bench_p2p_c(.., false, ..) does, making the calls
 * DmaOnlySgt::from_user() and its drop make where the C inlines
 * (Documentation/rgup/performance.rst, "Issue 15, third round"): rgup's
 * helpers for TASK_SIZE_MAX, the page array, the count of peer pages, the
 * device's segment limits, the DMA list and the global counters (p2p_lists
 * and p2p_segments up, then down: net zero). rgup reads the DMA list by one
 * call, into the list it keeps; the floor keeps no list and reads it in
 * batches of 32 entries on the stack (a call more per 32 entries).
 */
s64 rgup_bench_p2p_c_floor(struct device *dev, unsigned long addr, unsigned long len,
			   unsigned int iters, unsigned int *nents)
{
	unsigned long first = addr & PAGE_MASK;
	unsigned int npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	struct rgup_dma_seg batch[32];
	unsigned long boundary, bytes;
	unsigned int i, k, got, left, max_seg;
	struct scatterlist *sg;
	struct page **pages;
	struct sg_table sgt;
	int pinned, ret = 0;
	ktime_t start;

	start = ktime_get();
	for (i = 0; i < iters && !ret; i++) {
		if (addr + len > rgup_helper_task_size_max())
			return -EINVAL;
		pages = rgup_helper_kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
		if (!pages)
			return -ENOMEM;
		pinned = pin_user_pages_fast(first, npages, FOLL_PCI_P2PDMA | FOLL_WRITE, pages);
		if (pinned != npages) {
			if (pinned > 0)
				unpin_user_pages(pages, pinned);
			kvfree(pages);
			return pinned < 0 ? pinned : -EFAULT;
		}
		if (rgup_helper_pages_count_p2pdma(pages, npages))
			ret = -EINVAL;	/* the benchmark maps system RAM */
		max_seg = rgup_helper_dma_seg_limits(dev, &boundary);
		if (!ret)
			ret = sg_alloc_table_from_pages_segment(&sgt, pages, npages, addr - first,
								len, max_seg, GFP_KERNEL_ACCOUNT);
		if (!ret) {
			ret = dma_map_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, 0);
			if (!ret) {
				bytes = 0;
				sg = sgt.sgl;
				for (left = sgt.nents; left; left -= got) {
					got = rgup_helper_sg_dma_read(&sg, min(left, 32U), batch);
					if (!got)
						break;
					for (k = 0; k < got; k++)
						bytes += batch[k].len;
				}
				if (bytes != len)
					ret = -EIO;
				*nents = sgt.nents;
				/* rust/stats.rs: p2p_lists, p2p_segments */
				rgup_helper_stats_add(8, 1, sgt.nents, 0, 0);
				rgup_helper_stats_add(8, -1, -(s64)sgt.nents, 0, 0);
				dma_unmap_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, 0);
			}
			sg_free_table(&sgt);
		}
		unpin_user_pages_dirty_lock(pages, npages, true);
		kvfree(pages);
	}
	return ret ? ret : ktime_to_ns(ktime_sub(ktime_get(), start));
}

/* Charges npages to mm->pinned_vm as rgup does (and mm/util.c's account_locked_vm()). */
static int charge(struct mm_struct *mm, unsigned long npages)
{
	s64 locked = atomic64_add_return(npages, &mm->pinned_vm);

	if (locked > rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	mmgrab(mm);
	return 0;
}

static void uncharge(struct mm_struct *mm, unsigned long npages)
{
	atomic64_sub(npages, &mm->pinned_vm);
	mmdrop(mm);
}

/*
 * pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) of npages from first into pages,
 * under the caller's mmap lock, until all are pinned or one call pins none;
 * returns how many were pinned and the last call's result in *got.
 */
static unsigned long pin_range(unsigned long first, unsigned long npages,
			       struct page **pages, long *got)
{
	unsigned long done;

	for (done = 0; done < npages; done += *got) {
		*got = pin_user_pages(first + done * PAGE_SIZE, npages - done,
				      FOLL_WRITE | FOLL_LONGTERM, pages + done);
		if (*got <= 0)
			break;
	}
	return done;
}

s64 rgup_bench_pin_c(unsigned long addr, unsigned long len, unsigned int iters,
		     unsigned int what)
{
	unsigned long first = addr & PAGE_MASK;
	unsigned long npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	struct mm_struct *mm = current->mm;
	struct page **pages;
	unsigned long done;
	ktime_t start;
	unsigned int i;
	long got = 0;

	start = ktime_get();
	for (i = 0; i < iters; i++) {
		if (what == 4) {
			mmap_read_lock(mm);
			mmap_read_unlock(mm);
			continue;
		}
		pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		if (what == 5 && charge(mm, npages)) {
			kvfree(pages);
			return -ENOMEM;
		}
		mmap_read_lock(mm);
		done = pin_range(first, npages, pages, &got);
		mmap_read_unlock(mm);
		unpin_user_pages(pages, done);
		kvfree(pages);
		if (what == 5)
			uncharge(mm, npages);
		if (done != npages)
			return got < 0 ? got : -EFAULT;
	}
	return ktime_to_ns(ktime_sub(ktime_get(), start));
}

/*
 * What rgup_bench_pin_c(.., 5) does, making the calls rgup makes where the C
 * inlines (Documentation/rgup/performance.rst, "Issue 15, third round"): rgup's
 * helper for current->mm and TASK_SIZE_MAX, the kernel's Rust helpers for the
 * mmap lock, rgup's helpers for the page array and the charge, and rgup's
 * global counters (pins, pinned_pages and charged_pages up, then down: net
 * zero; pins_total counts these pins too).
 */
s64 rgup_bench_pin_c_floor(unsigned long addr, unsigned long len, unsigned int iters)
{
	unsigned long first = addr & PAGE_MASK;
	unsigned long npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	unsigned long limit, done, user_end;
	struct mm_struct *mm;
	struct page **pages;
	ktime_t start;
	unsigned int i;
	long got = 0;

	start = ktime_get();
	for (i = 0; i < iters; i++) {
		mm = rgup_helper_current_mm(&user_end);
		if (addr + len > user_end)
			return -EINVAL;
		pages = rgup_helper_kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
		if (!pages)
			return -ENOMEM;
		if (rgup_helper_mm_pinned_vm_charge(mm, npages, &limit) > limit &&
		    !capable(CAP_IPC_LOCK)) {
			rgup_helper_mm_pinned_vm_uncharge(mm, npages);
			kvfree(pages);
			return -ENOMEM;
		}
		rust_helper_mmap_read_lock(mm);
		done = pin_range(first, npages, pages, &got);
		rust_helper_mmap_read_unlock(mm);
		if (done != npages) {
			unpin_user_pages(pages, done);
			rgup_helper_mm_pinned_vm_uncharge(mm, npages);
			kvfree(pages);
			return got < 0 ? got : -EFAULT;
		}
		/* rust/stats.rs: pins, pinned_pages, charged_pages, pins_total */
		rgup_helper_stats_add(1, 1, npages, npages, 1);
		unpin_user_pages(pages, npages);
		rgup_helper_stats_add(1, -1, -(s64)npages, -(s64)npages, 0);
		rgup_helper_mm_pinned_vm_uncharge(mm, npages);
		kvfree(pages);
	}
	return ktime_to_ns(ktime_sub(ktime_get(), start));
}

struct device *rgup_bench_device_create(void)
{
	struct faux_device *fdev = faux_device_create("rgup-bench", NULL, NULL);

	if (!fdev)
		return NULL;
	if (dma_coerce_mask_and_coherent(&fdev->dev, DMA_BIT_MASK(64))) {
		faux_device_destroy(fdev);
		return NULL;
	}
	return &fdev->dev;
}

void rgup_bench_device_destroy(struct device *dev)
{
	faux_device_destroy(container_of(dev, struct faux_device, dev));
}
