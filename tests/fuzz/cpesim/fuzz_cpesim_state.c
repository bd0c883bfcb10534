/*
 * Fuzz harness: the --state-dir overlay records (dm_inst_load_line) on the
 * built-in TR-181 model, then everything that reads an overlay built from
 * them: a walk of the whole tree, AddObject/DeleteObject and a save.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpesim/dm.h"
#include "cpesim/dm_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dm_model_t *model;

static int visit(void *ud, const dm_item_t *it)
{
    (void)ud;
    (void)it;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        char err[128];
        model = dm_model_new();
        if (!model || dm_builtin_load(model, "tr181") != 0 || dm_model_seal(model, err, sizeof err) != 0)
            abort();
    }
    dm_inst_t *in = NULL;
    dm_view_t v = { model, &in, NULL };
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        (void)dm_inst_load_line(&v, p, len);
        p += len + 1;
    }
    (void)dm_get_names(&v, "", false, visit, NULL);
    (void)dm_get_values(&v, "", visit, NULL);
    (void)dm_inform_params(&v, visit, NULL);
    uint32_t inst;
    (void)dm_add_object(&v, "Device.NAT.PortMapping.", "k", &inst);
    (void)dm_delete_object(&v, "Device.NAT.PortMapping.1.", "k");
    buf_t out = BUF_INIT(1 << 20);
    (void)dm_inst_save(&v, &out);
    buf_free(&out);
    dm_inst_free(in);
    return 0;
}
