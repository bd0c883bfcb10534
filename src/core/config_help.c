/*
 * config_help: --help text and --man pages (roff), both written from the
 * same option tables, the subcommand's and the global ones.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/config_int.h"
#include "core/version.h"

static void help_table(const cfg_opt_t *table, FILE *out)
{
    for (const cfg_opt_t *o = table; o->name; o++) {
        if (o->flags & CFG_HIDDEN)
            continue;
        char left[96];
        const char *meta = o->metavar ? o->metavar : (o->type == CFG_BOOL ? NULL : "VALUE");
        snprintf(left, sizeof left, "--%s%s%s", o->name, meta ? " " : "", meta ? meta : "");
        fprintf(out, "  %-28s ", left);
        if (strlen(left) > 28)
            fprintf(out, "\n  %-28s ", "");
        /* help text may contain '\n' for continuation lines */
        for (const char *h = o->help ? o->help : ""; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "  %-28s ", "");
        }
        if (o->type == CFG_LIST && !(o->help && strstr(o->help, "repeatable")))
            fprintf(out, " (repeatable)");
        if (o->flags & (CFG_SECRET | CFG_STATE_DIR))
            ; /* a secret is never shown; a state dir says its default in its help */
        else if (o->def && *o->def && !(o->type == CFG_BOOL && strcmp(o->def, "false") == 0))
            fprintf(out, " (default: %s)", o->def);
        fputc('\n', out);
    }
}

void cfg_help(const cfg_cmd_t *cmd, FILE *out)
{
    fprintf(out, "usage: outpost %s [OPTIONS]%s%s\n\n%s\n\noptions:\n", cmd->name,
            cmd->positional ? " " : "", cmd->positional ? cmd->positional : "", cmd->summary);
    help_table(cmd->opts, out);
    help_table(cfg__global_opts, out);
    fprintf(out, "  %-28s this help\n", "-h, --help");
    fprintf(out, "  %-28s the version and commit of this build\n", "--version");
    fprintf(out, "\nEvery option is also a YAML key of the same name in --config FILE.\n");
}

/* ---- man page ------------------------------------------------------------ */

/* Text for roff: backslashes doubled, '-' as \-, a leading '.' or '\'' escaped. */
static void roff(FILE *out, const char *s, bool line_start)
{
    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        line_start = *s == '\n';
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static void man_table(const cfg_opt_t *table, FILE *out)
{
    for (const cfg_opt_t *o = table; o->name; o++) {
        if (o->flags & CFG_HIDDEN)
            continue;
        const char *meta = o->metavar ? o->metavar : (o->type == CFG_BOOL ? NULL : "VALUE");
        fputs(".TP\n.B \\-\\-", out);
        roff(out, o->name, false);
        if (meta) {
            fputs(" \\fI", out);
            roff(out, meta, false);
            fputs("\\fR", out);
        }
        fputc('\n', out);
        roff(out, o->help ? o->help : "", true);
        if (o->type == CFG_LIST && !(o->help && strstr(o->help, "repeatable")))
            fputs(" (repeatable)", out);
        if (!(o->flags & CFG_SECRET) && o->def && *o->def &&
            !(o->type == CFG_BOOL && strcmp(o->def, "false") == 0) && !(o->flags & CFG_STATE_DIR)) {
            fputs(" (default: ", out);
            roff(out, o->def, false);
            fputc(')', out);
        }
        fputc('\n', out);
    }
}

void cfg_man(const cfg_cmd_t *cmd, FILE *out)
{
    /* "certs root" is the page outpost-certs-root */
    char page[64], upper[64];
    size_t i = 0;
    for (; cmd->name[i] && i + 1 < sizeof page; i++) {
        page[i] = cmd->name[i] == ' ' ? '-' : cmd->name[i];
        upper[i] = (char)toupper((unsigned char)page[i]);
    }
    page[i] = upper[i] = '\0';
    fputs(".TH OUTPOST\\-", out);
    roff(out, upper, false);
    fprintf(out, " 1 \"\" \"outpost %s\" \"Outpost\"\n.SH NAME\noutpost\\-", OUTPOST_VERSION);
    roff(out, page, false);
    fputs(" \\- ", out);
    roff(out, cmd->summary, false);
    fputs("\n.SH SYNOPSIS\n.B outpost ", out);
    roff(out, cmd->name, false);
    fputs("\n[\\fIOPTIONS\\fR]", out);
    if (cmd->positional) {
        fputc(' ', out);
        roff(out, cmd->positional, false);
    }
    fputs("\n.SH DESCRIPTION\n", out);
    roff(out, cmd->summary, true);
    fputs("\n.PP\nEvery option is also a key of the same name in the YAML file given with "
          "\\fB\\-\\-config\\fR; flags override the file. SIGTERM drains and exits 0, "
          "SIGHUP reloads what can be reloaded.\n.SH OPTIONS\n", out);
    man_table(cmd->opts, out);
    man_table(cfg__global_opts, out);
    fputs(".TP\n.B \\-\\-version\nThe version and commit of this build.\n"
          ".SH SEE ALSO\n.BR outpost (1)\n", out);
}
