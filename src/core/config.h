/*
 * config: one option table per subcommand, filled from defaults, then a YAML
 * file (--config FILE), then long command-line flags (which win).
 *
 * Every option is both a YAML key and a flag of the same name: `listen:` in
 * the file is `--listen` on the command line ('_' is accepted for '-' in
 * YAML keys). Unknown keys, wrong types and out-of-range values are errors
 * that name the file, line and key (or the flag). --help prints every option
 * with its default, --version the build, --man a man page made from the
 * same table. `--config`, `--log-level`, `--log-json`, `--help`,
 * `--version` and `--man` are handled here for every subcommand.
 *
 * Values land in the caller's options struct at `offset`; strings and lists
 * are heap copies owned by that struct until cfg_free().
 *
 * A list (a repeated flag, or a YAML sequence) replaces its built-in
 * default rather than adding to it; `key:` with nothing in the file or
 * `--flag ''` on the command line empties it.
 *
 * A list item given in YAML as a flat mapping ({from: a, to: b}) becomes the
 * text "from=a to=b", the same form a flag takes (--rule 'from=a to=b'), so
 * each structured option has one parser (see cfg_kv_next()).
 *
 * A CFG_JSON option takes any YAML value, nested mappings and lists
 * included, as JSON text (a flag's value is JSON text already); its check
 * function validates it. Plain scalars YAML reads as numbers, true/false
 * and null (null, ~, nothing) become those; every other scalar, and every
 * quoted one, a string. Anchors and aliases are refused; the JSON text is
 * capped at CFG_JSON_MAX bytes and CFG_JSON_DEPTH levels.
 */
#ifndef OUTPOST_CORE_CONFIG_H
#define OUTPOST_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cfg_type {
    CFG_STR,      /* char *, NULL when unset */
    CFG_INT,      /* int64_t within [min, max] */
    CFG_BOOL,     /* bool; a bare flag means true, --flag=false also works */
    CFG_DURATION, /* int64_t milliseconds: "250ms", "10s", "5m", "2h"; bare number = seconds */
    CFG_SIZE,     /* uint64_t bytes: "512", "64KiB", "1MiB", "2GiB" (also K/M/G) */
    CFG_DOUBLE,   /* double within [min, max] */
    CFG_LIST,     /* cfg_list_t: repeated flag, or a YAML sequence */
    CFG_JSON,     /* char *: JSON text (any YAML value), NULL when unset */
} cfg_type_t;

enum { CFG_JSON_MAX = 1024 * 1024, CFG_JSON_DEPTH = 32 };

typedef struct cfg_list {
    char **v;
    size_t n;
} cfg_list_t;

/* Extra validation of a string value (CFG_STR, CFG_JSON, each CFG_LIST item). Returns 0
 * or writes a short reason into err and returns -EINVAL. */
typedef int (*cfg_check_fn)(const char *value, char *err, size_t errlen);

enum {
    CFG_SECRET = 1 << 0, /* never print the value (help shows "(set)") */
    CFG_HIDDEN = 1 << 1, /* not listed in --help */
    CFG_STATE_DIR = 1 << 2, /* default: $STATE_DIRECTORY (systemd's) when set, else `def` */
    /* CFG_DURATION of an option named *-ms: a bare number is milliseconds, as
     * the name says (everywhere else a bare duration is seconds); with a
     * unit ("2s", "250ms") it reads as any duration. */
    CFG_BARE_MS = 1 << 3,
};

typedef struct cfg_opt {
    const char *name;    /* flag and YAML key, e.g. "admin-listen"; NULL ends a table */
    cfg_type_t type;
    size_t offset;       /* offset of the field in the options struct */
    const char *def;     /* default as text; NULL = unset */
    const char *metavar; /* e.g. "HOST:PORT" */
    const char *help;
    double min, max;     /* numeric bounds (durations in ms); both 0 = none */
    cfg_check_fn check;
    unsigned flags;
} cfg_opt_t;

#define CFG_END { .name = NULL }
#define CFG_OPT(NAME, TYPE, STRUCT, FIELD, DEF, META, HELP, ...)                        \
    { .name = (NAME), .type = (TYPE), .offset = offsetof(STRUCT, FIELD), .def = (DEF), \
      .metavar = (META), .help = (HELP), __VA_ARGS__ }

/* The options every daemon shares (see ARCHITECTURE.md), embedded in each
 * daemon's struct as `common`; the CFG_COMMON_* macros declare them. */
typedef struct cfg_common {
    char *listen;
    char *admin_listen;
    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    bool insecure;
    char *data_dir;
    char *api_token;
    bool metrics_public;
    int64_t max_connections; /* the main listener's cap; 0: derived from the descriptor limit */
    int64_t max_per_addr;    /* the main listener's per-client-address cap; 0: none */
} cfg_common_t;

int cfg_check_hostport(const char *value, char *err, size_t errlen);

#define CFG_COMMON_LISTEN(S, DEF, HELP) \
    CFG_OPT("listen", CFG_STR, S, common.listen, DEF, "HOST:PORT", HELP, .check = cfg_check_hostport)
