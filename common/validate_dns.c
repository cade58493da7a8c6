/*
 * dns-01 (RFC 8555 section 8.4): one TXT lookup through the check's resolver.
 */
#include "validate.h"

#include <arpa/nameser.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <openssl/sha.h>

#include "b64.h"
#include "validate_impl.h"

/* Whether one TXT record, the concatenation of its strings, is want; else
 * the detail quotes the first. */
static enum validate_result
validate_txt_match(struct validate_check *v, const char *qname,
    const struct ares_txt_ext *txt, const char *want)
{
	const struct ares_txt_ext *first = txt;
	size_t wlen = strlen(want), off = 0;
	char got[VALIDATE_EXCERPT + 4];
	bool same = true;
	int records = 0;

	for (; txt != NULL; txt = txt->next) {
		if (txt->record_start) {
			records++;
			off = 0;
			same = true;
		}
		same = same && txt->length <= wlen - off &&
		    memcmp(want + off, txt->txt, txt->length) == 0;
		off += txt->length;
		if (same && off == wlen &&
		    (txt->next == NULL || txt->next->record_start))
			return VALIDATE_OK;
	}
	validate_excerpt(got, first->txt, first->length);
	return validate_fail(v, VALIDATE_INCORRECT, "%d TXT record(s) at %s, none "
	    "is the key authorization digest; first: \"%s\"", records, qname, got);
}

enum validate_result
validate_dns01(const struct validate_opts *o, const char *name,
    const char *key_authz, char *detail, size_t detlen)
{
	static const int types[] = { ns_t_txt };
	unsigned char md[SHA256_DIGEST_LENGTH];
	char qname[VALIDATE_HOST_MAX + 16], *want = NULL;
	struct ares_txt_ext *txt = NULL;
	struct validate_reply rep;
	struct validate_check v;
	enum validate_result r;

	validate_begin(&v, o, detail, detlen);
	if (name != NULL && strncmp(name, "*.", 2) == 0)
		name += 2;
	if (name == NULL || !validate_hostname_ok(name) || key_authz == NULL)
		return validate_fail(&v, VALIDATE_DNS, "malformed identifier");
	if (!validate_sha256(key_authz, md) ||
	    (want = b64url_encode(md, sizeof(md))) == NULL)
		return validate_fail(&v, VALIDATE_DNS, "out of memory");
	snprintf(qname, sizeof(qname), "_acme-challenge.%s", name);
	memset(&rep, 0, sizeof(rep));
	if ((r = validate_lookup(&v, qname, types, &rep, 1)) != VALIDATE_OK)
		goto done;
	if (rep.status != ARES_SUCCESS) {
		r = validate_fail(&v, VALIDATE_DNS, "TXT lookup of %s: %s", qname,
		    ares_strerror(rep.status));
		goto done;
	}
	if (ares_parse_txt_reply_ext(rep.abuf, rep.alen, &txt) != ARES_SUCCESS ||
	    txt == NULL) {
		r = validate_fail(&v, VALIDATE_DNS, "TXT lookup of %s: no TXT record",
		    qname);
		goto done;
	}
	r = validate_txt_match(&v, qname, txt, want);
done:
	ares_free_data(txt);
	free(rep.abuf);
	free(want);
	return r;
}
