/* prov_lua: the sandbox. See prov_lua.h for what a script may do and why.
 *
 * Stops. Budget, CPU, memory, commit and ext all end the run by raising a
 * Lua error after recording why in the context (c->stop); the pcall/xpcall
 * given to scripts re-raise whenever c->stop is set, and the count hook
 * drops to every instruction once it is, so no script-level handler can
 * keep running. The top level classifies the end by c->stop, not by the
 * error message. */
#include "acs/provision/prov_lua.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "acs/provision/prov_lua_int.h"
#include "core/clock.h"

/* Registry keys of the pooled state (see "the pool" below). */
#define ENV_KEY "outpost.env"       /* the running script's environment */
#define ENV_MT_KEY "outpost.envmt"  /* every environment's metatable: __index, the base names */
#define LIBS_KEY "outpost.libs"     /* name -> the locked metatable of a library's proxy */
#define CHUNKS_KEY "outpost.chunks" /* source -> its compiled main function */
#define SEED_KEY "outpost.seed"     /* math.randomseed */

enum {
    HOOK_EVERY = 1000,
    DEFAULT_INSTRUCTIONS = 1000000,
    DEFAULT_MEMORY = 4u << 20,
    DEFAULT_LOG = 4096,
    ALLOC_CHARGE_SHIFT = 5, /* an allocated byte costs 1/32 instruction */
    /* a growth this big is worth a clock read: between two hook calls a
     * loop of them may take milliseconds (string.rep copies byte by byte) */
    PREEMPT_CHECK_BYTES = 16 << 10,
};
#define DEFAULT_CPU_NS 250000000ull

static uint64_t cpu_ns(void)
{
    return (uint64_t)clock_thread_cpu_ns();
}

lctx_t *prov_lua_ctx(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- allocator and hook ---------------------------------------------------- */

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lctx_t *c = ud;
    if (!ptr)
        osize = 0; /* Lua passes the object kind there */
    if (nsize == 0) {
        free(ptr);
        c->mem -= osize;
        return NULL;
    }
    if (nsize > osize) {
        size_t grow = nsize - osize;
        if (c->stop == STOP_PREEMPT)
            return NULL; /* Lua's own memory error unwinds it at once */
        if (grow > c->mem_max || c->mem > c->mem_max - grow) {
            c->mem_hit = true;
            return NULL; /* Lua collects and retries, then raises LUA_ERRMEM */
        }
        c->insns += grow >> ALLOC_CHARGE_SHIFT;
        if (c->stop == STOP_NONE && c->insns > c->insn_max) {
            /* a loop of big allocations between two hook calls: stop here
             * (Lua raises a memory error; the stop says what it was) */
            c->stop = STOP_BUDGET;
            return NULL;
        }
        if (c->stop == STOP_NONE && grow >= PREEMPT_CHECK_BYTES && c->cpu_preempt != UINT64_MAX &&
            cpu_ns() - c->cpu_start > c->cpu_preempt) {
            c->stop = STOP_PREEMPT;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return nsize <= osize ? ptr : NULL; /* shrinking must not fail */
    c->mem = c->mem - osize + nsize;
    if (c->mem > c->mem_peak)
        c->mem_peak = c->mem;
    return p;
}

void prov_lua_stop(lua_State *L, lctx_t *c, int why)
{
    if (c->stop == STOP_NONE) {
        c->stop = why;
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
            c->stop_line = ar.currentline;
    }
    lua_sethook(L, c->hook, LUA_MASKCOUNT, 1);
    lua_pushliteral(L, "provision stopped");
    lua_error(L);
    __builtin_unreachable();
}

static void l_hook(lua_State *L, lua_Debug *ar)
{
    lctx_t *c = prov_lua_ctx(L);
    c->insns += HOOK_EVERY;
    if (c->stop == STOP_NONE) {
        int why = STOP_NONE;
        uint64_t used;
        if (c->insns > c->insn_max)
            why = STOP_BUDGET;
        else if ((used = cpu_ns() - c->cpu_start) > c->cpu_preempt)
            why = STOP_PREEMPT;
        else if (used > c->cpu_max)
            why = STOP_CPU;
        if (why == STOP_NONE)
            return;
        c->stop = why;
        if (lua_getinfo(L, "l", ar) && ar->currentline > 0)
            c->stop_line = ar->currentline;
    }
    lua_sethook(L, l_hook, LUA_MASKCOUNT, 1);
    lua_pushliteral(L, "provision stopped");
    lua_error(L);
}

/* ---- base library replacements ---------------------------------------------- */

static int after_pcall(lua_State *L, int status, int base)
{
    lctx_t *c = prov_lua_ctx(L);
    if (status == LUA_ERRMEM && c->stop == STOP_NONE)
        c->stop = STOP_MEMORY;
    if (c->stop != STOP_NONE)
        return lua_error(L); /* a stop is not the script's to catch */
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, base);
    return lua_gettop(L) - base + 1;
}

static int l_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    return after_pcall(L, status, 1);
}

