/*
 * prov_lua_int: what the sandbox's parts share (prov_lua.c: states, limits,
 * runs; prov_lua_api.c: the functions scripts call). Not for other modules.
 */
#ifndef OUTPOST_ACS_PROV_LUA_INT_H
#define OUTPOST_ACS_PROV_LUA_INT_H

#include <lua.h>

#include "acs/provision/prov_lua.h"

#define PROV_LUA_CHUNK "provision"

enum { STOP_NONE = 0, STOP_COMMIT, STOP_EXT, STOP_BUDGET, STOP_CPU, STOP_MEMORY, STOP_PREEMPT };

typedef struct lctx {
    const prov_lua_env_t *env;
    prov_decls_t *decls;
    prov_lua_out_t *out;
    size_t decl_from;        /* this run's declarations start here */
    int provision;
    size_t mem, mem_max, mem_peak;
    bool mem_hit;
    uint64_t insns, insn_max;
    uint64_t cpu_start, cpu_max;
    uint64_t cpu_preempt;    /* env->preempt_ns, or UINT64_MAX */
    int stop;                /* STOP_* */
    int stop_line;
    bool log_full;
    lua_Hook hook;
} lctx_t;

lctx_t *prov_lua_ctx(lua_State *L);
/* Record why the run ends and raise; never returns. */
void prov_lua_stop(lua_State *L, lctx_t *c, int why) __attribute__((noreturn));
/* Set the API's functions (declare, commit, log, now, ext: they find the
 * run through the state) in the table on top of the stack. */
void prov_lua_api_funcs(lua_State *L);
/* Set the run's own API values (args, device) in the run's environment,
 * the table at index 1 (a lua_CFunction, run protected). */
int prov_lua_open_api(lua_State *L);
/* Wrap find/match/gmatch/gsub of the string table on top of the stack. */
void prov_lua_guard_patterns(lua_State *L);
/* The value at idx as CWMP text, pushed on the stack (NULL, nothing pushed,
 * for a type that has none); *guess: the type the Lua value suggests. */
const char *prov_lua_value_string(lua_State *L, int idx, prov_type_t *guess);

#endif
