/*
 * acs_keys_cli: `outpost acs keys add|list|revoke`, on the ACS's own store
 * (the daemon's --data-dir, --db and --config; every other ACS option is
 * accepted and ignored, so the daemon's config file serves as it is). Safe
 * while the daemon runs: SQLite serialises the writes, and the daemon
 * polls the store's key version (acs_keys.h), so an added key works and a
 * revoked one stops working within ACS_KEYS_POLL_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acs/acs_keys.h"
#include "core/clock.h"
#include "core/str.h"

typedef struct keys_cli {
    acs_opts_t acs;          /* first: the ACS's option rows point into it */
    char *name;
    char *role;
    bool json;
} keys_cli_t;

static const cfg_opt_t add_rows[] = {
    CFG_OPT("name", CFG_STR, keys_cli_t, name, NULL, "NAME",
            "what the key is for, shown in lists (1-64 bytes; required)"),
    CFG_OPT("role", CFG_STR, keys_cli_t, role, NULL, "ROLE",
            "viewer (read only), operator (tasks, tags, wake-ups) or admin (everything;"
            " required)"),
    CFG_OPT("json", CFG_BOOL, keys_cli_t, json, "false", NULL, "print the key as JSON"),
    CFG_END,
};

static const cfg_opt_t list_rows[] = {
    CFG_OPT("json", CFG_BOOL, keys_cli_t, json, "false", NULL, "print the keys as JSON"),
    CFG_END,
};

static const cfg_opt_t revoke_rows[] = { CFG_END };

static const struct sub {
    const char *name, *summary, *positional;
    const cfg_opt_t *rows;
} subs[] = {
    { "add", "Make an API key with a role and print its token, once: the ACS keeps only its hash.",
      NULL, add_rows },
    { "list", "List the API keys (never their tokens): id, role, name, created, last used.", NULL,
      list_rows },
    { "revoke", "Revoke the API key ID: a running ACS refuses it within a second.", "ID",
      revoke_rows },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: outpost acs keys add|list|revoke [OPTIONS]   (outpost acs keys add --help)\n\n"
                 "API keys of the ACS's REST API, each with a role: viewer, operator or admin.\n"
                 "They live in the ACS's store (--data-dir, --db, --config as for the daemon);\n"
                 "a running ACS picks changes up within a second. docs/api-keys.md.\n\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        fprintf(out, "  %-7s %s\n", subs[i].name, subs[i].summary);
    fprintf(out, "\nexample:\n"
                 "  outpost acs keys add --data-dir /var/lib/outpost/acs --name ci --role operator\n"
                 "  outpost acs keys revoke 3f9a0c1b2d4e\n");
}

/* The ACS's rows (hidden, but for where the store is), then the
 * subcommand's; NULL on allocation failure. */
static cfg_opt_t *table_for(const struct sub *s)
{
    const cfg_opt_t *acs = acs_opt_table();
    size_t na = 0, ns = 0;
    while (acs[na].name)
        na++;
    while (s->rows[ns].name)
        ns++;
    cfg_opt_t *t = calloc(na + ns + 1, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < na; i++) {
        t[i] = acs[i];
        if (strcmp(t[i].name, "data-dir") != 0 && strcmp(t[i].name, "db") != 0)
            t[i].flags |= CFG_HIDDEN;
    }
    memcpy(t + na, s->rows, ns * sizeof *t);
    return t; /* calloc: the last row is CFG_END */
}

static int open_store(const keys_cli_t *o, bool create, const char *who, store_t **out)
{
    char url[4200];
    if (o->acs.db)
        snprintf(url, sizeof url, "%s", o->acs.db);
    else
        snprintf(url, sizeof url, "sqlite:%s/acs.db", o->acs.common.data_dir);
    /* a PostgreSQL URL names a server, not a file: the store says whether it opens
     * (and the URL, which may hold a password, is not printed) */
    bool pg = strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
    const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    if (!pg && !create && access(path, F_OK) != 0) {
        fprintf(stderr, "outpost acs keys %s: no ACS database at %s (see --data-dir, --db)\n", who, path);
        return -ENOENT;
    }
    if (create && !o->acs.db && runtime_mkdirs(o->acs.common.data_dir) != 0)
        return -EIO;
    store_opts_t so = { .tool = true, .param_history = (int)o->acs.param_history };
    int rc = store_open(url, &so, out);
    if (rc)
        fprintf(stderr, "outpost acs keys %s: cannot open %s: %s\n", who,
                pg ? "the PostgreSQL database (--db)" : url, strerror(-rc));
    return rc;
}

/* One change in its own transaction (the daemon writes the same file). */
static int in_tx(store_t *s, int (*fn)(store_t *, const void *), const void *arg)
{
    int rc = store_begin(s);
    if (rc)
        return rc;
    rc = fn(s, arg);
    int c = rc == 0 ? store_commit(s) : store_rollback(s);
    return rc ? rc : c;
}