static int l_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1); /* f, h, args..., f */
    lua_rotate(L, 3, 1); /* f, h, f, args... */
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
    return after_pcall(L, status, 3);
}

/* setmetatable refusing __gc: finalizers run with hooks off (Lua stops
 * debug hooks during GC metamethods), so a looping __gc could never be
 * stopped. Lua marks an object for finalization only when its metatable has
 * __gc at setmetatable time, so checking here is enough. */
static int l_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int t = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* load(chunk [, name [, mode [, env]]]) with mode forced to text. */
static int l_load(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    if (n >= 2)
        lua_pushvalue(L, 2);
    else
        lua_pushnil(L);
    lua_pushliteral(L, "t");
    /* no env given: the run's own, never the pooled state's globals */
    bool env = n >= 4 || lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY) != LUA_TNIL;
    if (n >= 4)
        lua_pushvalue(L, 4);
    else if (!env)
        lua_pop(L, 1);
    lua_call(L, env ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - n;
}

static void open_libs(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {
        { LUA_GNAME, luaopen_base },       { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 },
    };
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 1);
        lua_pop(L, 1);
    }
    static const char *const drop[] = { "dofile", "loadfile", "collectgarbage", "print", "warn" };
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_getglobal(L, "load");
    lua_pushcclosure(L, l_load, 1);
    lua_setglobal(L, "load");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_pushcfunction(L, l_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, l_xpcall);
    lua_setglobal(L, "xpcall");
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    prov_lua_guard_patterns(L); /* string table on top */
    lua_pop(L, 1);
    /* lock the string metatable: getmetatable("") returns false */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* ---- the state ---------------------------------------------------------------- */

/* "[string ...]:LINE: msg" / "name:LINE: msg" -> line, msg */
static void split_message(const char *m, int *line, char *msg, size_t msglen)
{
    *line = 0;
    const char *p = m;
    const char *prefix = PROV_LUA_CHUNK ":";
    if (strncmp(p, prefix, strlen(prefix)) == 0) {
        p += strlen(prefix);
        char *end;
        long l = strtol(p, &end, 10);
        if (end != p && *end == ':' && l > 0 && l < INT_MAX) {
            *line = (int)l;
            p = end + 1;
            while (*p == ' ')
                p++;
        } else {
            p = m;
        }
    }
    snprintf(msg, msglen, "%s", p);
}

int prov_lua_check(const char *src, size_t len, int *line, char *msg, size_t msglen)
{
    lctx_t c;
    memset(&c, 0, sizeof c);
    *line = 0;
    if (msglen)
        msg[0] = '\0';
    c.mem_max = 16u << 20;
    c.insn_max = UINT64_MAX; /* compiling runs nothing */
    lua_State *L = lua_newstate(l_alloc, &c);
    if (!L)
        return -ENOMEM;
    int rc = 0;
    int st = luaL_loadbufferx(L, src, len, "=" PROV_LUA_CHUNK, "t");
    if (st == LUA_ERRMEM) {
        rc = -ENOMEM;
    } else if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        split_message(m ? m : "syntax error", line, msg, msglen);
        rc = -EINVAL;
    }
    lua_close(L);
    return rc;
}

void prov_lua_out_init(prov_lua_out_t *o)
{
    memset(o, 0, sizeof *o);
    o->log = BUF_INIT(DEFAULT_LOG);
    o->vp_writable = -1;
    o->fault.provision = -1;
}

