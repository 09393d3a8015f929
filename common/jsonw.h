/*
 * Writing JSON strings from arbitrary bytes.  Output from workers is bytes,
 * not text: invalid UTF-8 becomes U+FFFD so that every line we print stays
 * valid JSON.  (Parsing JSON is jansson's job, never ours.)
 */
#ifndef DROVER_JSONW_H
#define DROVER_JSONW_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

void	jsonw_string(struct buf *, const char *, size_t);
size_t	utf8_valid_prefix(const unsigned char *, size_t);
bool	utf8_valid(const char *, size_t);

#endif
