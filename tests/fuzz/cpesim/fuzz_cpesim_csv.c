/*
 * Fuzz harness: the cpe-sim CSV model loader, then everything a model built
 * from hostile rows must survive: sealing (templates, counters), a walk of
 * the whole tree and an AddObject on every table the walk finds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpesim/dm.h"
#include "cpesim/dm_csv.h"

typedef struct ctx {
    const dm_view_t *v;
    int adds;
} ctx_t;

static int visit(void *ud, const dm_item_t *it)
{
    ctx_t *c = ud;
    size_t n = strlen(it->name);
    if (!it->value && it->writable && n && it->name[n - 1] == '.' && c->adds < 8) {
        uint32_t inst;
        c->adds++;
        (void)dm_add_object(c->v, it->name, "k", &inst);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dm_model_t *m = dm_model_new();
    if (!m)
        return 0;
    dm_csv_stats_t st;
    char err[256];
    if (dm_csv_load(m, (const char *)data, size, &st, err, sizeof err) == 0 &&
        dm_model_seal(m, err, sizeof err) == 0) {
        dm_inst_t *in = NULL;
        dm_view_t v = { m, &in, NULL };
        ctx_t c = { &v, 0 };
        (void)dm_get_names(&v, "", false, visit, &c);
        (void)dm_get_values(&v, "", visit, &c);
        buf_t out = BUF_INIT(1 << 20);
        (void)dm_inst_save(&v, &out);
        buf_free(&out);
        dm_inst_free(in);
    }
    dm_model_free(m);
    return 0;
}