void prov_lua_out_free(prov_lua_out_t *o)
{
    buf_free(&o->log);
    free(o->ext_key);
    free(o->ext_name);
    for (size_t i = 0; i < o->n_ext_args; i++)
        free(o->ext_args[i]);
    free(o->ext_args);
    free(o->vp_value);
    prov_lua_out_init(o);
}

static void fault(prov_lua_out_t *o, int provision, int line, const char *msg)
{
    o->status = PROV_RUN_FAULT;
    o->fault.code = PROV_FAULT_SCRIPT;
    o->fault.provision = provision;
    o->fault.line = line;
    snprintf(o->fault.message, sizeof o->fault.message, "%s", msg);
}

/* The VP script's answer: {writable = b, value = {v, type}} or a bare v. */
static void vp_result(lua_State *L, lctx_t *c, prov_lua_out_t *o)
{
    int top = lua_gettop(L);
    int vi = top;
    if (lua_istable(L, top)) {
        if (lua_getfield(L, top, "writable") != LUA_TNIL)
            o->vp_writable = lua_toboolean(L, -1);
        lua_getfield(L, top, "value");
        vi = lua_gettop(L);
    }
    prov_type_t t = PROV_T_UNKNOWN;
    if (lua_istable(L, vi)) {
        if (lua_geti(L, vi, 2) == LUA_TSTRING)
            t = prov_type_from_name(lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_geti(L, vi, 1);
        vi = lua_gettop(L);
    }
    if (lua_isnil(L, vi)) {
        o->vp_done = true;
        return;
    }
    prov_type_t guess;
    const char *v = prov_lua_value_string(L, vi, &guess);
    if (!v) {
        fault(o, c->provision, 0, "virtual parameter script returned a value of a wrong type");
        return;
    }
    o->vp_value = strdup(v);
    o->vp_type = t != PROV_T_UNKNOWN ? t : guess != PROV_T_UNKNOWN ? guess : PROV_T_STRING;
    o->vp_done = o->vp_value != NULL;
}

/* ---- the pool ------------------------------------------------------------------------
 *
 * Creating a lua_State and opening its libraries cost most of a short run
 * (about 17 of 28 us), and compiling the script a good part of the rest. So
 * each thread keeps one pooled state, set up once, and every run gets:
 *
 *   - a fresh environment table (the script's _ENV, its `_G`), filled from a
 *     template of the base functions and the API; nothing a run assigns to a
 *     global survives it;
 *   - fresh proxies of the libraries (string, table, math, utf8): empty
 *     tables whose locked metatable (__metatable = false, so it can be
 *     neither read nor replaced) indexes the real library. What a script
 *     assigns into `string` lands in its own proxy, which dies with the run;
 *     the real library tables are reachable from no script: the string
 *     metatable is locked too, and `load` without an env gets the run's
 *     environment, never the pooled state's globals;
 *   - math.random reseeded (the generator's state is the only other mutable
 *     state a library holds);
 *   - the same limits as a fresh state: its instruction budget and CPU
 *     time from zero, its memory cap counted from the heap at its start
 *     (after a full collection whenever earlier runs left more than
 *     POOL_SLACK behind).
 *
 * Compiled scripts are kept by source text (the main function; its one
 * upvalue, _ENV, is set to the run's environment, and cleared after):
 * at most POOL_CHUNKS of them and POOL_CHUNK_BYTES of source, then the cache
 * starts over. The state is closed and made again every POOL_RUNS runs and
 * after any run that did not leave it as expected, so nothing can drift for
 * long. Finalizers cannot exist (setmetatable refuses __gc), and every stop
 * is a Lua error that unwinds the state to where the run began.
 */
enum {
    POOL_RUNS = 100000,
    POOL_CHUNKS = 256,
    POOL_CHUNK_BYTES = 1 << 20,
    POOL_SLACK = 1 << 20,
};

typedef struct lpool {
    lua_State *L;
    lctx_t c;               /* the allocator's ud: reset for each run */
    size_t runs;
    size_t chunks, chunk_bytes;
} lpool_t;

static _Thread_local lpool_t pool;

static void pool_close(void)
{
    if (pool.L)
        lua_close(pool.L);
    memset(&pool, 0, sizeof pool);
}

/* Protected: the libraries, the template environment, the proxies' metatables. */
static int pool_setup(lua_State *L)
{
    open_libs(L);
    static const char *const libs[] = { LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME,
                                        LUA_UTF8LIBNAME };
    lua_newtable(L); /* LIBS: name -> metatable */
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        lua_createtable(L, 0, 2);
        lua_getglobal(L, libs[i]);
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_setfield(L, -2, libs[i]);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, LIBS_KEY);
    /* BASE: the globals as they are now without _G and the libraries (each
     * environment has its own), and the API's functions; only ever read,
     * through ENV_MT, which no script can reach (locked) */
    lua_newtable(L);
    lua_pushglobaltable(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        bool own = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "_G") == 0;
        for (size_t i = 0; i < sizeof libs / sizeof *libs && !own; i++)
            own = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), libs[i]) == 0;
        if (own) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
    lua_pop(L, 1);
    prov_lua_api_funcs(L);
    lua_createtable(L, 0, 2);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CHUNKS_KEY);
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_setfield(L, LUA_REGISTRYINDEX, SEED_KEY);
    lua_pop(L, 1);
    return 0;
}

