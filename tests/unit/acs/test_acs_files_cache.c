/* Unit tests of the cap on a shared store's cached copies
 * (src/acs/acs_files_cache.c) on a real directory: the least recently used
 * go first, a copy open for serving is never removed (its shared lock), one
 * larger than the cap goes once released, 0 is no cap, nothing but copies is
 * counted or removed, and adds never leave more than the cap. The bytes:
 * a running total of what the directory takes on disk (temporaries being
 * written, copies added and removed without a pass, a copy removed under a
 * download counted until the download ends, and off the count as soon as
 * it does). The evicted line says the gauge; a FIFO named like a copy is
 * neither counted nor blocks an open, and goes when its copy is added. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "acs/acs_files_cache.h"
#include "core/log.h"

typedef struct fixture {
    char dir[64];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test-files-cache-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

/* A copy's name: 64 times one hex digit. */
static const char *name_of(char c)
{
    static char names[16][65];
    int i = c <= '9' ? c - '0' : c - 'a' + 10;
    memset(names[i], c, 64);
    names[i][64] = '\0';
    return names[i];
}

static void path_of(const fixture_t *f, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", f->dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

/* A file of `size` bytes last used at `used` (epoch seconds). */
static void put_file(const fixture_t *f, const char *name, size_t size, time_t used)
{
    char p[256];
    path_of(f, name, p, sizeof p);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++)
        fputc((int)(i & 0xff), fp);
    assert_int_equal(fclose(fp), 0);
    const struct timespec t[2] = { { .tv_sec = used }, { .tv_nsec = UTIME_OMIT } };
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
}

static bool exists(const fixture_t *f, const char *name)
{
    char p[256];
    path_of(f, name, p, sizeof p);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

/* The bytes of the copies in the directory (64-hex names). */
static uint64_t copies_bytes(const fixture_t *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    uint64_t total = 0;
    struct dirent *e;
    struct stat sb;
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 64 && fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
    closedir(d);
    return total;
}

static void test_least_recently_used_first(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('a'), 100, 1000);
    put_file(f, name_of('b'), 100, 2000);
    put_file(f, name_of('c'), 100, 3000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 250);
    assert_non_null(c);
    /* a is the oldest on disk, but a request uses it now */
    int fd = -1;
    assert_int_equal(acs_files_cache_open(c, name_of('a'), &fd), 0);
    close(fd);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    assert_true(exists(f, name_of('a')) && !exists(f, name_of('b')) && exists(f, name_of('c')));
    assert_int_equal(acs_files_cache_bytes(c), 200);
    assert_int_equal(acs_files_cache_evictions(c), 1);
    assert_false(acs_files_cache_due(c));
    acs_files_cache_free(c);
    /* a smaller cap (a restart with another --file-cache-size): c next, a last */
    c = acs_files_cache_new(f->dir, 100);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    assert_true(exists(f, name_of('a')) && !exists(f, name_of('c')));
    assert_int_equal(acs_files_cache_bytes(c), 100);
    assert_int_equal(acs_files_cache_limit(c), 100);
    /* no copy: absent, not an error */
    assert_int_equal(acs_files_cache_open(c, name_of('b'), &fd), -ENOENT);
    assert_int_equal(acs_files_cache_open(c, "../etc/passwd", &fd), -EINVAL);
    acs_files_cache_free(c);
}

