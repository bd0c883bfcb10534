/*
 * acs_files_cache: the cap on this node's copies of a shared store's files
 * (DATA_DIR/files/.cache/, acs_files_shared.c; --file-cache-size): when
 * the copies hold more bytes than the cap, the least recently used go.
 *
 * The directory is the index of the copies, so nothing is kept in memory
 * that a restart or another writer of the directory could make wrong: a
 * copy is a regular file named by its SHA-256 (64 lowercase hex digits),
 * counted for its size; its access time is its last use, set explicitly
 * when a request opens it (so a noatime mount changes nothing) and read by
 * each pass. Any other name (".tmp-*" being written, anything else) is
 * never removed by a pass, and nothing outside the directory is ever
 * touched. Anything else named like a copy (a link, FIFO or socket) is
 * never counted, opened for serving or followed: a request that finds it
 * fetches the copy, whose add removes it (a directory is left, logged).
 *
 * The bytes (the gauge): what the cache takes on disk at any moment, kept
 * as a running total: the copies (recounted by each pass, changed by each
 * add and remove in between), the temporaries this process is writing into
 * the directory (acs_files_cache_writing, a fetch's pieces as they land),
 * and the copies removed while downloads still read them: their space is
 * only freed when the last descriptor closes, so the cache keeps one
 * descriptor of each (unlocked) and acs_files_cache_release, called as
 * each download ends (and by each pass), closes those it can lock
 * exclusively, i.e. that no download holds any more, and counts them no
 * more: the gauge drops as the last download ends. Not counted: a crash's
 * temporaries (until the sweep removes them) and names that are not
 * copies'. (Past 256 such copies at once, a further one is counted off as
 * it is removed.)
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
 * answer ends removes it (acs_files_cache_due says a pass is due).
 *
 * Threads: any; passes, adds and removes are serialized by the cache's
 * mutex; the figures are atomics (read by /metrics on the loop).
 * Ownership: the caller's, from acs_files_cache_new to acs_files_cache_free
 * (which closes the descriptors it kept); the directory is not.
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
 * (no copy, one being removed, or something not a regular file by its name,
 * logged: fetch it), other -errno (-ELOOP: a link). Never blocks (a FIFO). */
int acs_files_cache_open(acs_files_cache_t *c, const char *sha256, int *fd);

/* The removed copies no download reads any more (their shared locks gone)
 * closed and counted off: call it once a served descriptor is closed. Only
 * a short lock of its own (never behind a pass's directory scan): fine on
 * the loop. */
void acs_files_cache_release(acs_files_cache_t *c);

/* One pass: removed copies no download reads any more let go; the copies
 * counted; while their bytes are over the limit, the least recently used
 * ones not in use are removed (one log line each).
 * keep: a copy just added that a request is about to open (NULL: none),
 * never removed by this pass. The number removed, or -errno (the
 * directory cannot be read). */
int acs_files_cache_trim(acs_files_cache_t *c, const char *keep);

/* n bytes more (less, once it is renamed or removed) in a temporary of the
 * directory this process is writing: counted from the moment they land. */
void acs_files_cache_writing(acs_files_cache_t *c, int64_t n);

/* The file tmp (in the directory or on its filesystem) renamed to the copy
 * named sha256, its bytes counted; `written`: how many of them
 * acs_files_cache_writing counted while it was written (0: none). A copy
 * of that name already there is removed as by acs_files_cache_remove. The
 * caller runs a pass next (keeping it). 0 or -errno (tmp left, nothing
 * counted; the caller logs). */
int acs_files_cache_add(acs_files_cache_t *c, const char *tmp, const char *sha256, int64_t written);

/* The copy named sha256 removed (its file replaced or deleted), in use or
 * not: its bytes counted off now, or, while downloads read it, once they
 * have ended (acs_files_cache_release). A link, FIFO or socket by that
 * name is removed, never counted. No directory scan. 1 removed, 0 none,
 * -EINVAL (not a copy's name), -EISDIR (a directory), other -errno. */
int acs_files_cache_remove(acs_files_cache_t *c, const char *sha256);

/* The bytes the cache takes on disk (above); the limit (0: none); copies
 * removed by passes since start; whether a pass is due once downloads end
 * (the last one left the copies over the limit, copies in use or kept
 * being in the way; or removed copies are still read). */
uint64_t acs_files_cache_bytes(const acs_files_cache_t *c);
uint64_t acs_files_cache_limit(const acs_files_cache_t *c);
uint64_t acs_files_cache_evictions(const acs_files_cache_t *c);
bool acs_files_cache_due(const acs_files_cache_t *c);

#endif
