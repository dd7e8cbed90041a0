// SPDX-License-Identifier: GPL-2.0
/*
 * What `make demo` shows of RGUP_IOC_VERSION: the version of the loaded
 * library (rgup::version()) and of the /dev/rgup uAPI, which are independent
 * (Documentation/rgup/compatibility.rst), and the features offered.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/rgup.h>

int main(void)
{
	struct rgup_version v = { .size = sizeof(v) };
	int fd = open("/dev/rgup", O_RDWR);

	if (fd < 0 || ioctl(fd, RGUP_IOC_VERSION, &v)) {
		perror("rgup_version_demo: /dev/rgup RGUP_IOC_VERSION");
		return 1;
	}
	printf("library: rgup %u.%u.%u (rgup::version() of the loaded rgup.ko; ",
	       v.major, v.minor, v.patch);
	printf("a driver built for %u.%u loads with it)\n", v.major, v.minor);
	printf("uAPI:    /dev/rgup ABI %u; this program was built for ABI %u: %s\n",
	       v.abi_version, RGUP_ABI_VERSION,
	       v.abi_version == RGUP_ABI_VERSION ? "compatible" : "INCOMPATIBLE");
	printf("features:%s%s\n", v.features & RGUP_FEATURE_PIN ? " pin" : "",
	       v.features & RGUP_FEATURE_MIRROR ? " mirror" : "");
	close(fd);
	return v.abi_version != RGUP_ABI_VERSION;
}