static void test_copy_in_use_skipped(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('1'), 100, 1000);
    put_file(f, name_of('2'), 100, 2000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 150);
    /* 1, the least recently used, is being served (opened, then aged again) */
    int fd = -1, fd2 = -1;
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd), 0);
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd2), 0); /* two downloads at once */
    const struct timespec t[2] = { { .tv_sec = 500 }, { .tv_nsec = UTIME_OMIT } };
    assert_int_equal(futimens(fd, t), 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    assert_true(exists(f, name_of('1')) && !exists(f, name_of('2')));
    char b[100];
    assert_int_equal(pread(fd, b, sizeof b, 0), 100);
    assert_int_equal(b[99], 99);
    close(fd);
    close(fd2);
    /* a pass holding a copy (between its lock and its unlink): a reader sees none */
    char p[256];
    path_of(f, name_of('1'), p, sizeof p);
    int held = open(p, O_RDONLY);
    assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd), -ENOENT);
    /* ...and once it removed it, a reader that had opened it first sees it unlinked */
    int early = open(p, O_RDONLY);
    assert_int_equal(unlink(p), 0);
    close(held);
    assert_int_equal(flock(early, LOCK_SH | LOCK_NB), 0);
    struct stat sb;
    assert_int_equal(fstat(early, &sb), 0);
    assert_int_equal(sb.st_nlink, 0); /* what acs_files_cache_open checks */
    close(early);
    acs_files_cache_free(c);
}

static void test_larger_than_cap_goes_after_release(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('d'), 50, 1000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 100);
    /* just fetched for a request: kept by the pass that follows the add */
    put_file(f, name_of('e'), 500, 2000);
    assert_int_equal(acs_files_cache_trim(c, name_of('e')), 1); /* the other one goes */
    assert_true(exists(f, name_of('e')) && !exists(f, name_of('d')));
    assert_true(acs_files_cache_due(c));
    assert_int_equal(acs_files_cache_bytes(c), 500);
    /* served: not removed while the answer streams */
    int fd = -1;
    assert_int_equal(acs_files_cache_open(c, name_of('e'), &fd), 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_true(exists(f, name_of('e')) && acs_files_cache_due(c));
    /* the answer ended (the descriptor closed): the next pass drops it */
    close(fd);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    assert_false(exists(f, name_of('e')));
    assert_false(acs_files_cache_due(c));
    assert_int_equal(acs_files_cache_bytes(c), 0);
    assert_int_equal(acs_files_cache_evictions(c), 2);
    acs_files_cache_free(c);
}

static void test_zero_is_no_cap(void **state)
{
    fixture_t *f = *state;
    for (char ch = 'a'; ch <= 'f'; ch++)
        put_file(f, name_of(ch), 4096, 1000 + ch);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    for (char ch = 'a'; ch <= 'f'; ch++)
        assert_true(exists(f, name_of(ch)));
    assert_int_equal(acs_files_cache_bytes(c), 6 * 4096);
    assert_int_equal(acs_files_cache_limit(c), 0);
    assert_false(acs_files_cache_due(c));
    acs_files_cache_free(c);
}

/* The log lines written while the sink is set, kept for the tests to read. */
static char lines[4096];

static void keep_line(const char *line, size_t len, void *ud)
{
    (void)ud;
    size_t have = strlen(lines);
    if (have + len < sizeof lines) {
        memcpy(lines + have, line, len);
        lines[have + len] = '\0';
    }
}

static void test_only_copies_counted_or_removed(void **state)
{
    fixture_t *f = *state;
    put_file(f, ".tmp-AbC123", 1000, 10);   /* a fetch being written */
    put_file(f, "fw.bin", 1000, 10);        /* not a copy's name */
    put_file(f, "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", 1000, 10);
    put_file(f, name_of('7'), 30, 20);
    put_file(f, name_of('8'), 30, 30);
    /* a link named like a copy, to a file outside the directory */
    char outside[128], p[256];
    snprintf(outside, sizeof outside, "%s.outside", f->dir);
    FILE *fp = fopen(outside, "w");
    assert_non_null(fp);
    fputs("not the cache's", fp);
    fclose(fp);
    path_of(f, name_of('9'), p, sizeof p);
    assert_int_equal(symlink(outside, p), 0);
    path_of(f, name_of('6'), p, sizeof p);
    assert_int_equal(mkdir(p, 0700), 0);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 40);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    assert_false(exists(f, name_of('7')));
    assert_true(exists(f, name_of('8')) && exists(f, ".tmp-AbC123") && exists(f, "fw.bin") &&
                exists(f, name_of('9')) && exists(f, name_of('6')));
    assert_int_equal(acs_files_cache_bytes(c), 30);
    struct stat sb;
    assert_int_equal(stat(outside, &sb), 0);
    unlink(outside);
    /* never followed: absent (so fetched again), and said once */
    int fd = -1;
    lines[0] = '\0';
    log_set_sink(keep_line, NULL);
    assert_int_equal(acs_files_cache_open(c, name_of('9'), &fd), -ENOENT);
    log_set_sink(NULL, NULL);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(lines, "file_cache_not_a_file"));
    assert_non_null(strstr(lines, name_of('9')));
    acs_files_cache_free(c);
}

