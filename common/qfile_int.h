/*
 * qfile_int: the constants of the queue file format (version 1, described
 * at the top of qfile.c) shared by its writer (qfile_write.c) and its
 * reader (qfile.c). Not for use outside those two files.
 */
#ifndef POSTERN_QFILE_INT_H
#define POSTERN_QFILE_INT_H

#include <stddef.h>
#include <sys/types.h>

#define QFILE_MAGIC	"postern-queue 1"
#define QFILE_BUFSZ	65536
#define QFILE_LINE_MAX	4096		/* longest record line */
#define QFILE_VALUE_MAX	2048		/* longest attribute value */
#define QFILE_RCPT_MAX	100000		/* recipients (and expansions) per file */
#define QFILE_HDR_MAX	(16 * 1024 * 1024)
#define QFILE_WAKE	"private/qmgr"
#define QFILE_FREE_FIFO	"private/free"	/* spent files to reuse (qfile_free.c) */
#define SIZE_DIGITS	20
#define ATT_DIGITS	10
#define NEXT_DIGITS	20
#define PAD_DIGITS	10
/* "pad N\n": N bytes to skip after it (a reused file's old tail) */
#define QFILE_PAD_LEN	(4 + PAD_DIGITS + 1)

#define QFILE_QID_CHARS	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* A value that may be written: no CR, LF or NUL, at most max bytes (qfile_write.c). */
int qfile_value_ok(const char *v, size_t max);
/*
 * A spent file (tmp/f.ID, announced on private/free), open for writing
 * and locked (flock) until the writer closes it, its name in tmppath (len
 * bytes); or -1 (none kept, or no FIFO: the caller creates a file).
 * *oldsize: its length as announced; at commit the writer covers or cuts
 * the old tail by the length fstat gives, whatever this says (qfile_pad
 * in qfile_write.c).
 */
int qfile_claim(char *tmppath, size_t len, off_t *oldsize);

#endif