static lua_State *pool_get(void)
{
    if (pool.L && pool.runs < POOL_RUNS)
        return pool.L;
    pool_close();
    /* setting up runs nothing a script wrote: no limits but memory */
    pool.c.mem_max = 64u << 20;
    pool.c.insn_max = UINT64_MAX;
    pool.c.cpu_max = UINT64_MAX;
    pool.c.cpu_preempt = UINT64_MAX;
    pool.c.hook = l_hook;
    lua_State *L = lua_newstate(l_alloc, &pool.c);
    if (!L)
        return NULL;
    lua_pushcfunction(L, pool_setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lua_close(L);
        memset(&pool, 0, sizeof pool);
        return NULL;
    }
    pool.L = L;
    return L;
}

/* Protected, on the pooled state: push the run's environment (fresh
 * library proxies, _G, args, device; the rest read through ENV_MT),
 * registered as the run's. Nothing but the proxies and these tables is made
 * per run: copying the ~50 base names each time was most of a run's cost. */
static int pool_env(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LIBS_KEY);
    int libs = lua_gettop(L);
    lua_createtable(L, 0, 8);
    int env = libs + 1;
    lua_pushnil(L);
    while (lua_next(L, libs)) { /* name, its proxy's metatable */
        lua_newtable(L);
        lua_insert(L, -2);
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, env);
    }
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    lua_pushcfunction(L, prov_lua_open_api);
    lua_pushvalue(L, env);
    lua_call(L, 1, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_MT_KEY);
    lua_setmetatable(L, env);
    /* the generator starts afresh: nothing of another run's draws */
    lua_getfield(L, LUA_REGISTRYINDEX, SEED_KEY);
    lua_call(L, 0, 0);
    lua_pushvalue(L, env);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    return 1;
}

/* Push the compiled main function of src: cached, or compiled (text only)
 * and cached while there is room. A syntax error is the Lua status. */
static int pool_chunk(lua_State *L, const char *src, size_t len)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CHUNKS_KEY);
    lua_pushlstring(L, src, len);
    if (lua_rawget(L, -2) == LUA_TFUNCTION) {
        lua_remove(L, -2);
        return LUA_OK;
    }
    lua_pop(L, 1);
    int st = luaL_loadbufferx(L, src, len, "=" PROV_LUA_CHUNK, "t");
    if (st != LUA_OK) {
        lua_remove(L, -2);
        return st;
    }
    if (pool.chunks >= POOL_CHUNKS || pool.chunk_bytes + len > POOL_CHUNK_BYTES) {
        /* full: start over (what is in use now is compiled again next time) */
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, CHUNKS_KEY);
        pool.chunks = pool.chunk_bytes = 0;
    } else {
        lua_pushlstring(L, src, len);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
        pool.chunks++;
        pool.chunk_bytes += len;
    }
    lua_remove(L, -2);
    return LUA_OK;
}

