/*
 * main: the `outpost` binary's subcommand table, nothing else.
 * Each subcommand's entry point lives in its application (floor 3) and takes
 * argv with argv[0] = the subcommand name. The agent-only build
 * (-Dapps=agent, OUTPOST_AGENT_ONLY) links the tunnel agent alone, so its
 * table holds only `agent`.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/version.h"
#include "tunnel/tunnel.h"
#ifndef OUTPOST_AGENT_ONLY
#include "acs/acs.h"
#include "certs/certs.h"
#include "cpesim/cpesim.h"
#include "cwmp_proxy/cwmp_proxy.h"
#include "relay/relay.h"
#include "testd/testd.h"
#endif

typedef struct subcommand {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
    int hidden; /* test-only helpers stay out of the list */
} subcommand_t;

static const subcommand_t subcommands[] = {
#ifdef OUTPOST_AGENT_ONLY
    { "agent", "tunnel agent: local port forwards and whitelisted services behind NAT",
      tunnel_agent_main, 0 },
#else
    { "acs", "TR-069 ACS: CWMP endpoint, device store, task queue, REST API, dashboard", acs_main, 0 },
    { "testd", "test endpoints of the network floor", testd_main, 1 },
    { "gateway", "tunnel gateway: routes TCP streams between agents over WebSocket",
      tunnel_gateway_main, 0 },
    { "agent", "tunnel agent: local port forwards and whitelisted services behind NAT",
      tunnel_agent_main, 0 },
    { "certs", "make the root CA and leaf certificates for relay and tunnel peers", certs_main, 0 },
    { "relay", "mutual-TLS WebSocket relay pairing two peers per path", relay_main, 0 },
    { "relay-client", "the manager's end of a relay path: local HTTP in, REST:REQUEST out", relay_client_main, 0 },
    { "relay-connector", "the gateway's end of a relay path: REST:REQUEST in, local HTTP out",
      relay_connector_main, 0 },
    { "relay-bench", "load generator for bench/relay.sh", relay_bench_main, 1 },
    { "cpe-sim", "a fleet of simulated TR-069 CPEs", cpesim_main, 0 },
    { "cwmp-proxy", "CWMP edge proxy: sticky ACS balancing, ConnectionRequestURL rewriting, wake-ups",
      cwmp_proxy_main, 0 },
#endif
    { NULL, NULL, NULL, 0 },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: outpost SUBCOMMAND [OPTIONS]   (outpost SUBCOMMAND --help for its options)\n\n"
                 "Outpost manages and reaches devices in networks nobody can route into.\n\n"
                 "subcommands:\n");
    for (const subcommand_t *s = subcommands; s->name; s++)
        if (!s->hidden)
            fprintf(out, "  %-16s %s\n", s->name, s->summary);
}

/* outpost(1): the subcommands; each has its own page, made from its options. */
static void man(FILE *out)
{
    fprintf(out, ".TH OUTPOST 1 \"\" \"outpost %s\" \"Outpost\"\n.SH NAME\n"
                 "outpost \\- manage and reach devices in networks nobody can route into\n"
                 ".SH SYNOPSIS\n.B outpost\n\\fISUBCOMMAND\\fR [\\fIOPTIONS\\fR]\n"
                 ".SH DESCRIPTION\nOne binary whose subcommands are the daemons and tools below. "
                 "\\fBoutpost \\fISUBCOMMAND\\fB \\-\\-help\\fR lists a subcommand's options.\n"
                 ".SH SUBCOMMANDS\n", OUTPOST_VERSION);
    for (const subcommand_t *s = subcommands; s->name; s++) {
        if (s->hidden)
            continue;
        fprintf(out, ".TP\n.B %s\n", s->name);
        for (const char *p = s->summary; *p; p++)
            fputs(*p == '-' ? "\\-" : (char[2]){ *p, 0 }, out);
        fputc('\n', out);
    }
    fputs(".SH SEE ALSO\n", out);
    const char *sep = "";
    for (const subcommand_t *s = subcommands; s->name; s++)
        if (!s->hidden) {
            fprintf(out, "%s.BR outpost\\-%s (1)", sep, s->name);
            sep = ",\n";
        }
    fputc('\n', out);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--man") == 0) {
        man(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("outpost %s (commit %s)\n", OUTPOST_VERSION, OUTPOST_COMMIT);
        return 0;
    }
    for (const subcommand_t *s = subcommands; s->name; s++)
        if (strcmp(argv[1], s->name) == 0)
            return s->main(argc - 1, argv + 1);
    fprintf(stderr, "outpost: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
