// SPDX-License-Identifier: GPL-2.0
/*
 * The static inline that rgup_external_driver.rs calls: the kernel crate has
 * no DMA mask for faux devices.
 */

#include <linux/device.h>
#include <linux/dma-mapping.h>

int rgup_external_dma_coerce_mask(struct device *dev);

int rgup_external_dma_coerce_mask(struct device *dev)
{
	return dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
}
