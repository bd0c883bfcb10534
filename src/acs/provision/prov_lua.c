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

enum {
    HOOK_EVERY = 1000,
    DEFAULT_INSTRUCTIONS = 1000000,
    DEFAULT_MEMORY = 4u << 20,
    DEFAULT_LOG = 4096,
    ALLOC_CHARGE_SHIFT = 5, /* an allocated byte costs 1/32 instruction */
};
#define DEFAULT_CPU_NS 250000000ull

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
        if (c->insns > c->insn_max)
            why = STOP_BUDGET;
        else if (cpu_ns() - c->cpu_start > c->cpu_max)
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
    if (n >= 4)
        lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
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

static lua_State *new_state(lctx_t *c, const prov_lua_limits_t *lim)
{
    c->mem_max = lim && lim->memory ? lim->memory : DEFAULT_MEMORY;
    c->insn_max = lim && lim->instructions ? lim->instructions : DEFAULT_INSTRUCTIONS;
    c->cpu_max = lim && lim->cpu_ns ? lim->cpu_ns : DEFAULT_CPU_NS;
    c->cpu_start = cpu_ns();
    c->hook = l_hook;
    return lua_newstate(l_alloc, c);
}

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

static int open_libs_protected(lua_State *L)
{
    open_libs(L);
    return 0;
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

int prov_lua_run(const char *src, size_t len, const prov_lua_env_t *env, prov_decls_t *decls,
                 prov_lua_out_t *out)
{
    prov_lua_out_free(out);
    const prov_lua_limits_t *lim = env->limits;
    out->log.max = lim && lim->log_max ? lim->log_max : DEFAULT_LOG;
    lctx_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->env = env;
    c->decls = decls;
    c->out = out;
    c->decl_from = decls->n;
    c->provision = env->provision;
    lua_State *L = new_state(c, lim);
    if (!L) {
        fault(out, env->provision, 0, "provision aborted: memory cap");
        free(c);
        return 0;
    }
    lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_EVERY);
    int st = LUA_OK;
    /* the libraries and the API are set up under the limits too: protected */
    lua_pushcfunction(L, open_libs_protected);
    st = lua_pcall(L, 0, 0, 0);
    if (st == LUA_OK) {
        lua_pushcfunction(L, prov_lua_open_api);
        st = lua_pcall(L, 0, 0, 0);
    }
    if (st == LUA_OK) {
        st = luaL_loadbufferx(L, src, len, "=" PROV_LUA_CHUNK, "t");
        if (st == LUA_OK)
            st = lua_pcall(L, 0, 1, 0);
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
    case STOP_MEMORY:
        snprintf(msg, sizeof msg, "provision aborted: memory cap (%zu bytes)", c->mem_max);
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
    /* finalizers run at close under the same hook: give them a fresh, small
     * budget so a __gc loop ends like any other */
    c->insns = 0;
    c->insn_max = HOOK_EVERY * 10;
    c->stop = STOP_NONE;
    lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_EVERY);
    lua_close(L);
    out->mem_peak = c->mem_peak;
    free(c);
    return 0;
}
