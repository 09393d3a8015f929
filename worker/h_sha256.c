/*
 * sha256: a path in, a `sha256sum`-compatible line out ("HASH  PATH", with
 * sha256sum's escaping when the name holds a backslash, newline or CR).
 *
 * OpenSSL's libcrypto is loaded with dlopen() when this handler starts, not
 * linked into drover-worker: loading it costs every worker start about
 * 0.6 ms (a third of a restart), and the other handlers never use it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "config.h"
#include "handlers.h"

#define SHA_READ	(128 * 1024)

/* The few libcrypto functions we use, resolved at init. */
static struct {
	EVP_MD_CTX	*(*ctx_new)(void);
	void		 (*ctx_free)(EVP_MD_CTX *);
	const EVP_MD	*(*md)(void);
	int		 (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
	int		 (*update)(EVP_MD_CTX *, const void *, size_t);
	int		 (*final)(EVP_MD_CTX *, unsigned char *,
			    unsigned int *);
} crypto;

/* Resolve one symbol of h into the function pointer at fn. */
static int
crypto_sym(void *h, const char *name, void *fn, size_t size)
{
	void	*sym;

	if ((sym = dlsym(h, name)) == NULL) {
		fprintf(stderr, "drover-worker: sha256: %s: %s\n",
		    DROVER_LIBCRYPTO, dlerror());
		return (-1);
	}
	memcpy(fn, &sym, size);		/* object to function pointer */
	return (0);
}

/* Load libcrypto's SHA-256 (once); also used by the http handler. */
int
sha256_load(void)
{
	static int	 loaded;
	void		*h;

	if (loaded)
		return (0);
	if ((h = dlopen(DROVER_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "drover-worker: sha256: unable to load "
		    "OpenSSL: %s\n", dlerror());
		return (-1);
	}
	if (crypto_sym(h, "EVP_MD_CTX_new", &crypto.ctx_new,
	    sizeof(crypto.ctx_new)) == -1 ||
	    crypto_sym(h, "EVP_MD_CTX_free", &crypto.ctx_free,
	    sizeof(crypto.ctx_free)) == -1 ||
	    crypto_sym(h, "EVP_sha256", &crypto.md, sizeof(crypto.md)) == -1 ||
	    crypto_sym(h, "EVP_DigestInit_ex", &crypto.init,
	    sizeof(crypto.init)) == -1 ||
	    crypto_sym(h, "EVP_DigestUpdate", &crypto.update,
	    sizeof(crypto.update)) == -1 ||
	    crypto_sym(h, "EVP_DigestFinal_ex", &crypto.final,
	    sizeof(crypto.final)) == -1)
		return (-1);
	loaded = 1;
	return (0);
}

/* A new SHA-256 context, or NULL. */
void *
sha256_begin(void)
{
	EVP_MD_CTX	*ctx;

	if ((ctx = crypto.ctx_new()) == NULL)
		return (NULL);
	if (crypto.init(ctx, crypto.md(), NULL) != 1) {
		crypto.ctx_free(ctx);
		return (NULL);
	}
	return (ctx);
}

void
sha256_add(void *ctx, const void *p, size_t len)
{
	crypto.update(ctx, p, len);
}

/* Finish: the digest in lowercase hex (65 bytes with the NUL); frees ctx. */
int
sha256_end(void *ctx, char *hexout)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[32];
	int		 rv = -1;
	size_t		 i;

	if (crypto.final(ctx, md, NULL) == 1) {
		for (i = 0; i < sizeof(md); i++) {
			hexout[2 * i] = hex[md[i] >> 4];
			hexout[2 * i + 1] = hex[md[i] & 0xf];
		}
		hexout[64] = '\0';
		rv = 0;
	}
	crypto.ctx_free(ctx);
	return (rv);
}

/* Drop a context without finishing it. */
void
sha256_discard(void *ctx)
{
	if (ctx != NULL)
		crypto.ctx_free(ctx);
}

static int
sha256_init(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return (-1);
	return (sha256_load());
}

/* Hash the file at path (NUL-terminated) into md. */
static int
sha256_file(const char *path, unsigned char *md, const char **why)
{
	static char	 block[SHA_READ];
	EVP_MD_CTX	*ctx;
	ssize_t		 n;
	int		 fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*why = strerror(errno);
		return (-1);
	}
	if ((ctx = crypto.ctx_new()) == NULL ||
	    crypto.init(ctx, crypto.md(), NULL) != 1) {
		*why = "unable to set up SHA-256";
		goto out;
	}
	for (;;) {
		n = read(fd, block, sizeof(block));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*why = strerror(errno);
			goto out;
		}
		if (n == 0)
			break;
		crypto.update(ctx, block, (size_t)n);
	}
	if (crypto.final(ctx, md, NULL) == 1)
		rv = 0;
	else
		*why = "SHA-256 failed";
out:
	crypto.ctx_free(ctx);
	close(fd);
	return (rv);
}

static void
sha256_run(struct dw *dw, const struct dw_job *job)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[32];
	char		 path[4096], why[128];
	const char	*err = NULL;
	struct buf	 out;
	bool		 esc;
	size_t		 i;

	if (job->len == 0 || job->len >= sizeof(path) ||
	    memchr(job->data, '\0', job->len) != NULL) {
		handler_quote(why, sizeof(why), job->data, job->len);
		dw_failf(dw, job, "not a usable path: %s", why);
		return;
	}
	memcpy(path, job->data, job->len);
	path[job->len] = '\0';
	if (sha256_file(path, md, &err) == -1) {
		dw_failf(dw, job, "%s: %s", path, err);
		return;
	}
	esc = strpbrk(path, "\\\n\r") != NULL;
	buf_init(&out);
	if (esc)
		buf_addc(&out, '\\');
	for (i = 0; i < sizeof(md); i++) {
		buf_addc(&out, hex[md[i] >> 4]);
		buf_addc(&out, hex[md[i] & 0xf]);
	}
	buf_add(&out, "  ", 2);
	for (i = 0; i < job->len; i++) {
		if (esc && path[i] == '\\')
			buf_add(&out, "\\\\", 2);
		else if (esc && path[i] == '\n')
			buf_add(&out, "\\n", 2);
		else if (esc && path[i] == '\r')
			buf_add(&out, "\\r", 2);
		else
			buf_addc(&out, path[i]);
	}
	dw_reply(dw, job, buf_data(&out), buf_len(&out));
	buf_free(&out);
}

const struct handler handler_sha256 = {
	.name = "sha256",
	.usage = "sha256",
	.init = sha256_init,
	.run = sha256_run,
	.flush = true,
};
