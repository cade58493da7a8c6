/*
 * Unit tests for common/jsonx.c: the bounded JSON parser every network
 * document goes through, and the typed field getters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonx.h"

#define MAX (64 * 1024)

/* Parses a document that must be accepted; the caller puts the result. */
static json_object *
must_parse(const char *in, size_t len)
{
	char err[128] = "";
	json_object *o = jsonx_parse(in, len, MAX, err, sizeof(err));

	if (o == NULL)
		fail_msg("\"%.*s\" was refused: %s", (int)(len > 80 ? 80 : len), in, err);
	return o;
}

/* A document that must be refused with a non-empty reason; returns it
 * (static storage) so the caller may check what it says. */
static const char *
must_refuse_max(const char *in, size_t len, size_t max)
{
	static char err[128];
	json_object *o;

	memset(err, 0, sizeof(err));
	o = jsonx_parse(in, len, max, err, sizeof(err));
	if (o != NULL) {
		json_object_put(o);
		fail_msg("\"%.*s\" was accepted, must be refused", (int)(len > 80 ? 80 : len),
		    in);
	}
	if (err[0] == '\0')
		fail_msg("\"%.*s\" refused without a reason in errbuf",
		    (int)(len > 80 ? 80 : len), in);
	return err;
}

static const char *
must_refuse(const char *in, size_t len)
{
	return must_refuse_max(in, len, MAX);
}

#define S(lit) lit, (sizeof(lit) - 1)

static void
test_parse_object(void **state)
{
	json_object *o;
	int64_t n = 0;
	bool b = false;

	(void)state;
	o = must_parse(S("{\"s\":\"x\",\"n\":-42,\"b\":true,\"o\":{\"k\":1},\"a\":[1,2]}"));
	assert_true(json_object_is_type(o, json_type_object));
	assert_string_equal(jsonx_get_string(o, "s"), "x");
	assert_true(jsonx_get_int64(o, "n", &n));
	assert_int_equal(n, -42);
	assert_true(jsonx_get_bool(o, "b", &b));
	assert_true(b);
	assert_non_null(jsonx_get_object(o, "o"));
	assert_int_equal(json_object_array_length(jsonx_get_array(o, "a")), 2);
	json_object_put(o);

	o = must_parse(S("{}"));
	assert_int_equal(json_object_object_length(o), 0);
	json_object_put(o);
}

/* Other values than objects are JSON documents too. */
static void
test_parse_other_values(void **state)
{
	json_object *o;

	(void)state;
	o = must_parse(S("[1,\"a\",null]"));
	assert_true(json_object_is_type(o, json_type_array));
	json_object_put(o);
	o = must_parse(S("\"text\""));
	assert_string_equal(json_object_get_string(o), "text");
	json_object_put(o);
	o = must_parse(S("123"));
	assert_true(json_object_is_type(o, json_type_int));
	assert_int_equal(json_object_get_int64(o), 123);
	json_object_put(o);
	o = must_parse(S("-7 "));
	assert_int_equal(json_object_get_int64(o), -7);
	json_object_put(o);
	o = must_parse(S("true"));
	assert_true(json_object_is_type(o, json_type_boolean));
	json_object_put(o);
}

static void
test_trailing_whitespace_allowed(void **state)
{
	json_object *o;

	(void)state;
	o = must_parse(S("{\"a\":1} \t\r\n"));
	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
	o = must_parse(S(" \n{\"a\":1}\n"));
	json_object_put(o);
}

static void
test_trailing_bytes_refused(void **state)
{
	(void)state;
	must_refuse(S("{}x"));
	must_refuse(S("{} {}"));
	must_refuse(S("{\"a\":1}\n1"));
	must_refuse(S("{}}"));
	must_refuse(S("[1]]"));
	must_refuse(S("12 3"));
	must_refuse(S("\"a\" \"b\""));
}

