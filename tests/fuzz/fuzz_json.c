/*
 * libFuzzer target: the JSON writer (common/jsonw.c) on arbitrary bytes,
 * bad UTF-8 and NUL included.  jsonw_string() must write one valid JSON
 * string (jansson parses it back) whose value is utf8_lossy() of the
 * input; utf8_lossy() must write valid UTF-8, and leave valid input as it
 * is; utf8_valid() must agree with jansson on what is UTF-8; jsonw_text()
 * must never fail, and give the lossy text of the bytes up to a NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "jsonw.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	struct buf	 js, lossy, nul;
	json_t		*o, *t;
	json_error_t	 jerr;
	char		*z;
	size_t		 zlen;
	int		 valid;

	buf_init(&js);
	buf_init(&lossy);
	buf_init(&nul);
	jsonw_string(&js, s, size);
	utf8_lossy(&lossy, s, size);
	valid = utf8_valid(s, size);

	/* The lossy text is valid UTF-8, and the input itself when valid. */
	FZ_CHECK(utf8_valid(buf_data(&lossy), buf_len(&lossy)));
	FZ_CHECK(!valid || (buf_len(&lossy) == size && (size == 0 ||
	    memcmp(buf_data(&lossy), s, size) == 0)));
	FZ_CHECK(utf8_valid_prefix(data, size) <= size);
	FZ_CHECK(valid == (utf8_valid_prefix(data, size) == size));

	/* jansson takes exactly what we call valid. */
	o = json_stringn(s, size);
	FZ_CHECK((o != NULL) == valid);
	json_decref(o);

	/* The JSON string parses, to the lossy text. */
	o = json_loadb(buf_data(&js), buf_len(&js),
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (o == NULL) {
		fprintf(stderr, "invalid JSON: %s: %.*s\n", jerr.text,
		    (int)buf_len(&js), buf_data(&js));
		abort();
	}
	FZ_CHECK(json_is_string(o));
	FZ_CHECK(json_string_length(o) == buf_len(&lossy));
	FZ_CHECK(buf_len(&lossy) == 0 || memcmp(json_string_value(o),
	    buf_data(&lossy), buf_len(&lossy)) == 0);
	json_decref(o);

	/* jsonw_text() of the bytes before any NUL. */
	zlen = strnlen(s, size);
	z = malloc(zlen + 1);
	FZ_CHECK(z != NULL);
	memcpy(z, s, zlen);
	z[zlen] = '\0';
	utf8_lossy(&nul, z, zlen);
	t = jsonw_text(z);
	FZ_CHECK(t != NULL && json_is_string(t));
	FZ_CHECK(json_string_length(t) == buf_len(&nul));
	FZ_CHECK(buf_len(&nul) == 0 || memcmp(json_string_value(t),
	    buf_data(&nul), buf_len(&nul)) == 0);
	json_decref(t);
	free(z);

	buf_free(&js);
	buf_free(&lossy);
	buf_free(&nul);
	return (0);
}
