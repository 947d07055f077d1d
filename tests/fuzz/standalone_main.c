/*
 * A main() for the libFuzzer targets of tests/fuzz/ without libFuzzer: it
 * runs LLVMFuzzerTestOneInput once on each file named on the command line
 * (a directory: on each regular file in it, in name order), on an exact-size
 * heap copy so that ASan catches a read past the input. Built with gcc and
 * -fsanitize=address,undefined by tests/fuzz/campaign --standalone, which
 * is what CI runs over the committed corpora. Runs as the invoking user in
 * a test; no privileges. Exit 0 when every input ran, 1 when a file could
 * not be read (a sanitizer aborts by itself on a finding).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define SA_MAX_INPUT (16u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* One file: read whole into a buffer of exactly its size, run it. */
static int
sa_run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uintmax_t)st.st_size > SA_MAX_INPUT) {
		fprintf(stderr, "standalone: %s: cannot read\n", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	    ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0 ||
	    (n == -1 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fd);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

static int
sa_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory: its regular files in name order. */
static int
sa_run_dir(const char *dir, unsigned long *count)
{
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	int rc = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), sa_name_cmp);
	for (i = 0; i < n; i++) {
		if (rc == 0 && str_fmt(path, sizeof(path), "%s/%s", dir, names[i]) > 0) {
			if (sa_run_file(path) == -1)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long count = 0;
	struct stat st;
	int i, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;	/* libFuzzer flags: ignored */
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (sa_run_dir(argv[i], &count) == -1)
				rc = 1;
		} else if (sa_run_file(argv[i]) == -1) {
			rc = 1;
		} else {
			count++;
		}
	}
	fprintf(stderr, "standalone: %lu inputs run\n", count);
	return rc;
}
