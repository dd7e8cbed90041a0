// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the rgup crate, see rgup_helpers.h.
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/dma-mapping.h>
#include <linux/backing-dev.h>
#include <linux/fs.h>
#include <linux/hmm.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_context.h>
#include <linux/mmu_notifier.h>
#include <linux/nospec.h>
#include <linux/pagemap.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/percpu.h>
#include <linux/rmap.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/pkeys.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/xarray.h>

#include "rgup_helpers.h"

unsigned long rgup_helper_task_size_max(void)
{
	return TASK_SIZE_MAX;
}

struct mm_struct *rgup_helper_current_mm(unsigned long *user_end)
{
	*user_end = TASK_SIZE_MAX;
	return current->mm;
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

/* rlimit(RLIMIT_MEMLOCK) of current, in pages (saturating). */
static unsigned long memlock_limit_pages(void)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK);

	if (limit == RLIM_INFINITY)
		return ULONG_MAX;
	return limit >> PAGE_SHIFT;
}

s64 rgup_helper_mm_pinned_vm_charge(struct mm_struct *mm, s64 pages,
				    unsigned long *limit)
{
	*limit = memlock_limit_pages();
	mmgrab(mm);
	return atomic64_add_return(pages, &mm->pinned_vm);
}

void rgup_helper_mm_pinned_vm_uncharge(struct mm_struct *mm, s64 pages)
{
	atomic64_sub(pages, &mm->pinned_vm);
	mmdrop(mm);
}

void *rgup_helper_kvmalloc_array(size_t n, size_t size, gfp_t flags)
{
	return kvmalloc_array(n, size, flags);
}

struct rgup_stats {
	s64 count[RGUP_STATS_NR + 3];	/* + 3: rgup_helper_stats_add() */
};

static DEFINE_PER_CPU(struct rgup_stats, rgup_stats);

void rgup_helper_stats_add(unsigned int first, s64 d0, s64 d1, s64 d2, s64 d3)
{
	/*
	 * Its only caller passes a counter of its enum. Clamped without a
	 * branch (one in every pin, unpin, map and fault): out of range, the
	 * changes would go to counter 0, never outside the array.
	 */
	first = array_index_nospec(first, RGUP_STATS_NR);
	this_cpu_add(rgup_stats.count[first], d0);
	this_cpu_add(rgup_stats.count[first + 1], d1);
	this_cpu_add(rgup_stats.count[first + 2], d2);
	this_cpu_add(rgup_stats.count[first + 3], d3);
}

