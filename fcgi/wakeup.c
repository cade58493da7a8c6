#include "wakeup.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Level-triggered while its counter is not zero, so that a ring between a
 * validator's last look at the store and its poll() is not lost. */
static int wakeup_fd = -1;

int
wakeup_init(void)
{
	if (wakeup_fd < 0)
		wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return wakeup_fd < 0 ? -1 : 0;
}

void
wakeup_ring(void)
{
	uint64_t one = 1;

	/* At worst (EAGAIN: a counter near 2^64) a ring is already pending. */
	if (wakeup_fd >= 0 && write(wakeup_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake the validators: %s", strerror(errno));
}

void
wakeup_wait(int timeout_ms)
{
	struct pollfd p = { .fd = wakeup_fd, .events = POLLIN };
	uint64_t n;

	if (wakeup_fd < 0) {
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return;
	}
	/* Another validator may take the ring first (EAGAIN): both woke, and
	 * both look at the store, which is what a ring asks for. */
	if (poll(&p, 1, timeout_ms) == 1 && read(wakeup_fd, &n, sizeof(n)) < 0 &&
	    errno != EAGAIN)
		log_warn("cannot read the validators' wake-up: %s", strerror(errno));
}
