/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the rgup crate: static inlines and macros of the kernel that
 * Rust cannot call directly, and the few mm facts that are not exported to
 * modules (each says which kernel function it mirrors). Bindgen turns this
 * header into rust/helpers_generated.rs (see Kbuild).
 */
#ifndef RGUP_HELPERS_H
#define RGUP_HELPERS_H

#include <linux/dma-direction.h>
#include <linux/mm_types.h>
#include <linux/types.h>

struct xarray;

struct page;
struct folio;

/* TASK_SIZE_MAX: one past the highest user address. */
unsigned long rgup_helper_task_size_max(void);
/*
 * current->mm (NULL for a kernel thread), and TASK_SIZE_MAX in *user_end: what
 * a pin of the current task needs first, in one call.
 */
struct mm_struct *rgup_helper_current_mm(unsigned long *user_end);

/* vma_is_fsdax() (include/linux/fs.h). */
bool rgup_helper_vma_is_fsdax(struct vm_area_struct *vma);

/* The s_magic of the filesystem of vma->vm_file, or 0 without a file. */
unsigned long rgup_helper_vma_fs_magic(struct vm_area_struct *vma);

/* vma_needs_dirty_tracking() (mm/vma.c), which is not exported. */
bool rgup_helper_vma_needs_dirty_tracking(struct vm_area_struct *vma);

/* arch_vma_access_permitted() for a data access (gup's last check). */
bool rgup_helper_vma_access_permitted(struct vm_area_struct *vma, bool write,
				      bool foreign);

/*
 * The charge of account_locked_vm() (mm/util.c) on pinned_vm, in one call:
 * mmgrab(mm), then atomic64_add_return(pages, &mm->pinned_vm), with current's
 * RLIMIT_MEMLOCK in pages (saturating) in *limit. The caller asks for
 * CAP_IPC_LOCK past the limit, and returns both with
 * rgup_helper_mm_pinned_vm_uncharge().
 */
s64 rgup_helper_mm_pinned_vm_charge(struct mm_struct *mm, s64 pages,
				    unsigned long *limit);

/* atomic64_sub(pages, &mm->pinned_vm), then mmdrop(mm). */
void rgup_helper_mm_pinned_vm_uncharge(struct mm_struct *mm, s64 pages);

/* kvmalloc_array(n, size, flags): kvfree() frees it. */
void *rgup_helper_kvmalloc_array(size_t n, size_t size, gfp_t flags);

/*
 * rgup's global counters (rust/stats.rs), per CPU: an update is one
 * this_cpu_add() per counter, not an atomic on a line every CPU writes.
 */
#define RGUP_STATS_NR 10

/*
 * this_cpu_add() of d0, d1, d2 and d3 to the counters first to first + 3, an
 * event's changes in one straight line (rust/stats.rs orders the counters so
 * that every event changes consecutive ones, and passes 0 for the others).
 * first is below RGUP_STATS_NR; the per-CPU array has three spare counters
 * after the last, which nothing reads.
 */
void rgup_helper_stats_add(unsigned int first, s64 d0, s64 d1, s64 d2, s64 d3);

/* The sum of counter over the possible CPUs. */
s64 rgup_helper_stats_sum(unsigned int counter);

/* atomic64_read(&mm->pinned_vm) */
s64 rgup_helper_mm_pinned_vm(struct mm_struct *mm);

/* page_to_pfn() */
unsigned long rgup_helper_page_to_pfn(struct page *page);

/* page_folio() */
struct folio *rgup_helper_page_folio(struct page *page);

/* --- rgup::mirror: include/linux/mmu_notifier.h and include/linux/hmm.h --- */

struct mmu_interval_notifier;

/* mmu_interval_set_seq() */
void rgup_helper_mmu_interval_set_seq(struct mmu_interval_notifier *sub,
				      unsigned long cur_seq);

/* mmu_interval_read_retry() */
bool rgup_helper_mmu_interval_read_retry(struct mmu_interval_notifier *sub,
					 unsigned long seq);

/*
 * hmm_range_fault_unlocked_timeout() on [start, end) of sub's mm, with the
 * range built here (struct hmm_range is not in the kernel crate's bindings).
 * pfns[] holds (end - start) >> PAGE_SHIFT entries; *seq receives the
 * notifier sequence the result is valid for. The caller holds an mm_users
 * reference; the helper takes the mmap read lock (a caller holding it
 * deadlocks).
 */
int rgup_helper_hmm_range_fault(struct mmu_interval_notifier *sub,
				unsigned long start, unsigned long end,
				unsigned long *pfns, unsigned long default_flags,
				void *owner, unsigned long timeout_jiffies,
				unsigned long *seq);

/* pfn_to_page() */
struct page *rgup_helper_pfn_to_page(unsigned long pfn);

/* fatal_signal_pending(current) */
bool rgup_helper_fatal_signal_pending(void);

/* cond_resched() */
void rgup_helper_cond_resched(void);

/* hmm_pfn_to_page() */
struct page *rgup_helper_hmm_pfn_to_page(unsigned long hmm_pfn);

/* is_zero_pfn(page_to_pfn(page)) */
bool rgup_helper_page_is_zero(struct page *page);

/* is_pci_p2pdma_page() || is_zone_device_page(): memory the CPU must not touch */
bool rgup_helper_page_is_device(struct page *page);

/*
 * Marks the folio of page dirty without sleeping and without lock_page(): for
 * a device that may have written it through a mirror. See rgup_helpers.c.
 */
void rgup_helper_page_mark_dirty_nosleep(struct page *page);

