#include "addrpolicy.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The refused ranges, each under the name a refusal gives; checked after
 * the allow list, in this order. */
static const struct {
	const char *cidr;
	const char *name;
} addrpolicy_refused[] = {
	{ "0.0.0.0/8", "unspecified (this network)" },
	{ "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" },
	{ "100.64.0.0/10", "shared address space" },
	{ "192.0.0.0/24", "IETF protocol assignments" },
	{ "192.0.2.0/24", "documentation" },
	{ "192.88.99.0/24", "6to4 relay anycast" },
	{ "198.18.0.0/15", "benchmarking" },
	{ "198.51.100.0/24", "documentation" },
	{ "203.0.113.0/24", "documentation" },
	{ "224.0.0.0/4", "multicast" },
	{ "255.255.255.255/32", "broadcast" },
	{ "240.0.0.0/4", "reserved" },
	{ "::/128", "unspecified" },
	{ "::1/128", "loopback" },
	{ "::/8", "reserved (IPv4-compatible and the like)" },
	{ "64:ff9b:1::/48", "local-use IPv4/IPv6 translation" },
	{ "100::/64", "discard-only" },
	{ "2001:db8::/32", "documentation" },
	{ "2001::/23", "IETF protocol assignments" },
	{ "2002::/16", "6to4" },
	{ "3fff::/20", "documentation" },
	{ "5f00::/16", "segment routing" },
	{ "fe80::/10", "link-local" },
	{ "fec0::/10", "site-local" },
	{ "ff00::/8", "multicast" },
};

#define ADDRPOLICY_NREFUSED (sizeof(addrpolicy_refused) / sizeof(addrpolicy_refused[0]))

/* An IPv4 address carried in IPv6, at its last 4 bytes: mapped
 * (::ffff:0:0/96) or NAT64's well-known prefix (64:ff9b::/96). */
static const unsigned char *
addrpolicy_embedded_v4(const unsigned char *a)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return a + 12;
	return NULL;
}

/* "addr/bits" or "addr", without surrounding spaces; -1 when it is neither. */
static int
addrpolicy_net_parse(const char *text, size_t len, struct addrpolicy_net *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long bits;
	int max;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	out->family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	max = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, buf, out->addr) != 1)
		return -1;
	out->bits = max;
	if (slash == NULL)
		return 0;
	bits = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end != '\0' || bits < 0 || bits > max)
		return -1;
	out->bits = (int)bits;
	return 0;
}

/* "::ffff:a.b.c.d/n" is the IPv4 range it spells, so that it allows what
 * addrpolicy_refuses judges as IPv4. */
static void
addrpolicy_net_v4(struct addrpolicy_net *net)
{
	const unsigned char *v4;

	if (net->family != AF_INET6 || net->bits < 96 ||
	    (v4 = addrpolicy_embedded_v4(net->addr)) == NULL)
		return;
	memmove(net->addr, v4, 4);
	memset(net->addr + 4, 0, 12);
	net->family = AF_INET;
	net->bits -= 96;
}

int
addrpolicy_parse(struct addrpolicy *p, const char *list, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	for (const char *s = list != NULL ? list : ""; *s != '\0';) {
		size_t len;

		s += strspn(s, " ");
		len = strcspn(s, ",");
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len > 0 && p->n == ADDRPOLICY_ALLOW_MAX) {
			snprintf(err, errlen, "more than %d ranges", ADDRPOLICY_ALLOW_MAX);
			return -1;
		}
		if (len > 0 && addrpolicy_net_parse(s, len, &p->allow[p->n]) != 0) {
			snprintf(err, errlen, "'%.*s' is not an address or CIDR range",
			    (int)(len < 64 ? len : 64), s);
			return -1;
		}
		if (len > 0)
			addrpolicy_net_v4(&p->allow[p->n++]);
		s += strcspn(s, ",");
		s += *s == ',';
	}
	return 0;
}

static bool
addrpolicy_in(const struct addrpolicy_net *net, int family, const unsigned char *addr)
{
	int full = net->bits / 8, rest = net->bits % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	if (net->family != family || memcmp(net->addr, addr, (size_t)full) != 0)
		return false;
	return rest == 0 || ((net->addr[full] ^ addr[full]) & mask) == 0;
}

const char *
addrpolicy_refuses(const struct addrpolicy *p, int family, const unsigned char *addr)
{
	struct addrpolicy_net net;
	const unsigned char *v4;

	if (family == AF_INET6 && (v4 = addrpolicy_embedded_v4(addr)) != NULL)
		return addrpolicy_refuses(p, AF_INET, v4);
	for (int i = 0; p != NULL && i < p->n; i++)
		if (addrpolicy_in(&p->allow[i], family, addr))
			return NULL;
	for (size_t i = 0; i < ADDRPOLICY_NREFUSED; i++) {
		const char *cidr = addrpolicy_refused[i].cidr;

		if (addrpolicy_net_parse(cidr, strlen(cidr), &net) == 0 &&
		    addrpolicy_in(&net, family, addr))
			return addrpolicy_refused[i].name;
	}
	return NULL;
}

const char *
addrpolicy_refuses_text(const struct addrpolicy *p, const char *text)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, text, addr) == 1)
		return addrpolicy_refuses(p, AF_INET, addr);
	if (inet_pton(AF_INET6, text, addr) == 1)
		return addrpolicy_refuses(p, AF_INET6, addr);
	return "not an address";
}
