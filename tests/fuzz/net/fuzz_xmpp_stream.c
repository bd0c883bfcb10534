/*
 * Fuzz harness: net/xmpp's stream parser and what reads its stanzas (the
 * Annex K connectionRequest, IQ error conditions, JIDs in to/from).
 *
 * The first byte drives the harness: bits 0-1 pick the stanza cap (256 B,
 * 4 KiB, 64 KiB, 1 MiB); bits 2-7 the chunk size the rest is fed in
 * (1..64 bytes; 0: all at once), since a stream arrives cut anywhere.
 * Invariants checked: a connectionRequest's username and password survive
 * xmpp_cr_build() and a second parse unchanged; a parsed JID's parts fit
 * their caps; after an error the parser refuses more input until reset.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rt {
    char user[1024], pass[1024];
    int rc;
} rt_t;

static void rt_stanza(void *ud, const xmpp_el_t *s)
{
    rt_t *r = ud;
    const char *u, *p;
    r->rc = xmpp_cr_parse(s, &u, &p);
    if (r->rc == 0) {
        snprintf(r->user, sizeof r->user, "%s", u);
        snprintf(r->pass, sizeof r->pass, "%s", p);
    }
}

static const xmpp_parser_cbs_t rt_cbs = { NULL, rt_stanza, NULL };

/* Build the request back from what was read and read it again: the same. */
static void round_trip(const char *user, const char *pass)
{
    if (strlen(user) >= 1024 || strlen(pass) >= 1024)
        return;
    buf_t b = BUF_INIT(1 << 16);
    if (buf_append_str(&b, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                           "<iq type='get' id='1'>") ||
        xmpp_cr_build(&b, user, pass) != 0 || buf_append_str(&b, "</iq>")) {
        buf_free(&b);
        return; /* a character XML cannot carry (the parser never yields one) */
    }
    rt_t r = { .rc = -1 };
    xmpp_parser_t *p = xmpp_parser_new(1 << 17, &rt_cbs, &r);
    const char *why;
    int rc = xmpp_parser_feed(p, b.data, b.len, &why);
    assert(rc == 0);
    assert(r.rc == 0);
    assert(strcmp(r.user, user) == 0 && strcmp(r.pass, pass) == 0);
    xmpp_parser_free(p);
    buf_free(&b);
}

static void check_jid(const char *s)
{
    xmpp_jid_t j;
    if (!s || xmpp_jid_parse(s, &j) != 0)
        return;
    assert(j.domain[0]);
    assert(strlen(j.local) <= XMPP_JID_PART_MAX && strlen(j.resource) <= XMPP_JID_PART_MAX);
    assert(xmpp_jid_bare_eq(s, s) == (j.domain[0] != 0));
}

static void on_stanza(void *ud, const xmpp_el_t *s)
{
    const char *u, *p;
    if (xmpp_cr_parse(s, &u, &p) == 0)
        round_trip(u, p);
    (void)xmpp_iq_error_condition(s);
    check_jid(xmpp_el_attr(s, "from"));
    check_jid(xmpp_el_attr(s, "to"));
    for (const xmpp_el_t *k = xmpp_el_first(s); k; k = k->next)
        (void)xmpp_el_is(k, NULL, "bind");
}

static void on_open(void *ud, const xmpp_el_t *s) { check_jid(xmpp_el_attr(s, "from")); }

static const xmpp_parser_cbs_t cbs = { on_open, on_stanza, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t caps[] = { 256, 4096, 65536, 1 << 20 };
    size_t cap = caps[data[0] & 3];
    size_t step = (size_t)(data[0] >> 2);
    data++;
    size--;
    xmpp_parser_t *p = xmpp_parser_new(cap, &cbs, NULL);
    if (!p)
        return 0;
    const char *why = NULL;
    int rc = 0;
    for (size_t i = 0; i < size && rc == 0;) {
        size_t n = step ? (size - i < step ? size - i : step) : size;
        rc = xmpp_parser_feed(p, (const char *)data + i, n, &why);
        i += n;
    }
    if (rc) {
        assert(rc == -EPROTO && why);
        assert(xmpp_parser_feed(p, "<a/>", 4, &why) == -EPROTO);
    }
    xmpp_parser_free(p);
    return 0;
}
