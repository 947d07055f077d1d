/*
 * tls: OpenSSL contexts for the servers and the outbound client, and the
 * self-signed certificate `postern demo` makes. Contexts are built at
 * start-up, before the privilege drop, because the key is root's; the
 * self-signed pair is written by the invoking user (demo).
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "util.h"

/* err = what + the last OpenSSL error (or errno). */
static void
tls_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		str_copy(buf, errno ? strerror(errno) : "unknown error", sizeof(buf));
	str_fmt(err, errlen, "%s: %s", what, buf);
	ERR_clear_error();
}

static SSL_CTX *
tls_ctx_new(const SSL_METHOD *method, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL) {
		tls_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_error(err, errlen, "TLS 1.2 minimum");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* A peer that just hangs up gives EOF, not a TLS error. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	return ctx;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char what[600];

	if ((ctx = tls_ctx_new(TLS_server_method(), err, errlen)) == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		str_fmt(what, sizeof(what), "%s", cert);
		tls_error(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		str_fmt(what, sizeof(what), "%s", key);
		tls_error(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		str_fmt(what, sizeof(what), "%s does not match %s", key, cert);
		tls_error(err, errlen, what);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(int verify, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = tls_ctx_new(TLS_client_method(), err, errlen)) == NULL)
		return NULL;
	if (verify) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			tls_error(err, errlen, "system trust store");
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

/* X509 v3 extension by its config text. 0 or -1. */
static int
tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int r;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

/* A 10-year self-signed certificate for hostname with key pkey. */
static X509 *
tls_make_cert(const char *hostname, EVP_PKEY *pkey)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[512];

	if (x == NULL || str_fmt(san, sizeof(san), "DNS:%s", hostname) == -1)
		goto fail;
	random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
		goto fail;
	if (tls_add_ext(x, NID_subject_alt_name, san) == -1 ||
	    tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth") == -1 ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Create path exclusively with mode; write the key or else the cert. 0 or -1. */
static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x,
    char *err, size_t errlen)
{
	FILE *fp;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ok = pkey != NULL ?
	    PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(fp, x);
	if (fflush(fp) != 0 || fsync(fd) == -1)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok) {
		tls_error(err, errlen, path);
		unlink(path);
		return -1;
	}
	return 0;
}

int
tls_make_selfsigned(const char *hostname, const char *certpath,
    const char *keypath, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	X509 *x = NULL;
	int r = -1;

	/* EC P-256: small, fast, and every current client speaks it. */
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		tls_error(err, errlen, "EC key generation");
		return -1;
	}
	if ((x = tls_make_cert(hostname, pkey)) == NULL) {
		tls_error(err, errlen, "certificate");
		goto out;
	}
	if (tls_write_pem(keypath, 0600, pkey, NULL, err, errlen) == -1)
		goto out;
	if (tls_write_pem(certpath, 0644, NULL, x, err, errlen) == -1) {
		unlink(keypath);
		goto out;
	}
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}
