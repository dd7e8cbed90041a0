// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/rgup basics: open/close, RGUP_IOC_VERSION and the extensible-struct
 * rules every command shares (include/uapi/linux/rgup.h).
 *
 * Needs rgup.ko loaded; the permission test needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/rgup.h>

#include "kselftest_harness.h"

FIXTURE(rgup_dev)
{
	int fd;
};

FIXTURE_SETUP(rgup_dev)
{
	self->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: is rgup.ko loaded?");
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/rgup: %s", strerror(errno));
}

FIXTURE_TEARDOWN(rgup_dev)
{
	if (self->fd >= 0)
		ASSERT_EQ(0, close(self->fd));
}

/* ioctl(), returning -errno instead of -1. */
static int rgup_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

TEST_F(rgup_dev, version)
{
	struct rgup_version v = { .size = sizeof(v) };

	ASSERT_EQ(0, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &v));
	EXPECT_EQ(sizeof(v), v.size);
	EXPECT_EQ(RGUP_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.major);
	EXPECT_LE(1, v.minor);
	EXPECT_EQ(0, v.reserved);
	EXPECT_EQ(RGUP_FEATURE_PIN | RGUP_FEATURE_MIRROR, v.features);
}

TEST_F(rgup_dev, version_newer_caller_zero_tail)
{
	struct {
		struct rgup_version v;
		uint64_t future[4];
	} big = { .v.size = sizeof(big) };

	ASSERT_EQ(0, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &big));
	EXPECT_EQ(RGUP_ABI_VERSION, big.v.abi_version);
	/* The kernel writes back only what it knows. */
	EXPECT_EQ(0, big.future[0]);
	EXPECT_EQ(0, big.future[3]);
}

TEST_F(rgup_dev, version_newer_caller_nonzero_tail_e2big)
{
	struct {
		struct rgup_version v;
		uint64_t future;
	} big = { .v.size = sizeof(big), .future = 1 };

	EXPECT_EQ(-E2BIG, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &big));
	EXPECT_EQ(0, big.v.abi_version);
}

TEST_F(rgup_dev, version_size_below_ver0_einval)
{
	struct rgup_version v = { .size = RGUP_VERSION_SIZE_VER0 - 1 };

	EXPECT_EQ(-EINVAL, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &v));
	v.size = 0;
	EXPECT_EQ(-EINVAL, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &v));
}

TEST_F(rgup_dev, version_size_above_page_e2big)
{
	size_t len = 2 * getpagesize();
	struct rgup_version *v = calloc(1, len);

	ASSERT_NE(NULL, v);
	v->size = getpagesize() + 8;
	EXPECT_EQ(-E2BIG, rgup_ioctl(self->fd, RGUP_IOC_VERSION, v));
	v->size = getpagesize();
	EXPECT_EQ(0, rgup_ioctl(self->fd, RGUP_IOC_VERSION, v));
	free(v);
}

TEST_F(rgup_dev, version_reserved_nonzero_einval)
{
	struct rgup_version v = { .size = sizeof(v), .reserved = 1 };

	EXPECT_EQ(-EINVAL, rgup_ioctl(self->fd, RGUP_IOC_VERSION, &v));
}

TEST_F(rgup_dev, version_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, rgup_ioctl(self->fd, RGUP_IOC_VERSION, NULL));
	/* A kernel address. */
	EXPECT_EQ(-EFAULT, rgup_ioctl(self->fd, RGUP_IOC_VERSION,
				      (void *)0xffffffff81000000ul));
}

TEST_F(rgup_dev, version_struct_crosses_into_unmapped_efault)
{
	long page = getpagesize();
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rgup_version *v;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	/* size is readable, the rest of the struct is not. */
	v = (struct rgup_version *)(map + page - sizeof(__u32));
	v->size = sizeof(*v);
	EXPECT_EQ(-EFAULT, rgup_ioctl(self->fd, RGUP_IOC_VERSION, v));
	ASSERT_EQ(0, munmap(map, page));
}

TEST_F(rgup_dev, unknown_command_enotty)
{
	struct rgup_version v = { .size = sizeof(v) };

	EXPECT_EQ(-ENOTTY, rgup_ioctl(self->fd, _IO(RGUP_IOCTL_MAGIC, 0x7f), &v));
	EXPECT_EQ(-ENOTTY, rgup_ioctl(self->fd, _IO('x', RGUP_CMD_VERSION), &v));
	/* The same number with size/direction bits is another command. */
	EXPECT_EQ(-ENOTTY, rgup_ioctl(self->fd,
				      _IOWR(RGUP_IOCTL_MAGIC, RGUP_CMD_VERSION,
					    struct rgup_version), &v));
}

TEST(open_many_close)
{
	int fds[64], i;

	for (i = 0; i < 64; i++) {
		fds[i] = open("/dev/rgup", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, close(fds[i]));
}

/*
 * Who may open which node (Documentation/rgup/design.rst, "Device nodes and
 * privileges"): devtmpfs makes every node 0600 root; with the mode opened up
 * (what a udev rule would do), an unprivileged user may use /dev/rgup but
 * still not the test interfaces, which need CAP_SYS_ADMIN at open.
 */
TEST(node_permissions)
{
	static const char *const nodes[] = {
		"/dev/rgup", "/dev/rgup_gup_test", "/dev/rgup_dmirror0", "/dev/rgup_dmirror1",
	};
	/* As nobody: with the nodes 0600, then with them 0666. */
	static const int want[2][4] = {
		{ EACCES, EACCES, EACCES, EACCES },
		{ 0, EPERM, EPERM, EPERM },
	};
	struct stat st[4];
	int status;

	if (geteuid())
		SKIP(return, "needs root");
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, stat(nodes[i], &st[i])) TH_LOG("%s", nodes[i]);
		EXPECT_EQ(0600, st[i].st_mode & 07777) TH_LOG("%s", nodes[i]);
		EXPECT_EQ(0, st[i].st_uid);
	}
	for (int round = 0; round < 2; round++) {
		pid_t pid;

		for (int i = 0; round && i < 4; i++)
			ASSERT_EQ(0, chmod(nodes[i], 0666));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			if (setgid(65534) || setuid(65534))
				_exit(100);
			for (int i = 0; i < 4; i++) {
				int fd = open(nodes[i], O_RDWR | O_CLOEXEC);
				int err = fd < 0 ? errno : 0;

				if (err != want[round][i])
					_exit(10 * round + i + 1);
				if (fd >= 0)
					close(fd);
			}
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		for (int i = 0; round && i < 4; i++)
			ASSERT_EQ(0, chmod(nodes[i], st[i].st_mode & 07777));
		ASSERT_TRUE(WIFEXITED(status));
		/* 10 * round + node + 1: which open went wrong. */
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
}

TEST_HARNESS_MAIN