#define CFG_COMMON_ADMIN(S, DEF)                                                               \
    CFG_OPT("admin-listen", CFG_STR, S, common.admin_listen, DEF, "HOST:PORT",                 \
            "loopback admin listener: /metrics, /status, /health, behind the API token (empty: off)", \
            .check = cfg_check_hostport),                                                        \
    CFG_OPT("metrics-public", CFG_BOOL, S, common.metrics_public, "false", NULL,                 \
            "serve /metrics on the admin listener without the token (for a scraper)")
/* Each daemon's main listener: live connections it accepts at most. At the
 * cap it stops accepting until one closes (newcomers wait in the kernel's
 * backlog); 0 derives the cap from the descriptor limit (RLIMIT_NOFILE,
 * whose soft value is raised to the hard one at start). */
#define CFG_COMMON_MAX_CONNECTIONS(S, HELP)                                                    \
    CFG_OPT("max-connections", CFG_INT, S, common.max_connections, "0", "N", HELP, .min = 0, \
            .max = 10000000)
/* One address holding every slot of a listener locks everyone else out
 * (before any authentication): a cap per address, off by default since
 * CPEs and agents behind one NAT share theirs. */
#define CFG_COMMON_MAX_PER_ADDR(S, HELP)                                                      \
    CFG_OPT("max-connections-per-addr", CFG_INT, S, common.max_per_addr, "0", "N", HELP, .min = 0, \
            .max = 1000000)
/* Admin and API listeners on loopback serve a few operators and scrapers:
 * a small fixed cap keeps a stuck client from costing more descriptors. */
enum { CFG_ADMIN_MAX_CONNECTIONS = 16 };
#define CFG_COMMON_TLS(S, WHAT)                                                                   \
    CFG_OPT("tls-cert", CFG_STR, S, common.tls_cert, NULL, "FILE", "certificate (PEM) " WHAT),    \
    CFG_OPT("tls-key", CFG_STR, S, common.tls_key, NULL, "FILE",                                  \
            "private key (PEM) for --tls-cert (default: the key inside --tls-cert's file)"),      \
    CFG_OPT("tls-ca", CFG_STR, S, common.tls_ca, NULL, "FILE",                                    \
            "verify peers against this CA (PEM); on a server it makes client certificates required")
#define CFG_COMMON_INSECURE(S, HELP) \
    CFG_OPT("insecure", CFG_BOOL, S, common.insecure, "false", NULL, HELP)
/* One scheme for every daemon: under systemd (StateDirectory=outpost/NAME)
 * the state lives in /var/lib/outpost/NAME; run by hand, in ./NAME-data. */
#define CFG_COMMON_DATA_DIR(S, NAME)                                                        \
    CFG_OPT("data-dir", CFG_STR, S, common.data_dir, "./" NAME "-data", "DIR",               \
            "where state lives (default: $STATE_DIRECTORY under systemd, else ./" NAME "-data)", \
            .flags = CFG_STATE_DIR)
#define CFG_COMMON_API_TOKEN(S)                                                                 \
    CFG_OPT("api-token", CFG_STR, S, common.api_token, NULL, "TOKEN",                           \
            "bearer token for the API (generated into the data dir and printed once when absent)", \
            .flags = CFG_SECRET)

typedef struct cfg_cmd {
    const char *name;       /* "acs" -> "outpost acs" */
    const char *summary;    /* one line for --help and the subcommand list */
    const char *positional; /* metavar of positional arguments, NULL = none allowed */
    const cfg_opt_t *opts;  /* ends with CFG_END */
} cfg_cmd_t;

enum { CFG_MAX_POSITIONAL = 16 };

typedef struct cfg_result {
    const char *config_path;  /* --config FILE or NULL (points into argv) */
    int npositional;
    char *positional[CFG_MAX_POSITIONAL]; /* pointers into argv */
} cfg_result_t;

/* Fill `opts` (zeroed by the caller) from defaults, YAML and argv (argv[0]
 * is the subcommand name). Returns 0; 1 when --help, --version or --man was
 * printed (exit 0);
 * -EINVAL after printing the reason to stderr (exit 2). */
int cfg_load(const cfg_cmd_t *cmd, void *opts, int argc, char **argv, cfg_result_t *res);
void cfg_free(const cfg_cmd_t *cmd, void *opts);
void cfg_help(const cfg_cmd_t *cmd, FILE *out);
/* A man page (roff) for the subcommand, from the same table as --help. */
void cfg_man(const cfg_cmd_t *cmd, FILE *out);

/* Split "k1=v1 k2=\"v 2\"" items: returns 1 with key/value copied into the
 * buffers, 0 at the end, -EINVAL on a malformed pair. A value in double
 * quotes may hold spaces, \" and \\ (a YAML mapping item is written that
 * way when it needs to). `*pos` starts at 0. */
int cfg_kv_next(const char *item, size_t *pos, char *key, size_t keylen, char *val, size_t vallen);

/* Parsers shared with other places that take the same syntax. */
int cfg_parse_duration_ms(const char *s, int64_t *ms);
int cfg_parse_size(const char *s, uint64_t *bytes);
int cfg_parse_bool(const char *s, bool *b);

#endif
