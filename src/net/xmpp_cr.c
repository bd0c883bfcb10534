/*
 * xmpp_cr: TR-069 Annex K.2's connection request IQ payload, built by the
 * ACS and read by the CPE (cpe-sim). The request is
 *   <iq type="get" to=CPE id=...><connectionRequest xmlns=XMPP_CR_NS>
 *     <username>..</username><password>..</password></connectionRequest></iq>
 * and the CPE answers an empty result, or an error IQ (not-authorized for
 * wrong credentials, service-unavailable when it will not take requests
 * from that JID or at all).
 */
#include "net/xmpp.h"

#include <errno.h>
#include <string.h>

/* The length of s after xmpp_xml_escape. */
static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '&' ? 5 : *s == '<' || *s == '>' ? 4 : *s == '"' || *s == '\'' ? 6 : 1;
    return n;
}

int xmpp_cr_build(buf_t *out, const char *user, const char *pass)
{
    user = user ? user : "";
    pass = pass ? pass : "";
    /* room for the whole payload first: a realloc after the password went
     * in would leave a copy behind */
    static const char fixed[] = "<connectionRequest xmlns='" XMPP_CR_NS "'><username></username>"
                                "<password></password></connectionRequest>";
    int rc = buf_reserve(out, sizeof fixed - 1 + escaped_len(user) + escaped_len(pass));
    rc = rc ? rc : buf_append_str(out, "<connectionRequest xmlns='" XMPP_CR_NS "'><username>");
    rc = rc ? rc : xmpp_xml_escape(out, user);
    rc = rc ? rc : buf_append_str(out, "</username><password>");
    rc = rc ? rc : xmpp_xml_escape(out, pass);
    rc = rc ? rc : buf_append_str(out, "</password></connectionRequest>");
    return rc;
}

int xmpp_cr_parse(const xmpp_el_t *iq, const char **user, const char **pass)
{
    *user = *pass = NULL;
    const xmpp_el_t *cr = xmpp_el_child(iq, XMPP_CR_NS, "connectionRequest");
    if (!cr)
        return -ENOENT;
    const char *type = xmpp_el_attr(iq, "type");
    const xmpp_el_t *u = xmpp_el_child(cr, XMPP_CR_NS, "username");
    const xmpp_el_t *p = xmpp_el_child(cr, XMPP_CR_NS, "password");
    if (!type || strcmp(type, "get") != 0 || !u || !p)
        return -EINVAL;
    /* a NUL inside (&#0; is not XML, but bytes after one would be ignored) */
    if (strlen(u->text) != u->text_len || strlen(p->text) != p->text_len)
        return -EINVAL;
    *user = u->text;
    *pass = p->text;
    return 0;
}
