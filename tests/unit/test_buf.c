/*
 * Unit tests for the flat byte buffers (common/buf.c): what is added comes
 * out in order, consuming everything rewinds, and buf_data() is never
 * NULL, not even before the buffer has storage (NULL + 0 is undefined, a
 * clang UBSan finding of tests/fuzz).
 */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "buf.h"

START_TEST(test_empty_has_data)
{
	struct buf	 b;

	buf_init(&b);
	ck_assert_ptr_nonnull(buf_data(&b));
	ck_assert_uint_eq(buf_len(&b), 0);
	buf_adds(&b, "x");
	buf_consume(&b, 1);
	ck_assert_ptr_nonnull(buf_data(&b));
	buf_free(&b);
}
END_TEST

START_TEST(test_add_consume_rewind)
{
	struct buf	 b;

	buf_init(&b);
	buf_adds(&b, "hello ");
	buf_printf(&b, "%s %d", "world", 42);
	ck_assert_uint_eq(buf_len(&b), 14);
	ck_assert(memcmp(buf_data(&b), "hello world 42", 14) == 0);
	buf_consume(&b, 6);
	ck_assert(memcmp(buf_data(&b), "world 42", 8) == 0);
	buf_consume(&b, 8);
	ck_assert_uint_eq(b.rpos, 0);	/* empty: back to the start */
	ck_assert_uint_eq(b.wpos, 0);
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_empty_has_data);
	tcase_add_test(tc, test_add_consume_rewind);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(buf_suite)
