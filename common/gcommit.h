/*
 * gcommit: group commit of directory fsyncs across the processes of one
 * daemon (DESIGN.md, the queue: "one fsync for many concurrent messages").
 * Each process renames or links its file into a directory, then calls
 * gcommit_dir(): when another process's fsync of that directory started
 * after this call's entry was made, that fsync covers it too. The
 * contract is unchanged: gcommit_dir returns 0 only after an fsync() of
 * the directory that began after the caller's rename/link completed has
 * returned 0.
 *
 * With sync_method = syncfs (postern.conf(5)) the unit is the file
 * system: gcommit_file and gcommit_dir are both one syncfs(2), shared by
 * every worker waiting for one on the same file system, so the group
 * commit covers the files' content too, not only the directories. All
 * that any of them wrote before the syncfs began is then on stable
 * storage (data, inodes and directory entries alike).
 */
#ifndef POSTERN_GCOMMIT_H
#define POSTERN_GCOMMIT_H

/*
 * Map the shared state; call once in the parent before it forks the
 * processes that commit (smtpd's, submitd's and deliver's workers).
 * 0, or -1 (then every call syncs on its own, as without it).
 */
int gcommit_init(void);

/* sync_method: 0 fsync (the default), 1 syncfs. Once, before the first commit. */
void gcommit_set_syncfs(int on);

/* A file written, about to be renamed or linked: fsync, or the shared syncfs. 0 or -1. */
int gcommit_file(int fd);

/* A directory after a rename or link into it: the shared fsync of that
 * directory, or the shared syncfs. 0, or -1 with errno set. */
int gcommit_dir_fd(int dirfd);
int gcommit_dir(const char *path);

/* Counters for tests and logs: syncs made, and commits they served. */
void gcommit_stats(unsigned long *syncs, unsigned long *commits);

#endif
