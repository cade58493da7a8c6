#include "keycache.h"

#include <stdlib.h>
#include <string.h>

/* Direct-mapped by id: accounts are numbered in order, so the most recent
 * ones never collide, and a collision only costs one import. */
#define KEYCACHE_SLOTS 128

struct keycache_slot {
	int64_t id;
	char *jwk;
	struct jws_verifier *v;
};

static struct keycache_slot keycache[KEYCACHE_SLOTS];

static struct keycache_slot *
keycache_slot(int64_t id)
{
	return &keycache[(uint64_t)id % KEYCACHE_SLOTS];
}

struct jws_verifier *
keycache_get(int64_t id, const char *jwk)
{
	struct keycache_slot *s = keycache_slot(id);

	if (s->v == NULL || s->id != id || strcmp(s->jwk, jwk) != 0)
		return NULL;
	return s->v;
}

struct jws_verifier *
keycache_put(int64_t id, const char *jwk, EVP_PKEY *key)
{
	struct keycache_slot *s = keycache_slot(id);
	struct jws_verifier *v;
	char *copy;

	if ((copy = strdup(jwk)) == NULL || (v = jws_verifier_new(key)) == NULL) {
		free(copy);
		return NULL;
	}
	jws_verifier_free(s->v);
	free(s->jwk);
	s->id = id;
	s->jwk = copy;
	s->v = v;
	return v;
}