static void
test_truncated_refused(void **state)
{
	static const char *const docs[] = {
		"", "   ", "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"a\":\"x\"", "{\"a\":[1,",
		"[", "\"abc", "tru", "nul", "-", "1e", "{\"a\":\"\\u00",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		must_refuse(docs[i], strlen(docs[i]));
	/* the reason says what happened */
	assert_non_null(strstr(must_refuse(S("{\"a\":")), "truncated"));
	/* a full document cut short by the length argument */
	must_refuse("{\"a\":1}", 6);
}

static void
test_syntax_errors_refused(void **state)
{
	(void)state;
	must_refuse(S("{\"a\":1,}"));
	must_refuse(S("[1,]"));
	must_refuse(S("{a:1}"));
	must_refuse(S("{\"a\" 1}"));
	must_refuse(S("{\"a\":01}"));
	must_refuse(S("}"));
}

static void
test_nul_inside_refused(void **state)
{
	const char *why;

	(void)state;
	why = must_refuse(S("{\"a\":\"x\0y\"}"));
	assert_non_null(strstr(why, "NUL"));
	must_refuse(S("{\"a\":1}\0"));
	must_refuse(S("\0{\"a\":1}"));
	must_refuse(S("{\"a\":1}\0garbage"));
}

static void
test_size_limit(void **state)
{
	static const char doc[] = "{\"key\":\"value\"}";
	size_t len = sizeof(doc) - 1;
	json_object *o;
	char err[128] = "";
	const char *why;

	(void)state;
	why = must_refuse_max(doc, len, len - 1);
	assert_non_null(strstr(why, "too large"));
	must_refuse_max(doc, len, 0);
	/* exactly at the limit is fine */
	o = jsonx_parse(doc, len, len, err, sizeof(err));
	assert_non_null(o);
	assert_string_equal(jsonx_get_string(o, "key"), "value");
	json_object_put(o);
}

/* n nested arrays: "[[...]]" */
static char *
nested_arrays(size_t n)
{
	char *s = malloc(2 * n + 1);

	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	return s;
}

/* n nested objects around a number: {"a":{"a":...1...}} */
static char *
nested_objects(size_t n)
{
	char *s = malloc(6 * n + 2), *p;

	assert_non_null(s);
	p = s;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "{\"a\":");
	*p++ = '1';
	memset(p, '}', n);
	p[n] = '\0';
	return s;
}

static void
test_depth_limit(void **state)
{
	json_object *o, *inner;
	char *s;
	size_t depth;
	const char *why;

	(void)state;
	/* JSONX_MAX_DEPTH nested containers fit... */
	s = nested_arrays(JSONX_MAX_DEPTH);
	o = must_parse(s, strlen(s));
	for (depth = 1, inner = o; json_object_array_length(inner) == 1; depth++)
		inner = json_object_array_get_idx(inner, 0);
	assert_int_equal(depth, JSONX_MAX_DEPTH);
	json_object_put(o);
	free(s);
	/* ...one more does not */
	s = nested_arrays(JSONX_MAX_DEPTH + 1);
	why = must_refuse(s, strlen(s));
	assert_non_null(strstr(why, "deep"));
	free(s);

	/* Objects: the value inside the innermost one is a level of its own. */
	s = nested_objects(JSONX_MAX_DEPTH - 1);
	o = must_parse(s, strlen(s));
	json_object_put(o);
	free(s);
	s = nested_objects(JSONX_MAX_DEPTH + 1);
	must_refuse(s, strlen(s));
	free(s);

	/* Far too deep must fail cleanly, not exhaust the stack. */
	s = nested_arrays(50000);
	must_refuse(s, strlen(s));
	free(s);
}

