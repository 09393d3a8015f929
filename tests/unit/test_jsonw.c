/*
 * Unit tests for JSON string writing (common/jsonw.c).  Every output is
 * parsed back with jansson, which validates UTF-8 strictly, and must decode
 * to the input with each invalid byte replaced by U+FFFD.  A table-driven
 * reference validator written from RFC 3629 section 4 checks utf8_valid()
 * and the replacements on exhaustive and random inputs.
 */
#include <check.h>

#include "check_main.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonw.h"

#define FFFD	"\xef\xbf\xbd"

/* jsonw_string(s) as a NUL-terminated string. */
static char *
jsonw(const char *s, size_t len)
{
	struct buf	 b;
	char		*out;

	buf_init(&b);
	jsonw_string(&b, s, len);
	buf_addc(&b, '\0');
	out = strdup(buf_data(&b));
	ck_assert_ptr_nonnull(out);
	buf_free(&b);
	return (out);
}

/*
 * Parse "[" json "]" with jansson; it must be valid and hold one string of
 * exactly the want bytes.
 */
static void
parses_to(const char *json, const char *want, size_t wantlen)
{
	struct buf	 b;
	json_error_t	 err;
	json_t		*j, *v;

	buf_init(&b);
	buf_addc(&b, '[');
	buf_adds(&b, json);
	buf_addc(&b, ']');
	j = json_loadb(buf_data(&b), buf_len(&b), JSON_ALLOW_NUL, &err);
	ck_assert_msg(j != NULL, "jansson rejects %s: %s", json, err.text);
	ck_assert(json_is_array(j));
	ck_assert_uint_eq(json_array_size(j), 1);
	v = json_array_get(j, 0);
	ck_assert(json_is_string(v));
	ck_assert_msg(json_string_length(v) == wantlen,
	    "%s decodes to %zu bytes, want %zu", json, json_string_length(v),
	    wantlen);
	ck_assert_msg(wantlen == 0 ||
	    memcmp(json_string_value(v), want, wantlen) == 0,
	    "%s decodes to other bytes", json);
	json_decref(j);
	buf_free(&b);
}

/* in must be written as exactly want and parse back to dec. */
static void
check(const char *in, size_t inlen, const char *want, const char *dec,
    size_t declen)
{
	char	*out;

	out = jsonw(in, inlen);
	ck_assert_str_eq(out, want);
	parses_to(out, dec, declen);
	free(out);
}

/* The valid second-byte range for each lead byte (RFC 3629, section 4). */
static size_t
ref_seq(const unsigned char *s, size_t len)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (c < 0x80)
		return (1);
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return (0);
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return (0);
	return (n);
}

/*
 * What jsonw_string must write for s, and what it decodes to: each byte
 * that does not start a valid sequence becomes U+FFFD.
 */
static void
reference(const unsigned char *s, size_t len, struct buf *json,
    struct buf *dec, bool *valid)
{
	size_t	 i = 0, n;

	*valid = true;
	buf_addc(json, '"');
	while (i < len) {
		n = ref_seq(s + i, len - i);
		if (n == 0) {
			buf_add(json, FFFD, 3);
			buf_add(dec, FFFD, 3);
			*valid = false;
			i++;
			continue;
		}
		buf_add(dec, s + i, n);
		if (n > 1)
			buf_add(json, s + i, n);
		else if (s[i] == '"' || s[i] == '\\')
			buf_printf(json, "\\%c", s[i]);
		else if (s[i] == '\n')
			buf_adds(json, "\\n");
		else if (s[i] == '\r')
			buf_adds(json, "\\r");
		else if (s[i] == '\t')
			buf_adds(json, "\\t");
		else if (s[i] < 0x20)
			buf_printf(json, "\\u%04x", s[i]);
		else
			buf_addc(json, (char)s[i]);
		i += n;
	}
	buf_addc(json, '"');
}

/* jsonw_string and utf8_valid agree with the reference on s. */
static void
check_reference(const unsigned char *s, size_t len, bool parse)
{
	struct buf	 want, dec, got;
	bool		 valid;

	buf_init(&want);
	buf_init(&dec);
	buf_init(&got);
	reference(s, len, &want, &dec, &valid);
	jsonw_string(&got, (const char *)s, len);
	ck_assert_uint_eq(buf_len(&got), buf_len(&want));
	ck_assert_mem_eq(buf_data(&got), buf_data(&want), buf_len(&want));
	ck_assert_int_eq(utf8_valid((const char *)s, len), valid);
	if (parse) {
		buf_addc(&got, '\0');
		parses_to(buf_data(&got), buf_data(&dec), buf_len(&dec));
	}
	buf_free(&want);
	buf_free(&dec);
	buf_free(&got);
}

