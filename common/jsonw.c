/*
 * JSON string escaping with UTF-8 validation (RFC 8259, RFC 3629).
 */
#include <stdint.h>
#include <string.h>

#include "jsonw.h"

/*
 * The length of the valid UTF-8 sequence starting at s (1 to 4), or 0 when
 * the bytes there are not one: overlong forms, surrogates and code points
 * above U+10FFFF are invalid.
 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char	 c = s[0];

	if (c < 0x80)
		return (1);
	if (c >= 0xc2 && c <= 0xdf) {
		if (len >= 2 && (s[1] & 0xc0) == 0x80)
			return (2);
		return (0);
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (len < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return (0);
		if (c == 0xe0 && s[1] < 0xa0)
			return (0);	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return (0);	/* surrogate */
		return (3);
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (len < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return (0);
		if (c == 0xf0 && s[1] < 0x90)
			return (0);	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return (0);	/* above U+10FFFF */
		return (4);
	}
	return (0);
}

/* How many leading bytes of s form valid UTF-8. */
size_t
utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t	 i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(s + i, len - i)) == 0)
			break;
		i += n;
	}
	return (i);
}

bool
utf8_valid(const char *s, size_t len)
{
	return (utf8_valid_prefix((const unsigned char *)s, len) == len);
}

/* Append s as a quoted JSON string. */
void
jsonw_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, run, n;

	buf_addc(out, '"');
	while (i < len) {
		/* Copy the longest run that needs no escaping in one go. */
		for (run = i; run < len; run++)
			if (p[run] < 0x20 || p[run] == '"' || p[run] == '\\' ||
			    p[run] >= 0x80)
				break;
		buf_add(out, s + i, run - i);
		if ((i = run) == len)
			break;
		if (p[i] >= 0x80) {
			if ((n = utf8_seq(p + i, len - i)) == 0) {
				/* U+FFFD REPLACEMENT CHARACTER */
				buf_add(out, "\xef\xbf\xbd", 3);
				i++;
			} else {
				buf_add(out, s + i, n);
				i += n;
			}
			continue;
		}
		switch (p[i]) {
		case '"':
			buf_add(out, "\\\"", 2);
			break;
		case '\\':
			buf_add(out, "\\\\", 2);
			break;
		case '\n':
			buf_add(out, "\\n", 2);
			break;
		case '\r':
			buf_add(out, "\\r", 2);
			break;
		case '\t':
			buf_add(out, "\\t", 2);
			break;
		default: {
			char	 e[6] = { '\\', 'u', '0', '0',
			    hex[p[i] >> 4], hex[p[i] & 0xf] };
			buf_add(out, e, sizeof(e));
		}
		}
		i++;
	}
	buf_addc(out, '"');
}

/* Append s with every invalid UTF-8 sequence replaced by U+FFFD. */
void
utf8_lossy(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, n;

	while (i < len) {
		n = utf8_valid_prefix(p + i, len - i);
		buf_add(out, s + i, n);
		if ((i += n) == len)
			break;
		buf_add(out, "\xef\xbf\xbd", 3);
		i++;
	}
}

/*
 * A JSON string of s (NULL: null), never failing on invalid UTF-8: jansson
 * refuses such strings, and a pool name, a command, a worker's last stderr
 * line or a config error quoting the file can all carry them.
 */
json_t *
jsonw_text(const char *s)
{
	struct buf	 b;
	json_t		*o;

	if (s == NULL)
		return (json_null());
	if ((o = json_string(s)) != NULL)
		return (o);
	buf_init(&b);
	utf8_lossy(&b, s, strlen(s));
	o = json_stringn(buf_data(&b), buf_len(&b));
	buf_free(&b);
	return (o);
}