static int do_add_fn(store_t *s, const void *k) { return store_key_add(s, k); }
static int do_revoke_fn(store_t *s, const void *id) { return store_key_delete(s, id); }

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (!s)
        return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}

static int cmd_add(keys_cli_t *o, store_t *s)
{
    store_key_t k;
    char token[ACS_KEY_TOKEN_LEN], err[160] = "";
    if (acs_key_make(o->name, o->role, clock_real_s(), &k, token, err, sizeof err) != 0) {
        fprintf(stderr, "outpost acs keys add: --%s\n", err);
        return 2;
    }
    int rc = in_tx(s, do_add_fn, &k);
    if (rc) {
        fprintf(stderr, "outpost acs keys add: %s\n",
                rc == -ENOSPC ? "the ACS keeps at most 1000 keys: revoke some first" : strerror(-rc));
        memset(token, 0, sizeof token);
        return 1;
    }
    if (o->json) {
        json_t *j = acs_key_json(&k);
        json_object_set_new(j, "token", json_string(token));
        print_json(j);
    } else {
        printf("key %s (%s) made for \"%s\"; its token, shown this once (the ACS keeps only a hash):\n"
               "%s\n", k.id, k.role, k.name, token);
    }
    memset(token, 0, sizeof token);
    return 0;
}

static int collect_json(const store_key_t *k, void *ud)
{
    json_array_append_new(ud, acs_key_json(k));
    return 0;
}

static int cmd_list(keys_cli_t *o, store_t *s)
{
    json_t *arr = json_array();
    json_array_append_new(arr, acs_key_token_json());
    int rc = store_key_list(s, collect_json, arr);
    if (rc < 0) {
        json_decref(arr);
        fprintf(stderr, "outpost acs keys list: %s\n", strerror(-rc));
        return 1;
    }
    if (o->json)
        return print_json(arr);
    printf("%-12s  %-8s  %-20s  %-20s  %s\n", "ID", "ROLE", "CREATED", "LAST USED", "NAME");
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k) {
        const char *c = json_string_value(json_object_get(k, "created"));
        const char *u = json_string_value(json_object_get(k, "last_used"));
        printf("%-12s  %-8s  %-20s  %-20s  %s\n", json_string_value(json_object_get(k, "id")),
               json_string_value(json_object_get(k, "role")), c ? c : "-",
               u ? u : i ? "never" : "-", json_string_value(json_object_get(k, "name")));
    }
    json_decref(arr);
    return 0;
}

static int cmd_revoke(const char *id, store_t *s)
{
    if (strcmp(id, ACS_KEY_TOKEN_ID) == 0) {
        fprintf(stderr, "outpost acs keys revoke: the --api-token (or DATA_DIR/api-token) is the"
                        " configuration's admin key: change it there and restart the ACS\n");
        return 2;
    }
    int rc = in_tx(s, do_revoke_fn, id);
    if (rc) {
        fprintf(stderr, "outpost acs keys revoke: %s\n", rc == -ENOENT ? "no such key" : strerror(-rc));
        return 1;
    }
    printf("key %s revoked\n", id);
    return 0;
}

int acs_keys_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct sub *sub = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            sub = &subs[i];
    if (!sub) {
        fprintf(stderr, "outpost acs keys: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    char name[32];
    snprintf(name, sizeof name, "acs keys %s", sub->name);
    cfg_opt_t *rows = table_for(sub);
    keys_cli_t *o = calloc(1, sizeof *o);
    if (!rows || !o) {
        free(rows);
        free(o);
        return 1;
    }
    cfg_cmd_t cmd = { .name = name, .summary = sub->summary, .positional = sub->positional,
                      .opts = rows };
    cfg_result_t res;
    int rc = cfg_load(&cmd, o, argc - 1, argv + 1, &res);
    int status = rc > 0 ? 0 : 2;
    if (rc == 0) {
        store_t *s = NULL;
        if (sub->rows == add_rows && (!o->name || !o->role)) {
            fprintf(stderr, "outpost %s: --name and --role are required\n", name);
        } else if (sub->positional && res.npositional != 1) {
            fprintf(stderr, "outpost %s: one key ID, as `outpost acs keys list` shows it\n", name);
        } else if (open_store(o, sub->rows == add_rows, sub->name, &s) != 0) {
            status = 1;
        } else {
            status = sub->rows == add_rows    ? cmd_add(o, s)
                     : sub->rows == list_rows ? cmd_list(o, s)
                                              : cmd_revoke(res.positional[0], s);
        }
        store_close(s);
        cfg_free(&cmd, o);
    }
    free(o);
    free(rows);
    return status;
}
