/*
 * acs_files_cache: the cap on this node's copies of a shared store's files
 * (DATA_DIR/files/.cache/, acs_files_shared.c; --file-cache-size): when
 * the copies hold more bytes than the cap, the least recently used go.
 *
 * The directory is the index, so nothing is kept in memory that a restart
 * or another writer of the directory (fetches, PUTs, the sweep) could make
 * wrong: a copy is a regular file named by its SHA-256 (64 lowercase hex
 * digits), counted for its size; its access time is its last use, set
 * explicitly when a request opens it (so a noatime mount changes nothing)
 * and read by each pass. Any other name (".tmp-*" being written, anything
 * else) is neither counted nor removed, and nothing outside the directory
 * is ever touched.
 *
 * Never under a download: a copy being served is open with a shared
 * flock(2) lock (acs_files_cache_open), which the kernel drops when the
 * descriptor closes (http_file_serve closes it when the answer ends, on
 * every path: nothing to release by hand). A pass removes a copy only
 * while it holds the exclusive lock, taken without waiting; a copy it
 * cannot lock is in use and skipped. flock locks belong to an open file
 * description, so this holds between threads of this process (and would
 * between processes). The window between open and lock is closed by the
 * link count: a copy removed in between is seen as absent (fetched again).
 *
 * A copy larger than the cap is served like any other; the pass after its
 * answer ends removes it (acs_files_cache_over says a pass is due).
 *
 * Threads: any; passes are serialized by the cache's mutex; the figures are
 * atomics (read by /metrics on the loop). Ownership: the caller's, from
 * acs_files_cache_new to acs_files_cache_free; the directory is not.
 */
#ifndef OUTPOST_ACS_FILES_CACHE_H
#define OUTPOST_ACS_FILES_CACHE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct acs_files_cache acs_files_cache_t;

/* dir: the copies' directory (copied); limit: bytes, 0 for no cap. NULL:
 * out of memory or a name too long. */
acs_files_cache_t *acs_files_cache_new(const char *dir, uint64_t limit);
void acs_files_cache_free(acs_files_cache_t *c);

/* The copy named sha256 opened to be served: read-only, its shared lock
 * held for as long as the descriptor is open, its last use now. 0, -ENOENT
 * (no copy, or one being removed: fetch it), other -errno. */
int acs_files_cache_open(acs_files_cache_t *c, const char *sha256, int *fd);

/* One pass: the copies counted; while their bytes are over the limit, the
 * least recently used ones not in use are removed (one log line each).
 * keep: a copy just added that a request is about to open (NULL: none),
 * never removed by this pass. The number removed, or -errno (the
 * directory cannot be read). */
int acs_files_cache_trim(acs_files_cache_t *c, const char *keep);

/* The copies' bytes at the last pass; the limit (0: none); copies removed
 * by passes since start; whether the last pass left more than the limit
 * (copies in use or kept: a pass is due once they are released). */
uint64_t acs_files_cache_bytes(const acs_files_cache_t *c);
uint64_t acs_files_cache_limit(const acs_files_cache_t *c);
uint64_t acs_files_cache_evictions(const acs_files_cache_t *c);
bool acs_files_cache_over(const acs_files_cache_t *c);

#endif
