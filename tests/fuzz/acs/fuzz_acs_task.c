/* Fuzz the ACS's task intake: API JSON -> validation -> RPC -> envelope.
 * Whatever validation accepts must encode (the encoder refusing it would
 * leave a task that can never be sent). Also the tree-less names reader:
 * when it accepts text, jansson must read the same names from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body) {
        const char *type;
        json_t *params = NULL;
        char err[256];
        if (acs_task_validate(body, &type, &params, err, sizeof err) == 0) {
            for (int ns = CWMP_NS_1_0; ns <= CWMP_NS_1_2; ns++) {
                cwmp_msg_t m = { .ns = (cwmp_ns_t)ns, .id = "1" };
                acs_rpc_scratch_t sc;
                char key[40];
                buf_t out = BUF_INIT(64 << 20);
                if (acs_task_to_rpc(type, params, 1, &m, &sc, key, sizeof key) != 0 ||
                    cwmp_encode(&out, &m) != 0)
                    abort(); /* accepted by the API, refused by the encoder */
                acs_rpc_scratch_free(&sc);
                buf_free(&out);
            }
            json_decref(params);
        }
        json_decref(body);
    }
    /* the names reader, on the input as text */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char **names;
    size_t n;
    char *store;
    if (strlen(text) == size && acs_task_names_parse(text, &names, &n, &store) == 0) {
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        json_t *arr = j ? json_object_get(j, "names") : NULL;
        if (!arr || json_array_size(arr) != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!json_is_string(json_array_get(arr, i)) ||
                strcmp(json_string_value(json_array_get(arr, i)), names[i]) != 0)
                abort();
        json_decref(j);
        free(names);
        free(store);
    }
    free(text);
    return 0;
}
