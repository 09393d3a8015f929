/*
 * Writing JSON strings from arbitrary bytes.  Output from workers is bytes,
 * not text: invalid UTF-8 becomes U+FFFD so that every line we print stays
 * valid JSON.  (Parsing JSON is jansson's job, never ours; jsonw_text()
 * makes a jansson string of bytes that may not be UTF-8.)
 */
#ifndef DROVER_JSONW_H
#define DROVER_JSONW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

void	jsonw_string(struct buf *, const char *, size_t);
void	utf8_lossy(struct buf *, const char *, size_t);
json_t	*jsonw_text(const char *);
size_t	utf8_valid_prefix(const unsigned char *, size_t);
bool	utf8_valid(const char *, size_t);

#endif