static void test_adds_stay_under_cap(void **state)
{
    fixture_t *f = *state;
    static const char hex[] = "0123456789abcdef";
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 300);
    unsigned seed = 7;
    for (int i = 0; i < 40; i++) {
        const char *name = name_of(hex[i % 16]);
        seed = seed * 1103515245u + 12345u;
        put_file(f, name, 10 + (seed >> 16) % 91, 1000 + i); /* 10..100 bytes */
        assert_true(acs_files_cache_trim(c, name) >= 0);
        assert_true(exists(f, name));
        assert_true(copies_bytes(f) <= 300);
        assert_int_equal(acs_files_cache_bytes(c), copies_bytes(f));
        assert_false(acs_files_cache_due(c));
    }
    assert_true(acs_files_cache_evictions(c) > 0);
    acs_files_cache_free(c);
}

/* A temporary being written in the directory, counted piece by piece. */
static void write_tmp(acs_files_cache_t *c, const char *path, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++) {
        fputc((int)(i & 0xff), fp);
        if ((i + 1) % 100 == 0 || i + 1 == size) {
            assert_int_equal(fflush(fp), 0);
            acs_files_cache_writing(c, (i + 1) % 100 ? (int64_t)((i + 1) % 100) : 100);
        }
    }
    assert_int_equal(fclose(fp), 0);
}

static void test_bytes_as_the_directory_changes(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('a'), 100, 1000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 100);
    /* a fetch's temporary: counted as it is written, a pass meanwhile changes nothing */
    char tmp[256], tmp2[256];
    path_of(f, ".tmp-fetch1", tmp, sizeof tmp);
    write_tmp(c, tmp, 250);
    assert_int_equal(acs_files_cache_bytes(c), 350);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 350);
    /* named: the same bytes, now a copy */
    assert_int_equal(acs_files_cache_add(c, tmp, name_of('b'), 250), 0);
    assert_true(exists(f, name_of('b')) && !exists(f, ".tmp-fetch1"));
    assert_int_equal(acs_files_cache_bytes(c), 350);
    assert_int_equal(acs_files_cache_trim(c, name_of('b')), 0);
    assert_int_equal(acs_files_cache_bytes(c), copies_bytes(f));
    /* a file from outside the directory (a PUT's temporary) added: counted as it arrives */
    path_of(f, "files", tmp2, sizeof tmp2);
    assert_int_equal(mkdir(tmp2, 0700), 0);
    path_of(f, "files/.tmp-put", tmp2, sizeof tmp2);
    FILE *fp = fopen(tmp2, "wb");
    assert_non_null(fp);
    fputs("forty bytes of a file stored through us.", fp);
    fclose(fp);
    assert_int_equal(acs_files_cache_add(c, tmp2, name_of('c'), 0), 0);
    assert_int_equal(acs_files_cache_bytes(c), 390);
    /* the same name again: the copy replaced, counted once */
    fp = fopen(tmp2, "wb");
    fputs("ten bytes.", fp);
    fclose(fp);
    assert_int_equal(acs_files_cache_add(c, tmp2, name_of('c'), 0), 0);
    assert_int_equal(acs_files_cache_bytes(c), 360);
    assert_int_equal(acs_files_cache_add(c, tmp2, name_of('d'), 0), -ENOENT); /* gone: nothing */
    assert_int_equal(acs_files_cache_add(c, tmp2, "fw.bin", 0), -EINVAL);
    /* removed without a pass: off the count at once */
    assert_int_equal(acs_files_cache_remove(c, name_of('a')), 1);
    assert_int_equal(acs_files_cache_remove(c, name_of('a')), 0);
    assert_int_equal(acs_files_cache_remove(c, "../x"), -EINVAL);
    assert_false(exists(f, name_of('a')));
    assert_int_equal(acs_files_cache_bytes(c), 260);
    assert_int_equal(acs_files_cache_bytes(c), copies_bytes(f));
    /* a fetch that failed: its temporary counted off as it goes */
    write_tmp(c, tmp, 70);
    assert_int_equal(acs_files_cache_bytes(c), 330);
    unlink(tmp);
    acs_files_cache_writing(c, -70);
    assert_int_equal(acs_files_cache_bytes(c), 260);
    assert_false(acs_files_cache_due(c));
    acs_files_cache_free(c);
}