/* Text that needs no escaping is copied between quotes. */
START_TEST(test_plain)
{
	check("", 0, "\"\"", "", 0);
	check("hello, world", 12, "\"hello, world\"", "hello, world", 12);
	check("a/b", 3, "\"a/b\"", "a/b", 3);
	check("\x7f", 1, "\"\x7f\"", "\x7f", 1);
	check("abc", 2, "\"ab\"", "ab", 2);
}
END_TEST

/* Quotes, backslashes and the short control escapes. */
START_TEST(test_escapes)
{
	check("say \"hi\"", 8, "\"say \\\"hi\\\"\"", "say \"hi\"", 8);
	check("a\\b", 3, "\"a\\\\b\"", "a\\b", 3);
	check("\\\"", 2, "\"\\\\\\\"\"", "\\\"", 2);
	check("l1\nl2\r\n\tx", 9, "\"l1\\nl2\\r\\n\\tx\"", "l1\nl2\r\n\tx",
	    9);
}
END_TEST

/* Other control characters become \u00XX. */
START_TEST(test_control)
{
	char		 in[1], want[16], dec[1];
	unsigned	 c;

	check("\0", 1, "\"\\u0000\"", "\0", 1);
	check("a\0b", 3, "\"a\\u0000b\"", "a\0b", 3);
	check("\x01", 1, "\"\\u0001\"", "\x01", 1);
	check("\x08\x0c", 2, "\"\\u0008\\u000c\"", "\x08\x0c", 2);
	check("\x1b[0m", 4, "\"\\u001b[0m\"", "\x1b[0m", 4);
	check("\x1f", 1, "\"\\u001f\"", "\x1f", 1);
	for (c = 0; c < 0x20; c++) {
		in[0] = dec[0] = (char)c;
		if (c == '\n' || c == '\r' || c == '\t')
			continue;
		snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		check(in, 1, want, dec, 1);
	}
}
END_TEST

/* Valid UTF-8, including every boundary code point, is kept. */
START_TEST(test_valid_utf8)
{
	static const char *const ok[] = {
		"caf\xc3\xa9",			/* U+00E9 */
		"\xc2\x80",			/* U+0080, smallest 2-byte */
		"\xdf\xbf",			/* U+07FF */
		"\xe0\xa0\x80",			/* U+0800, smallest 3-byte */
		"\xe2\x82\xac",			/* U+20AC euro */
		"\xed\x9f\xbf",			/* U+D7FF, below surrogates */
		"\xee\x80\x80",			/* U+E000, above surrogates */
		"\xef\xbf\xbd",			/* U+FFFD itself */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000, smallest 4-byte */
		"\xf0\x9f\x98\x80",		/* U+1F600 */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF, the last */
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \"q\"",
	};
	struct buf	 out;
	size_t		 i, len;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		len = strlen(ok[i]);
		ck_assert_msg(utf8_valid(ok[i], len), "entry %zu invalid", i);
		ck_assert_uint_eq(utf8_valid_prefix(
		    (const unsigned char *)ok[i], len), len);
		buf_init(&out);
		jsonw_string(&out, ok[i], len);
		if (strchr(ok[i], '"') == NULL) {
			/* Kept byte for byte, between the quotes. */
			ck_assert_uint_eq(buf_len(&out), len + 2);
			ck_assert_mem_eq(buf_data(&out) + 1, ok[i], len);
		}
		buf_addc(&out, '\0');
		parses_to(buf_data(&out), ok[i], len);
		buf_free(&out);
	}
}
END_TEST