int prov_lua_run(const char *src, size_t len, const prov_lua_env_t *env, prov_decls_t *decls,
                 prov_lua_out_t *out)
{
    prov_lua_out_free(out);
    const prov_lua_limits_t *lim = env->limits;
    out->log.max = lim && lim->log_max ? lim->log_max : DEFAULT_LOG;
    lua_State *L = pool_get();
    if (!L) {
        fault(out, env->provision, 0, "provision aborted: memory cap");
        return 0;
    }
    pool.runs++;
    lctx_t *c = &pool.c;
    /* what earlier runs left: collected before it could count against this one */
    if (c->mem > pool.chunk_bytes * 4 + POOL_SLACK)
        lua_gc(L, LUA_GCCOLLECT);
    size_t mem_start = c->mem;
    size_t cap = lim && lim->memory ? lim->memory : DEFAULT_MEMORY;
    lctx_t fresh = {
        .env = env, .decls = decls, .out = out, .decl_from = decls->n, .provision = env->provision,
        .mem = c->mem, .mem_max = mem_start + cap, .mem_peak = c->mem,
        .insn_max = lim && lim->instructions ? lim->instructions : DEFAULT_INSTRUCTIONS,
        .cpu_max = lim && lim->cpu_ns ? lim->cpu_ns : DEFAULT_CPU_NS, .cpu_start = cpu_ns(),
        .cpu_preempt = env->preempt_ns ? env->preempt_ns : UINT64_MAX, .hook = l_hook,
    };
    *c = fresh;
    int top = lua_gettop(L);
    lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_EVERY);
    /* the environment is built under the run's limits too: protected */
    lua_pushcfunction(L, pool_env);
    int st = lua_pcall(L, 0, 1, 0);
    bool chunk = false;
    if (st == LUA_OK) {
        st = pool_chunk(L, src, len); /* env, fn */
        if (st == LUA_OK) {
            chunk = true;
            lua_pushvalue(L, -2);
            lua_setupvalue(L, -2, 1); /* its _ENV */
            lua_pushvalue(L, -1);
            st = lua_pcall(L, 0, 1, 0); /* env, fn, result */
        }
    }
    if (st == LUA_ERRMEM && c->stop == STOP_NONE)
        c->stop = STOP_MEMORY;
    char msg[256];
    int line = 0;
    switch (c->stop) {
    case STOP_COMMIT:
        out->status = PROV_RUN_COMMIT;
        break;
    case STOP_EXT:
        out->status = PROV_RUN_EXT;
        break;
    case STOP_BUDGET:
        fault(out, env->provision, c->stop_line, "provision aborted: instruction budget exhausted");
        break;
    case STOP_CPU:
        fault(out, env->provision, c->stop_line, "provision aborted: CPU time limit");
        break;
    case STOP_PREEMPT:
        out->status = PROV_RUN_PREEMPTED;
        break;
    case STOP_MEMORY:
        snprintf(msg, sizeof msg, "provision aborted: memory cap (%zu bytes)", cap);
        fault(out, env->provision, c->stop_line, msg);
        break;
    default:
        if (st != LUA_OK) {
            const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            if (!m)
                m = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
            split_message(m, &line, msg, sizeof msg);
            fault(out, env->provision, line, msg);
        } else {
            out->status = PROV_RUN_DONE;
            if (env->vp)
                vp_result(L, c, out);
        }
        break;
    }
    out->instructions = c->insns;
    out->mem_peak = c->mem_peak - mem_start;
    /* back to the state as it was: no hook, no environment, the chunk's
     * _ENV cleared (the environment is garbage now) */
    lua_sethook(L, NULL, 0, 0);
    c->insn_max = UINT64_MAX;
    c->cpu_max = UINT64_MAX;
    c->cpu_preempt = UINT64_MAX;
    c->mem_max = mem_start + cap + POOL_SLACK;
    c->stop = STOP_NONE;
    if (chunk) {
        lua_pushnil(L);
        lua_setupvalue(L, top + 2, 1);
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_settop(L, top);
    c->env = NULL;
    c->decls = NULL;
    c->out = NULL;
    if (top != 0 || c->mem > mem_start + cap + POOL_SLACK)
        pool_close(); /* not as expected: made again at the next run */
    return 0;
}