static void test_removed_under_a_download(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('1'), 300, 1000);
    put_file(f, name_of('2'), 50, 2000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    int fd = -1, fd2 = -1;
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd), 0);
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd2), 0);
    /* its name goes (no new reader finds it), its bytes stay while read */
    assert_int_equal(acs_files_cache_remove(c, name_of('1')), 1);
    assert_false(exists(f, name_of('1')));
    assert_int_equal(acs_files_cache_bytes(c), 350);
    assert_true(acs_files_cache_due(c));
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 350);
    char b[300];
    assert_int_equal(pread(fd, b, sizeof b, 0), 300);
    /* one download over, the other still reading */
    close(fd);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 350);
    assert_true(acs_files_cache_due(c));
    /* both over: the pass that follows counts it off */
    close(fd2);
    assert_int_equal(acs_files_cache_bytes(c), 350);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 50);
    assert_false(acs_files_cache_due(c));
    /* an add over a copy being read: the same */
    assert_int_equal(acs_files_cache_open(c, name_of('2'), &fd), 0);
    char tmp[256];
    path_of(f, ".tmp-again", tmp, sizeof tmp);
    write_tmp(c, tmp, 50);
    assert_int_equal(acs_files_cache_add(c, tmp, name_of('2'), 50), 0);
    assert_int_equal(acs_files_cache_bytes(c), 100);
    close(fd);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    assert_int_equal(acs_files_cache_bytes(c), 50);
    /* a copy still read when the cache ends: its descriptor closed too (ASan, fd checks) */
    assert_int_equal(acs_files_cache_open(c, name_of('2'), &fd), 0);
    assert_int_equal(acs_files_cache_remove(c, name_of('2')), 1);
    acs_files_cache_free(c);
    close(fd);
}

static void test_released_as_downloads_end(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('1'), 300, 1000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 0);
    assert_int_equal(acs_files_cache_trim(c, NULL), 0);
    int fd = -1, fd2 = -1;
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd), 0);
    assert_int_equal(acs_files_cache_open(c, name_of('1'), &fd2), 0);
    assert_int_equal(acs_files_cache_remove(c, name_of('1')), 1);
    acs_files_cache_release(c); /* both still read */
    assert_int_equal(acs_files_cache_bytes(c), 300);
    close(fd);
    acs_files_cache_release(c); /* one still reads */
    assert_int_equal(acs_files_cache_bytes(c), 300);
    assert_true(acs_files_cache_due(c));
    /* the last download over: off the count then, no pass needed */
    close(fd2);
    acs_files_cache_release(c);
    assert_int_equal(acs_files_cache_bytes(c), 0);
    assert_false(acs_files_cache_due(c));
    acs_files_cache_release(c); /* nothing held: nothing changes */
    assert_int_equal(acs_files_cache_bytes(c), 0);
    acs_files_cache_free(c);
}

