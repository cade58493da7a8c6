#include "jsonx.h"

#include <stdio.h>
#include <string.h>

static void
jsonx_err(char *errbuf, size_t errlen, const char *msg)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "%s", msg);
}

static bool
jsonx_only_space(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t
jsonx_utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
jsonx_utf8_valid(const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t n;

	for (size_t i = 0; i < len; i += n)
		if ((n = jsonx_utf8_seq(p + i, len - i)) == 0)
			return false;
	return true;
}

void
jsonx_utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t len = strlen(s), n;

	for (size_t i = 0; i < len; i += n) {
		if ((n = jsonx_utf8_seq(p + i, len - i)) == 0) {
			p[i] = '?';
			n = 1;
		}
	}
}

json_object *
jsonx_parse(const char *in, size_t len, size_t max, char *errbuf, size_t errlen)
{
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	if (len > max) {
		jsonx_err(errbuf, errlen, "JSON document too large");
		return NULL;
	}
	if (memchr(in, '\0', len) != NULL) {
		jsonx_err(errbuf, errlen, "NUL byte in JSON document");
		return NULL;
	}
	if (!jsonx_utf8_valid(in, len)) {
		jsonx_err(errbuf, errlen, "JSON document is not valid UTF-8");
		return NULL;
	}
	if ((tok = json_tokener_new_ex(JSONX_MAX_DEPTH)) == NULL) {
		jsonx_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, in, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL && jerr == json_tokener_continue && end == len) {
		/* A number or literal that ends the input ("123", "true") is
		 * complete only once json-c sees an end marker. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	if (obj == NULL || jerr != json_tokener_success ||
	    !jsonx_only_space(in + end, len - end)) {
		if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof)
			jsonx_err(errbuf, errlen, "truncated JSON document");
		else if (jerr != json_tokener_success)
			jsonx_err(errbuf, errlen, json_tokener_error_desc(jerr));
		else
			jsonx_err(errbuf, errlen, "trailing bytes after JSON document");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static json_object *
jsonx_get_typed(json_object *obj, const char *key, enum json_type type)
{
	json_object *v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

const char *
jsonx_get_string(json_object *obj, const char *key)
{
	json_object *v = jsonx_get_typed(obj, key, json_type_string);
	const char *s;

	if (v == NULL)
		return NULL;
	/* "a.example\u0000.evil" must not pass for "a.example". */
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

json_object *
jsonx_get_object(json_object *obj, const char *key)
{
	return jsonx_get_typed(obj, key, json_type_object);
}

json_object *
jsonx_get_array(json_object *obj, const char *key)
{
	return jsonx_get_typed(obj, key, json_type_array);
}

bool
jsonx_get_int64(json_object *obj, const char *key, int64_t *out)
{
	json_object *v = jsonx_get_typed(obj, key, json_type_int);

	if (v == NULL)
		return false;
	*out = json_object_get_int64(v);
	return true;
}

bool
jsonx_get_bool(json_object *obj, const char *key, bool *out)
{
	json_object *v = jsonx_get_typed(obj, key, json_type_boolean);

	if (v == NULL)
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

const char *
jsonx_print(json_object *obj)
{
	return json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}