/* Each byte of an invalid sequence becomes U+FFFD. */
START_TEST(test_invalid_utf8)
{
	/* Lone continuation bytes. */
	check("\x80", 1, "\"" FFFD "\"", FFFD, 3);
	check("a\xbf" "b", 3, "\"a" FFFD "b\"", "a" FFFD "b", 5);
	/* Overlong forms. */
	check("\xc0\x80", 2, "\"" FFFD FFFD "\"", FFFD FFFD, 6);
	check("\xc1\xbf", 2, "\"" FFFD FFFD "\"", FFFD FFFD, 6);
	check("\xe0\x80\xaf", 3, "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD, 9);
	check("\xe0\x9f\xbf", 3, "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD, 9);
	check("\xf0\x8f\xbf\xbf", 4, "\"" FFFD FFFD FFFD FFFD "\"",
	    FFFD FFFD FFFD FFFD, 12);
	/* UTF-16 surrogates. */
	check("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD, 9);
	check("\xed\xbf\xbf", 3, "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD, 9);
	/* Above U+10FFFF, and bytes that never occur. */
	check("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"",
	    FFFD FFFD FFFD FFFD, 12);
	check("\xf5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"",
	    FFFD FFFD FFFD FFFD, 12);
	check("\xf8", 1, "\"" FFFD "\"", FFFD, 3);
	check("\xfe\xff", 2, "\"" FFFD FFFD "\"", FFFD FFFD, 6);
	/* Truncated sequences, at the end and before other bytes. */
	check("a\xc3", 2, "\"a" FFFD "\"", "a" FFFD, 4);
	check("\xe2\x82", 2, "\"" FFFD FFFD "\"", FFFD FFFD, 6);
	check("\xf0\x9f\x98", 3, "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD, 9);
	check("\xe2\x82x", 3, "\"" FFFD FFFD "x\"", FFFD FFFD "x", 7);
	check("\xc3\"", 2, "\"" FFFD "\\\"\"", FFFD "\"", 4);
	check("\xc3\n", 2, "\"" FFFD "\\n\"", FFFD "\n", 4);
	/* A valid sequence right after an invalid byte survives. */
	check("\x80\xc3\xa9", 3, "\"" FFFD "\xc3\xa9\"", FFFD "\xc3\xa9", 5);
	check("\xc3\xc3\xa9", 3, "\"" FFFD "\xc3\xa9\"", FFFD "\xc3\xa9", 5);
	/* A sequence cut by len is truncated even if the bytes go on. */
	check("\xc3\xa9", 1, "\"" FFFD "\"", FFFD, 3);
}
END_TEST

/* utf8_valid_prefix() and utf8_valid(). */
START_TEST(test_valid_prefix)
{
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)
	    "ab\xc3\xa9\x80" "cd", 7), 4);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)
	    "\xe2\x82\xac\xe2\x82", 5), 3);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)
	    "\xed\xa0\x80", 3), 0);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"", 0), 0);
	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid("a\0b", 3));
	ck_assert(!utf8_valid("\xc0\x80", 2));
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));
}
END_TEST

/* Every one- and two-byte string matches the reference. */
START_TEST(test_all_short_strings)
{
	unsigned char	 s[3];
	unsigned	 a, b;

	for (a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		check_reference(s, 1, true);
		for (b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			check_reference(s, 2, true);
			/* Then every continuation-range third byte. */
			if (a >= 0xe0 && a <= 0xf4) {
				s[2] = 0x80;
				check_reference(s, 3, false);
				s[2] = 0xbf;
				check_reference(s, 3, false);
			}
		}
	}
}
END_TEST

/* Random strings of awkward bytes match the reference. */
START_TEST(test_random)
{
	static const unsigned char pick[] = {
		0x00, 0x0a, 0x1f, '"', '\\', 'a', 0x7f, 0x80, 0x8f, 0x90,
		0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
		0xf0, 0xf4, 0xf5, 0xff,
	};
	unsigned char	 s[16];
	uint64_t	 st = 2024, r;
	size_t		 len, i;
	int		 k;

	for (k = 0; k < 200000; k++) {
		len = (size_t)(rnd(&st) % sizeof(s));
		for (i = 0; i < len; i++) {
			r = rnd(&st);
			s[i] = (r & 1) ? pick[(r >> 1) % sizeof(pick)] :
			    (unsigned char)(r >> 8);
		}
		check_reference(s, len, k % 20 == 0);
	}
}
END_TEST

/* jsonw_text(): jansson strings from any bytes; valid text unchanged. */
START_TEST(test_text)
{
	json_t	*o;

	o = jsonw_text("plain \xc3\xa9");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(o), "plain \xc3\xa9");
	json_decref(o);
	/* A stray byte, a cut sequence, an overlong form: U+FFFD each. */
	o = jsonw_text("a\xff" "b\xc3" "c\xc0\xaf" "d");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(o),
	    "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd" "d");
	json_decref(o);
	/* Cut in the middle of a character, as a truncated message is. */
	o = jsonw_text("\xe2\x82");
	ck_assert_ptr_nonnull(o);
	ck_assert(utf8_valid(json_string_value(o),
	    strlen(json_string_value(o))));
	json_decref(o);
	o = jsonw_text(NULL);
	ck_assert(json_is_null(o));
	json_decref(o);
}
END_TEST

static Suite *
jsonw_suite(void)
{
	Suite	*s = suite_create("jsonw");
	TCase	*tc;

	tc = tcase_create("strings");
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_control);
	tcase_add_test(tc, test_valid_utf8);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_valid_prefix);
	suite_add_tcase(s, tc);

	tc = tcase_create("exhaustive");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_all_short_strings);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_text);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(jsonw_suite)