static void test_evicted_line_says_the_gauge(void **state)
{
    fixture_t *f = *state;
    put_file(f, name_of('a'), 100, 1000);
    put_file(f, name_of('b'), 100, 2000);
    put_file(f, name_of('c'), 100, 3000);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 250);
    /* a fetch being written: in the gauge, not one of the copies the pass counts */
    char tmp[256];
    path_of(f, ".tmp-fetch", tmp, sizeof tmp);
    write_tmp(c, tmp, 70);
    lines[0] = '\0';
    log_set_sink(keep_line, NULL);
    int rc = acs_files_cache_trim(c, NULL);
    log_set_sink(NULL, NULL);
    assert_int_equal(rc, 1);
    assert_false(exists(f, name_of('a')));
    assert_int_equal(acs_files_cache_bytes(c), 270);
    const char *at = strstr(lines, "file_cache_evicted");
    assert_non_null(at);
    at = strstr(at, " cache_bytes=");
    assert_non_null(at);
    assert_int_equal(strtoull(at + strlen(" cache_bytes="), NULL, 10), acs_files_cache_bytes(c));
    acs_files_cache_free(c);
}

static void test_fifo_named_like_a_copy(void **state)
{
    fixture_t *f = *state;
    char p[256];
    path_of(f, name_of('5'), p, sizeof p);
    assert_int_equal(mkfifo(p, 0600), 0);
    put_file(f, name_of('6'), 40, 1000);
    /* a socket by a copy's name too (opening one fails: never followed either) */
    path_of(f, name_of('7'), p, sizeof p);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(p) < sizeof sa.sun_path);
    strcpy(sa.sun_path, p);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    acs_files_cache_t *c = acs_files_cache_new(f->dir, 30);
    /* open: refused at once (without O_NONBLOCK it waits for a writer: the alarm ends the test) */
    alarm(10);
    int fd = -1;
    lines[0] = '\0';
    log_set_sink(keep_line, NULL);
    int rc = acs_files_cache_open(c, name_of('5'), &fd);
    log_set_sink(NULL, NULL);
    alarm(0);
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(lines, "file_cache_not_a_file"));
    assert_non_null(strstr(lines, name_of('5')));
    /* a pass neither counts nor removes them (it opens neither) */
    alarm(10);
    assert_int_equal(acs_files_cache_trim(c, NULL), 1);
    alarm(0);
    assert_int_equal(acs_files_cache_bytes(c), 0);
    assert_true(exists(f, name_of('5')) && exists(f, name_of('7')));
    assert_int_equal(acs_files_cache_evictions(c), 1);
    /* the fetch's add replaces the FIFO with the copy: no error, counted once */
    char tmp[256];
    path_of(f, ".tmp-real", tmp, sizeof tmp);
    write_tmp(c, tmp, 20);
    assert_int_equal(acs_files_cache_add(c, tmp, name_of('5'), 20), 0);
    assert_int_equal(acs_files_cache_bytes(c), 20);
    assert_int_equal(acs_files_cache_open(c, name_of('5'), &fd), 0);
    char b[32];
    assert_int_equal(pread(fd, b, sizeof b, 0), 20);
    close(fd);
    /* and a removal takes the socket's name away, counting nothing */
    assert_int_equal(acs_files_cache_remove(c, name_of('7')), 1);
    assert_false(exists(f, name_of('7')));
    assert_int_equal(acs_files_cache_bytes(c), 20);
    assert_int_equal(acs_files_cache_bytes(c), copies_bytes(f));
    acs_files_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_least_recently_used_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_in_use_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_larger_than_cap_goes_after_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_is_no_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_copies_counted_or_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adds_stay_under_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_as_the_directory_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_under_a_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_as_downloads_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evicted_line_says_the_gauge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_named_like_a_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
