// SPDX-License-Identifier: GPL-2.0
/*
 * The C counterpart of rgup::p2p::DmaOnlySgt::from_user() for the benchmark
 * module rgup_bench_p2p (see rgup_bench_p2p.rs): what a C driver writes to
 * map a user range that may hold P2P memory for one device, and to undo it.
 */
#include <linux/device/faux.h>
#include <linux/dma-mapping.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "rgup_bench_p2p.h"

s64 rgup_bench_p2p_c(struct device *dev, unsigned long addr, unsigned long len,
		     unsigned int iters, unsigned int *nents)
{
	unsigned long first = addr & PAGE_MASK;
	unsigned int npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	struct page **pages;
	struct sg_table sgt;
	ktime_t start;
	unsigned int i;
	int got, ret = 0;

	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	start = ktime_get();
	for (i = 0; i < iters && !ret; i++) {
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
				*nents = sgt.nents;
				dma_unmap_sgtable(dev, &sgt, DMA_BIDIRECTIONAL, 0);
			}
			sg_free_table(&sgt);
		}
		unpin_user_pages_dirty_lock(pages, npages, true);
	}
	kvfree(pages);
	return ret ? ret : ktime_to_ns(ktime_sub(ktime_get(), start));
}

struct device *rgup_bench_p2p_device_create(void)
{
	struct faux_device *fdev = faux_device_create("rgup-bench-p2p", NULL, NULL);

	if (!fdev)
		return NULL;
	if (dma_coerce_mask_and_coherent(&fdev->dev, DMA_BIT_MASK(64))) {
		faux_device_destroy(fdev);
		return NULL;
	}
	return &fdev->dev;
}

void rgup_bench_p2p_device_destroy(struct device *dev)
{
	faux_device_destroy(container_of(dev, struct faux_device, dev));
}