s64 rgup_helper_stats_sum(unsigned int counter)
{
	s64 sum = 0;
	int cpu;

	if (WARN_ON_ONCE(counter >= RGUP_STATS_NR))
		return 0;
	for_each_possible_cpu(cpu)
		sum += per_cpu(rgup_stats.count[counter], cpu);
	return sum;
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

void rgup_helper_mmu_interval_set_seq(struct mmu_interval_notifier *sub,
				      unsigned long cur_seq)
{
	mmu_interval_set_seq(sub, cur_seq);
}

bool rgup_helper_mmu_interval_read_retry(struct mmu_interval_notifier *sub,
					 unsigned long seq)
{
	return mmu_interval_read_retry(sub, seq);
}

/*
 * rust/mirror.rs decodes hmm pfns with its own copy of these values; the
 * build breaks here if hmm.h ever changes them.
 */
static_assert(BITS_PER_LONG == 64);
static_assert(HMM_PFN_VALID == 1UL << 63);
static_assert(HMM_PFN_WRITE == 1UL << 62);
static_assert(HMM_PFN_ERROR == 1UL << 61);
static_assert(HMM_PFN_ORDER_SHIFT == 53);
static_assert(HMM_PFN_FLAGS == ~((1UL << 53) - 1));

int rgup_helper_hmm_range_fault(struct mmu_interval_notifier *sub,
				unsigned long start, unsigned long end,
				unsigned long *pfns, unsigned long default_flags,
				void *owner, unsigned long timeout_jiffies,
				unsigned long *seq)
{
	struct hmm_range range = {
		.notifier = sub,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = default_flags,
		.pfn_flags_mask = 0,
		.dev_private_owner = owner,
	};
	int ret;

	ret = hmm_range_fault_unlocked_timeout(&range, timeout_jiffies);
	*seq = range.notifier_seq;
	return ret;
}

struct page *rgup_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

bool rgup_helper_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void rgup_helper_cond_resched(void)
{
	cond_resched();
}

struct page *rgup_helper_hmm_pfn_to_page(unsigned long hmm_pfn)
{
	return hmm_pfn_to_page(hmm_pfn);
}

bool rgup_helper_page_is_zero(struct page *page)
{
	return is_zero_pfn(page_to_pfn(page));
}

bool rgup_helper_page_is_device(struct page *page)
{
	return is_pci_p2pdma_page(page) || is_zone_device_page(page);
}

/*
 * Called under the mirror's lock, from the fault path or from an invalidate
 * callback, where the folio is mapped by the process and cannot be freed, but
 * where lock_page() could deadlock (the invalidation may come from a path
 * that holds the folio lock, e.g. migration or folio_mkclean()).
 *
 * Anonymous, shmem and other folios without writeback are simply marked.
 * A folio of a filesystem that writes back is normally dirty already: a
 * writable PTE of a shared file mapping only exists after ->page_mkwrite()
 * dirtied it, and writeback write-protects it (invalidating the mirror) before
 * cleaning. If it is clean anyway, it is marked only under folio_trylock(),
 * as filesystems expect (ext4_dirty_folio() warns otherwise).
 */
void rgup_helper_page_mark_dirty_nosleep(struct page *page)
{
	struct folio *folio = page_folio(page);
	struct address_space *mapping;

	if (folio_test_dirty(folio))
		return;
	mapping = folio_mapping(folio);
	if (folio_test_anon(folio) || !mapping ||
	    !mapping_can_writeback(mapping)) {
		folio_mark_dirty(folio);
		return;
	}
	if (folio_trylock(folio)) {
		folio_mark_dirty(folio);
		folio_unlock(folio);
	}
}

int rgup_helper_xa_store_hmm_pfns(struct xarray *xa, unsigned long first,
				  const unsigned long *hmm_pfns, unsigned long n,
				  bool write, gfp_t gfp, unsigned long *added,
				  long *writable_delta)
{
	XA_STATE(xas, xa, first);
	unsigned long i, new = 0;
	long delta = 0;

	/* The whole window first: an invalid entry leaves nothing marked either. */
	for (i = 0; i < n; i++)
		if (!(hmm_pfns[i] & HMM_PFN_VALID) || (hmm_pfns[i] & HMM_PFN_ERROR))
			return -EFAULT;
	for (i = 0; write && i < n; i++)
		if (hmm_pfns[i] & HMM_PFN_WRITE)
			rgup_helper_page_mark_dirty_nosleep(hmm_pfn_to_page(hmm_pfns[i]));
	/*
	 * One walk along the indexes, where an xa_store() per page would take
	 * the lock and walk from the root each time. On -ENOMEM xas_nomem()
	 * allocates a node outside the lock and the store is retried at the
	 * same index.
	 */
	i = 0;
	do {
		xas_lock(&xas);
		for (; i < n; i++) {
			unsigned long hmm_pfn = hmm_pfns[i];
			bool w = write && (hmm_pfn & HMM_PFN_WRITE);
			unsigned long pfn = hmm_pfn & ~HMM_PFN_FLAGS;
			void *old;

			old = xas_store(&xas, xa_mk_value((pfn << 2) | w));
			if (xas_error(&xas))
				break;
			if (!old)
				new++;
			else if (xa_to_value(old) & 1)
				delta--;
			delta += w;
			xas_next(&xas);
		}
		xas_unlock(&xas);
	} while (xas_nomem(&xas, gfp));
	*added = new;
	*writable_delta = delta;
	return xas_error(&xas);
}

struct page *rgup_helper_pfn_to_cpu_page(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	return rgup_helper_page_is_device(page) ? NULL : page;
}

struct page *rgup_helper_make_device_exclusive(struct mm_struct *mm,
					       unsigned long addr, void *owner,
					       struct folio **foliop)
{
	return make_device_exclusive(mm, addr, owner, foliop);
}

void rgup_helper_folio_unlock_put(struct folio *folio)
{
	folio_unlock(folio);
	folio_put(folio);
}

unsigned long rgup_helper_xa_erase_values(struct xarray *xa, unsigned long first,
					  unsigned long last, unsigned long *writable)
{
	XA_STATE(xas, xa, first);
	unsigned long erased = 0, w = 0, batch = 0;
	void *entry;

	xas_lock(&xas);
	xas_for_each(&xas, entry, last) {
		if (xa_is_value(entry) && (xa_to_value(entry) & 1))
			w++;
		xas_store(&xas, NULL);
		erased++;
		/* Let others take the xarray lock now and then on huge ranges. */
		if (++batch == 1024) {
			batch = 0;
			xas_pause(&xas);
			xas_unlock(&xas);
			xas_lock(&xas);
		}
	}
	xas_unlock(&xas);
	*writable = w;
	return erased;
}

void rgup_helper_fs_reclaim_acquire(void)
{
	fs_reclaim_acquire(GFP_KERNEL);
}

void rgup_helper_fs_reclaim_release(void)
{
	fs_reclaim_release(GFP_KERNEL);
}

unsigned int rgup_helper_dma_seg_limits(struct device *dev,
					unsigned long *boundary)
{
	*boundary = dma_get_seg_boundary(dev);
	return dma_get_max_seg_size(dev);
}

unsigned int rgup_helper_sg_dma_read(struct scatterlist **sg, unsigned int n,
				     struct rgup_dma_seg *out)
{
	unsigned int i;

	for (i = 0; i < n && *sg; i++, *sg = sg_next(*sg)) {
		out[i].addr = sg_dma_address(*sg);
		out[i].len = sg_dma_len(*sg);
		out[i].bus = sg_dma_is_bus_address(*sg);
	}
	return i;
}

unsigned long rgup_helper_pages_count_p2pdma(struct page **pages,
					     unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		n += is_pci_p2pdma_page(pages[i]);
	return n;
}

struct pci_dev *rgup_helper_p2pmem_find_get(struct device *client)
{
	return pci_p2pmem_find(client);
}

struct page *rgup_helper_virt_to_page(void *addr)
{
	return virt_to_page(addr);
}

void rgup_helper_pci_dev_put(struct pci_dev *pdev)
{
	pci_dev_put(pdev);
}

unsigned long rgup_helper_kunit_mmap_anon(struct kunit *test, unsigned long len,
					  bool writable)
{
	return kunit_vm_mmap(test, NULL, 0, len, PROT_READ | (writable ? PROT_WRITE : 0),
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
}

struct mm_struct *rgup_helper_kunit_detach_mm(void)
{
	struct mm_struct *mm = current->mm;

	if (!mm || !(current->flags & PF_KTHREAD))
		return NULL;
	kthread_unuse_mm(mm);
	return mm;
}

int rgup_helper_dma_coerce_mask_and_coherent(struct device *dev, u64 mask)
{
	return dma_coerce_mask_and_coherent(dev, mask);
}

bool rgup_helper_dma_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && (domain->type & __IOMMU_DOMAIN_PAGING);
}

bool rgup_helper_dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
				    u64 phys, size_t size)
{
	return dma_iova_try_alloc(dev, state, phys, size);
}

int rgup_helper_dma_iova_link(struct device *dev, struct dma_iova_state *state,
			      u64 phys, size_t offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	return dma_iova_link(dev, state, phys, offset, size, dir, attrs);
}

int rgup_helper_dma_iova_sync(struct device *dev, struct dma_iova_state *state,
			      size_t offset, size_t size)
{
	return dma_iova_sync(dev, state, offset, size);
}

void rgup_helper_dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
				  size_t mapped_len, enum dma_data_direction dir,
				  unsigned long attrs)
{
	if (mapped_len)
		dma_iova_destroy(dev, state, mapped_len, dir, attrs);
	else
		dma_iova_free(dev, state);
}

bool rgup_helper_page_dirty(struct page *page)
{
	return folio_test_dirty(page_folio(page));
}
