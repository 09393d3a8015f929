/*
 * What drover-worker's handlers share: quoting job bytes for their error
 * messages (so that a failed job's input shows in the error, safely).
 */
#include <stddef.h>

#include "handlers.h"

/*
 * Quote job bytes for an error message: at most about size/2 bytes, with
 * non-printable bytes as \xHH, in single quotes.
 */
void
handler_quote(char *dst, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 o = 0, i;

	if (size < 8) {
		if (size > 0)
			*dst = '\0';
		return;
	}
	dst[o++] = '\'';
	for (i = 0; i < len && o + 6 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			dst[o++] = (char)c;
		else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	if (i < len && o + 4 < size) {
		dst[o++] = '.';
		dst[o++] = '.';
		dst[o++] = '.';
	}
	dst[o++] = '\'';
	dst[o] = '\0';
}