/* make_device_exclusive() (linux/rmap.h); the caller holds the mmap read lock */
struct page *rgup_helper_make_device_exclusive(struct mm_struct *mm,
					       unsigned long addr, void *owner,
					       struct folio **foliop);

/* folio_unlock() and folio_put(): what make_device_exclusive() returned */
void rgup_helper_folio_unlock_put(struct folio *folio);

/*
 * Erases every entry of xa in [first, last] in one walk, in batches under the
 * xarray lock; returns how many there were, and in *writable how many of
 * them were value entries with bit 0 set (rgup::mirror's writable bit).
 */
unsigned long rgup_helper_xa_erase_values(struct xarray *xa, unsigned long first,
					  unsigned long last, unsigned long *writable);

/*
 * Stores one hmm_range_fault() window in rgup::mirror's table: entry i, at
 * index first + i, is xa_mk_value(pfn << 2 | w) (Entry::encode() in
 * rust/mirror.rs, not exclusive), w being write && HMM_PFN_WRITE. The pages
 * of w entries are marked dirty first. One pass under the xarray lock.
 * Returns 0, -EFAULT (an entry not valid: nothing stored or marked) or
 * -ENOMEM; *added is how many stored entries had no translation before,
 * *writable_delta the change in writable entries, also on -ENOMEM (for those
 * stored before it).
 */
int rgup_helper_xa_store_hmm_pfns(struct xarray *xa, unsigned long first,
				  const unsigned long *hmm_pfns, unsigned long n,
				  bool write, gfp_t gfp, unsigned long *added,
				  long *writable_delta);

/* pfn_to_page(), or NULL for device memory (rgup_helper_page_is_device()) */
struct page *rgup_helper_pfn_to_cpu_page(unsigned long pfn);

/* fs_reclaim_acquire(GFP_KERNEL) / fs_reclaim_release(GFP_KERNEL) */
void rgup_helper_fs_reclaim_acquire(void);
void rgup_helper_fs_reclaim_release(void);

/* --- rgup::p2p: include/linux/pci-p2pdma.h, include/linux/scatterlist.h --- */

struct pci_dev;
struct scatterlist;

/* dma_get_max_seg_size(), and dma_get_seg_boundary() in *boundary */
unsigned int rgup_helper_dma_seg_limits(struct device *dev,
					unsigned long *boundary);

/*
 * One entry of the DMA list of a mapped scatterlist, laid out as rgup's
 * Segment (rust/dma.rs asserts it): the helper below writes the entries of a
 * list in place.
 */
struct rgup_dma_seg {
	dma_addr_t addr;		/* sg_dma_address() */
	unsigned long len;		/* sg_dma_len() */
	bool bus;			/* sg_dma_is_bus_address() */
};

/*
 * Reads up to n entries of the DMA list of a mapped scatterlist, from *sg on,
 * into out[] and moves *sg past them (sg_next()): one call per list (or
 * batch), not four per entry. Returns how many were read: n, or fewer at the
 * end of the chain.
 */
unsigned int rgup_helper_sg_dma_read(struct scatterlist **sg, unsigned int n,
				     struct rgup_dma_seg *out);

/* How many of the npages pages are PCI P2P memory (is_pci_p2pdma_page()). */
unsigned long rgup_helper_pages_count_p2pdma(struct page **pages,
					     unsigned long npages);

/* pci_p2pmem_find(client): the closest published provider, referenced, or NULL */
struct pci_dev *rgup_helper_p2pmem_find_get(struct device *client);

/* virt_to_page() */
struct page *rgup_helper_virt_to_page(void *addr);

/* pci_dev_put() */
void rgup_helper_pci_dev_put(struct pci_dev *pdev);

/*
 * --- rgup::dma: the two-step DMA API (include/linux/dma-mapping.h), which
 * is static inline without CONFIG_IOMMU_DMA ---
 */
struct dma_iova_state;

/* dma_iova_try_alloc() */
bool rgup_helper_dma_iova_try_alloc(struct device *dev, struct dma_iova_state *state,
				    u64 phys, size_t size);

/* dma_iova_link() */
int rgup_helper_dma_iova_link(struct device *dev, struct dma_iova_state *state,
			      u64 phys, size_t offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs);

/* dma_iova_sync() */
int rgup_helper_dma_iova_sync(struct device *dev, struct dma_iova_state *state,
			      size_t offset, size_t size);

/* dma_iova_destroy(), or dma_iova_free() when nothing is linked */
void rgup_helper_dma_iova_destroy(struct device *dev, struct dma_iova_state *state,
				  size_t mapped_len, enum dma_data_direction dir,
				  unsigned long attrs);

/* Whether dev's DMA goes through a translating IOMMU domain (iommu_get_domain_for_dev()). */
bool rgup_helper_dma_translated(struct device *dev);

/* For the KUnit suites only: */

/* folio_test_dirty(page_folio(page)) */
bool rgup_helper_page_dirty(struct page *page);
struct kunit;
struct device;

/* kunit_vm_mmap() of len bytes of private anonymous memory, read-only or read-write. */
unsigned long rgup_helper_kunit_mmap_anon(struct kunit *test, unsigned long len,
					  bool writable);

/*
 * Detaches the calling KUnit thread from the mm kunit_attach_mm() gave it
 * (kthread_unuse_mm()) and returns that mm, or NULL if there is none: the
 * mm_users reference the thread held, which its exit would have dropped, is
 * the caller's.
 */
struct mm_struct *rgup_helper_kunit_detach_mm(void);

/* dma_coerce_mask_and_coherent(): a DMA mask for a device without one (faux). */
int rgup_helper_dma_coerce_mask_and_coherent(struct device *dev, u64 mask);

#endif /* RGUP_HELPERS_H */