static void
test_invalid_utf8_refused(void **state)
{
	static const char *const bad[] = {
		"{\"a\":\"\xc3\x28\"}",         /* lead byte, then no continuation */
		"{\"a\":\"\x80\"}",             /* lone continuation byte */
		"{\"a\":\"\xe2\x82\"}",         /* 3-byte sequence cut short */
		"{\"a\":\"\xff\"}",             /* never valid in UTF-8 */
		"{\"a\":\"\xfe\"}",
		"{\"a\xe9\":1}",                /* Latin-1 in a key */
		"{\"a\":\"caf\xe9\"}",          /* Latin-1 in a value */
	};
	json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		must_refuse(bad[i], strlen(bad[i]));
	/* valid multi-byte text is fine */
	o = must_parse(S("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"));
	assert_string_equal(jsonx_get_string(o, "a"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	json_object_put(o);
}

static void
test_errbuf_handling(void **state)
{
	char small[8];

	(void)state;
	/* errbuf may be NULL */
	assert_null(jsonx_parse(S("{"), MAX, NULL, 0));
	assert_null(jsonx_parse(S("{"), MAX, NULL, 100));
	/* a small errbuf gets a truncated, NUL-terminated reason */
	memset(small, 'X', sizeof(small));
	assert_null(jsonx_parse(S("{\"a\":1}x"), MAX, small, sizeof(small)));
	assert_true(strlen(small) > 0);
	assert_true(strlen(small) < sizeof(small));
	/* errlen 0: nothing is written */
	memset(small, 'X', sizeof(small));
	assert_null(jsonx_parse(S("{"), MAX, small, 0));
	assert_int_equal(small[0], 'X');
}

static void
test_getters_missing_keys(void **state)
{
	json_object *o;
	int64_t n = 77;
	bool b = true;

	(void)state;
	o = must_parse(S("{\"present\":\"x\"}"));
	assert_null(jsonx_get_string(o, "absent"));
	assert_null(jsonx_get_object(o, "absent"));
	assert_null(jsonx_get_array(o, "absent"));
	assert_false(jsonx_get_int64(o, "absent", &n));
	assert_false(jsonx_get_bool(o, "absent", &b));
	assert_int_equal(n, 77);        /* untouched */
	assert_true(b);
	/* keys are case-sensitive */
	assert_null(jsonx_get_string(o, "Present"));
	assert_string_equal(jsonx_get_string(o, "present"), "x");
	json_object_put(o);
}

/* An escaped NUL would make the C string say less than the JSON does. */
static void
test_string_with_nul_refused(void **state)
{
	static const char doc[] = "{\"name\": \"a.example.test\\u0000.evil\", \"ok\": \"x\"}";
	json_object *o;

	(void)state;
	o = jsonx_parse(doc, strlen(doc), 1024, NULL, 0);
	assert_non_null(o);
	assert_null(jsonx_get_string(o, "name"));
	assert_string_equal(jsonx_get_string(o, "ok"), "x");
	json_object_put(o);
}

/* RFC 3629: json-c's own check lets these through. */
static void
test_strict_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\xc0\xaf\"",                /* overlong '/' */
		"\"\xe0\x80\xaf\"",            /* overlong, three bytes */
		"\"\xed\xa0\x80\"",            /* a UTF-16 surrogate */
		"\"\xf4\x90\x80\x80\"",        /* past U+10FFFF */
		"\"\xe2\x82\"",                /* truncated */
	};
	char fixed[] = "a\xc0\xafz \xc3\xa9";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(jsonx_parse(bad[i], strlen(bad[i]), 64, NULL, 0));
	assert_true(jsonx_utf8_valid("\xf0\x9f\x94\x91 \xc3\xa9", 7));
	jsonx_utf8_sanitize(fixed);
	assert_string_equal(fixed, "a??z \xc3\xa9");
}

