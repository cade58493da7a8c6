#include "addrrate.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/mman.h>

#include <openssl/rand.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/* word: the hour (high 32 bits) and the count in it (low 32 bits). */
struct addrrate_slot {
	_Atomic uint64_t key;           /* the address's hash; 0 = never used */
	_Atomic uint64_t word;
};

struct addrrate_table {
	uint64_t seed;                  /* keys the hash: written before fork */
	struct addrrate_slot slots[ADDRRATE_SLOTS];
};

static struct addrrate_table *addrrate_tab;

int
addrrate_init(void)
{
	if (addrrate_tab != NULL)
		return 0;
	addrrate_tab = mmap(NULL, sizeof(*addrrate_tab), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (addrrate_tab == MAP_FAILED) {
		addrrate_tab = NULL;
		return -1;
	}
	if (RAND_bytes((unsigned char *)&addrrate_tab->seed, sizeof(addrrate_tab->seed)) != 1) {
		munmap(addrrate_tab, sizeof(*addrrate_tab));
		addrrate_tab = NULL;
		return -1;
	}
	return 0;
}

/* FNV-1a over the address's counted bytes, from the secret seed, so that
 * no one picks addresses that share another's slots; never 0. */
static uint64_t
addrrate_hash(const char *text)
{
	unsigned char addr[16];
	size_t len;
	uint64_t h = addrrate_tab->seed ^ 0xcbf29ce484222325ULL;

	if (inet_pton(AF_INET, text, addr) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, text, addr) == 1)
		len = 8;                /* the /64 */
	else
		return 0;
	for (size_t i = 0; i < len; i++)
		h = (h ^ addr[i]) * 0x100000001b3ULL;
	h ^= len;                       /* an IPv4 address is no /64 */
	return h != 0 ? h : 1;
}

/* The slot of key for hour: its own, a free or stale one it takes, or,
 * when the probe finds neither, the last one probed. */
static struct addrrate_slot *
addrrate_slot(uint64_t key, uint64_t hour)
{
	struct addrrate_slot *s = NULL;

	for (size_t i = 0; i < ADDRRATE_PROBE; i++) {
		uint64_t k;

		s = &addrrate_tab->slots[(key + i) % ADDRRATE_SLOTS];
		k = atomic_load(&s->key);
		if (k == key)
			return s;
		if ((k == 0 || atomic_load(&s->word) >> 32 != hour) &&
		    (atomic_compare_exchange_strong(&s->key, &k, key) || k == key))
			return s;
	}
	return s;
}

bool
addrrate_take(const char *addr, int limit, time_t now, int *retry_after)
{
	uint64_t key, hour = (uint64_t)now / 3600, w, next;
	struct addrrate_slot *s;

	if (addrrate_tab == NULL || (key = addrrate_hash(addr)) == 0)
		return true;
	s = addrrate_slot(key, hour);
	w = atomic_load(&s->word);
	do {
		if (w >> 32 != hour)
			next = hour << 32 | 1;
		else if ((w & 0xffffffffu) >= (uint64_t)limit) {
			*retry_after = (int)(3600 - now % 3600);
			return false;
		} else
			next = w + 1;
	} while (!atomic_compare_exchange_weak(&s->word, &w, next));
	return true;
}
