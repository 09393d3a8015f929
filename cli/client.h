/*
 * What the clients of droverd share (client.c): where its control socket
 * is, a connection to it within a timeout, and one question asked and
 * answered.  `drover submit` is client.c's own; `drover results` and
 * `drover batches` (batch.c) use these.
 */
#ifndef DROVER_CLIENT_H
#define DROVER_CLIENT_H

#include <jansson.h>

#define CLIENT_TIMEOUT	10.0	/* seconds for droverd to answer */

const char	*client_socket_path(const char *);
int		 client_try_connect(const char *, double);
int		 client_connect(const char *, double);
json_t		*client_ask(const char *, json_t *, double);

#endif