static void
test_getters_wrong_types(void **state)
{
	json_object *o;
	int64_t n = 77;
	bool b = true;

	(void)state;
	o = must_parse(S("{\"s\":\"5\",\"i\":5,\"d\":5.0,\"t\":true,\"z\":null,"
	    "\"o\":{},\"a\":[]}"));
	/* string */
	assert_null(jsonx_get_string(o, "i"));
	assert_null(jsonx_get_string(o, "t"));
	assert_null(jsonx_get_string(o, "z"));
	assert_null(jsonx_get_string(o, "o"));
	assert_null(jsonx_get_string(o, "a"));
	assert_string_equal(jsonx_get_string(o, "s"), "5");
	/* object */
	assert_null(jsonx_get_object(o, "a"));
	assert_null(jsonx_get_object(o, "s"));
	assert_null(jsonx_get_object(o, "z"));
	assert_non_null(jsonx_get_object(o, "o"));
	/* array */
	assert_null(jsonx_get_array(o, "o"));
	assert_null(jsonx_get_array(o, "s"));
	assert_non_null(jsonx_get_array(o, "a"));
	/* int64: only a JSON integer */
	assert_false(jsonx_get_int64(o, "s", &n));
	assert_false(jsonx_get_int64(o, "d", &n));
	assert_false(jsonx_get_int64(o, "t", &n));
	assert_false(jsonx_get_int64(o, "z", &n));
	assert_int_equal(n, 77);
	assert_true(jsonx_get_int64(o, "i", &n));
	assert_int_equal(n, 5);
	/* bool: only a JSON boolean */
	assert_false(jsonx_get_bool(o, "i", &b));
	assert_false(jsonx_get_bool(o, "s", &b));
	assert_false(jsonx_get_bool(o, "z", &b));
	assert_true(b);
	assert_true(jsonx_get_bool(o, "t", &b));
	assert_true(b);
	json_object_put(o);
}

/* A getter asked about something that is not an object answers "absent". */
static void
test_getters_on_non_objects(void **state)
{
	json_object *a;
	int64_t n = 1;
	bool b = false;

	(void)state;
	a = must_parse(S("[\"x\"]"));
	assert_null(jsonx_get_string(a, "0"));
	assert_null(jsonx_get_object(a, "x"));
	assert_false(jsonx_get_int64(a, "x", &n));
	assert_false(jsonx_get_bool(a, "x", &b));
	json_object_put(a);
	assert_null(jsonx_get_string(NULL, "x"));
	assert_null(jsonx_get_array(NULL, "x"));
	assert_false(jsonx_get_int64(NULL, "x", &n));
	assert_false(jsonx_get_bool(NULL, "x", &b));
}

static void
test_int64_range(void **state)
{
	json_object *o;
	int64_t n = 0;

	(void)state;
	o = must_parse(S("{\"min\":-9223372036854775808,\"max\":9223372036854775807}"));
	assert_true(jsonx_get_int64(o, "min", &n));
	assert_true(n == INT64_MIN);
	assert_true(jsonx_get_int64(o, "max", &n));
	assert_true(n == INT64_MAX);
	json_object_put(o);
}

static void
test_print_compact(void **state)
{
	json_object *o;

	(void)state;
	o = must_parse(S("{ \"a\" : [ 1, 2 ],\n \"u\" : \"https://x/y\" }"));
	assert_string_equal(jsonx_print(o), "{\"a\":[1,2],\"u\":\"https://x/y\"}");
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_parse_other_values),
		cmocka_unit_test(test_trailing_whitespace_allowed),
		cmocka_unit_test(test_trailing_bytes_refused),
		cmocka_unit_test(test_truncated_refused),
		cmocka_unit_test(test_syntax_errors_refused),
		cmocka_unit_test(test_nul_inside_refused),
		cmocka_unit_test(test_string_with_nul_refused),
		cmocka_unit_test(test_strict_utf8),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_invalid_utf8_refused),
		cmocka_unit_test(test_errbuf_handling),
		cmocka_unit_test(test_getters_missing_keys),
		cmocka_unit_test(test_getters_wrong_types),
		cmocka_unit_test(test_getters_on_non_objects),
		cmocka_unit_test(test_int64_range),
		cmocka_unit_test(test_print_compact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
