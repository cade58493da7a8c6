/*
 * Which addresses ACME validation may connect to.  Never the special-purpose
 * ranges of the IANA registries (loopback, link-local, unspecified,
 * multicast, broadcast, documentation, benchmarking, translation and
 * protocol blocks), unless the deployment lists them in
 * UPKI_RA_VALIDATION_ALLOW; private ranges (RFC 1918, ULA) are allowed, as
 * a private PKI's names live there.  An IPv4 address written as IPv6
 * (::ffff:0:0/96, 64:ff9b::/96) is judged as the IPv4 address it carries.
 */
#ifndef UPKI_ADDRPOLICY_H
#define UPKI_ADDRPOLICY_H

#include <stddef.h>

#define ADDRPOLICY_ALLOW_MAX 32

struct addrpolicy_net {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct addrpolicy {
	struct addrpolicy_net allow[ADDRPOLICY_ALLOW_MAX];
	int n;
};

/* Parses a comma-separated list of CIDRs ("127.0.0.0/8, ::1/128"; an
 * address alone is one host) into *p; NULL or "" allows nothing more than
 * the defaults.  -1 with a reason in err. */
int addrpolicy_parse(struct addrpolicy *p, const char *list, char *err, size_t errlen);
/* NULL when addr (4 bytes for AF_INET, 16 for AF_INET6) may be reached;
 * else the name of the range that refuses it ("loopback", ...). */
const char *addrpolicy_refuses(const struct addrpolicy *p, int family,
    const unsigned char *addr);
/* The same for an address in text; text that is no address is refused. */
const char *addrpolicy_refuses_text(const struct addrpolicy *p, const char *text);

#endif
