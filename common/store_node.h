/*
 * Nodes an admin registered for token enrolment.  The one-time token is
 * stored only as its SHA-256; using it is an atomic compare-and-clear, so
 * two enrolments racing with one token cannot both pass.
 */
#ifndef UPKI_STORE_NODE_H
#define UPKI_STORE_NODE_H

#include <stdint.h>

#include "store.h"

struct store_node {
	char cn[256];
	char profile[64];
	char *sans;                 /* JSON array text */
	char token_hash[72];        /* hex; "" once used */
	int64_t token_expires;
	int64_t enrolled_at;        /* 0 = not yet */
	char created_by[1024];
	int64_t created_at;
};

void store_node_free(struct store_node *n);
/* 0 created, 1 a node with that CN exists. */
int store_node_create(struct store *st, const struct store_node *n);
int store_node_get(struct store *st, const char *cn, struct store_node *out);
int store_node_each(struct store *st, void (*fn)(const struct store_node *n, void *arg),
    void *arg);
/* 0 deleted, 1 no such node. */
int store_node_delete(struct store *st, const char *cn);
/* Uses the token: 0 when cn's token hash matched and had not expired
 * (it is then cleared), 1 otherwise. */
int store_node_use_token(struct store *st, const char *cn, const char *token_hash,
    int64_t now);
/* Puts a used token back, when the CA failed to sign after all. */
int store_node_restore_token(struct store *st, const char *cn, const char *token_hash);

#endif
