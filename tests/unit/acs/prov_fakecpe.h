/* A CPE data model in memory answering the provisioning engine's RPCs the
 * way a TR-069 device does (tests only). Entries ending in '.' are objects. */
#ifndef OUTPOST_TESTS_PROV_FAKECPE_H
#define OUTPOST_TESTS_PROV_FAKECPE_H

#include <stdbool.h>
#include <stddef.h>

#include "acs/provision/prov_declare.h"

typedef struct fake_ent {
    char *name, *value, *type;
    int writable;
} fake_ent_t;

typedef struct fakecpe {
    fake_ent_t *e;
    size_t n, cap;
    /* the last answer (owned) */
    cwmp_msg_t resp;
    cwmp_param_t *params;
    size_t nparams;
    int rpcs[PROV_RPC_FAULT + 1]; /* RPCs answered, by kind */
    bool ignore_spv;              /* accept SPV but change nothing */
} fakecpe_t;

void fake_init(fakecpe_t *f);
void fake_free(fakecpe_t *f);
/* name ending in '.' = object; type NULL = xsd:string */
void fake_set(fakecpe_t *f, const char *name, const char *value, const char *type, int writable);
const char *fake_get(const fakecpe_t *f, const char *name);
bool fake_has(const fakecpe_t *f, const char *name);
/* Answer rpc into f->resp (valid until the next call). */
const cwmp_msg_t *fake_answer(fakecpe_t *f, const prov_rpc_t *rpc);
/* A small TR-181 device: DeviceInfo, ManagementServer, WiFi.SSID.1-2,
 * IP.Interface.1 (Alias "lan"). */
void fake_tr181(fakecpe_t *f);

#endif
