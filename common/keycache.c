#include "keycache.h"

#include <stdlib.h>
#include <string.h>

/* Direct-mapped by id: accounts are numbered in order, so the most recent
 * ones never collide, and a collision only costs one import. */
#define KEYCACHE_SLOTS 128

struct keycache_slot {
	int64_t id;
	char *jwk;
	EVP_PKEY *key;
};

static struct keycache_slot keycache[KEYCACHE_SLOTS];

static struct keycache_slot *
keycache_slot(int64_t id)
{
	return &keycache[(uint64_t)id % KEYCACHE_SLOTS];
}

EVP_PKEY *
keycache_get(int64_t id, const char *jwk)
{
	struct keycache_slot *s = keycache_slot(id);

	if (s->key == NULL || s->id != id || strcmp(s->jwk, jwk) != 0)
		return NULL;
	if (EVP_PKEY_up_ref(s->key) != 1)
		return NULL;
	return s->key;
}

void
keycache_put(int64_t id, const char *jwk, EVP_PKEY *key)
{
	struct keycache_slot *s = keycache_slot(id);
	char *copy;

	if ((copy = strdup(jwk)) == NULL || EVP_PKEY_up_ref(key) != 1) {
		free(copy);
		return;
	}
	EVP_PKEY_free(s->key);
	free(s->jwk);
	s->id = id;
	s->jwk = copy;
	s->key = key;
}
