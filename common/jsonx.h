/*
 * Small helpers over json-c: bounded parsing and typed field access.
 * Every JSON document from the network goes through jsonx_parse, which caps
 * both the size and the nesting depth before json-c sees it.
 */
#ifndef UPKI_JSONX_H
#define UPKI_JSONX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define JSONX_MAX_DEPTH 16

/* Parses exactly one JSON value filling all of in[0..len); NULL on a syntax
 * error, trailing bytes, a NUL inside, depth past JSONX_MAX_DEPTH, or
 * len > max.  errbuf (may be NULL) gets a short reason. */
json_object *jsonx_parse(const char *in, size_t len, size_t max, char *errbuf,
    size_t errlen);

/* Field of an object with a given type, or NULL when absent or of another
 * type (or, for strings, when it holds a NUL).  The returned pointers are
 * borrowed from obj. */
const char *jsonx_get_string(json_object *obj, const char *key);
json_object *jsonx_get_object(json_object *obj, const char *key);
json_object *jsonx_get_array(json_object *obj, const char *key);
/* Sets *out and returns true only for a JSON integer (or boolean for
 * jsonx_get_bool) stored under key. */
bool jsonx_get_int64(json_object *obj, const char *key, int64_t *out);
bool jsonx_get_bool(json_object *obj, const char *key, bool *out);

/* True when in[0..len) is UTF-8 as RFC 3629 defines it: no overlong
 * forms, no surrogates, nothing past U+10FFFF (json-c's check lets those
 * through). */
bool jsonx_utf8_valid(const char *in, size_t len);
/* Replaces each byte that is not part of valid UTF-8 with '?', in place,
 * so that text echoed from a request keeps a JSON answer valid. */
void jsonx_utf8_sanitize(char *s);

/* Serializes compactly; the string is owned by obj. */
const char *jsonx_print(json_object *obj);

#endif
