/* prov_lua_api: the functions and tables a provision script sees (declare,
 * commit, log, now, args, device, ext) and the guards on string patterns.
 *
 * Nothing here holds heap memory across a Lua API call that may raise: a
 * raise is a longjmp. Results are built on the Lua stack; what outlives the
 * run (declarations, the pending ext call) goes straight into structures the
 * caller frees. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "acs/provision/prov_lua_int.h"
#include "acs/provision/prov_state_int.h"

enum { FLAG_VALUE = 1, FLAG_WRITABLE = 2, FLAG_ALL = 4 };

/* ---- values ------------------------------------------------------------------ */

const char *prov_lua_value_string(lua_State *L, int idx, prov_type_t *guess)
{
    idx = lua_absindex(L, idx);
    *guess = PROV_T_UNKNOWN;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        return lua_tostring(L, -1);
    case LUA_TBOOLEAN:
        *guess = PROV_T_BOOL;
        return lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    case LUA_TNUMBER: {
        lua_Integer i;
        if (lua_isinteger(L, idx)) {
            i = lua_tointeger(L, idx);
        } else {
            lua_Number n = lua_tonumber(L, idx);
            if (!(n == floor(n) && n >= -9.2e18 && n <= 9.2e18))
                return lua_pushfstring(L, "%s", lua_tostring(L, idx)); /* not an integer */
            i = (lua_Integer)n;
        }
        *guess = i < 0 ? PROV_T_INT : PROV_T_UINT;
        return lua_pushfstring(L, "%I", i);
    }
    default:
        return NULL;
    }
}

/* A parameter's value as a script sees it: {v, type}, v typed. */
static void push_value(lua_State *L, const prov_node_t *n)
{
    lua_createtable(L, 2, 0);
    prov_type_t t = (prov_type_t)n->type;
    const char *v = n->value ? n->value : "";
    bool done = false;
    if (t == PROV_T_BOOL) {
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "0") || !strcmp(v, "false")) {
            lua_pushboolean(L, v[0] == '1' || v[0] == 't');
            done = true;
        }
    } else if (t == PROV_T_INT || t == PROV_T_UINT || t == PROV_T_LONG || t == PROV_T_ULONG) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (*v && !*end && !errno) {
            lua_pushinteger(L, (lua_Integer)x);
            done = true;
        }
    }
    if (!done)
        lua_pushstring(L, v);
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, prov_type_name(t == PROV_T_UNKNOWN ? PROV_T_STRING : t));
    lua_rawseti(L, -2, 2);
}

/* ---- the commit sentinel on results ------------------------------------------ */

static int commit_index(lua_State *L)
{
    int flags = (int)lua_tointeger(L, lua_upvalueindex(1));
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if ((flags & FLAG_ALL) || (k && !strcmp(k, "value") && (flags & FLAG_VALUE)) ||
        (k && !strcmp(k, "writable") && (flags & FLAG_WRITABLE)))
        prov_lua_stop(L, prov_lua_ctx(L), STOP_COMMIT);
    return 0;
}

static int commit_any(lua_State *L)
{
    prov_lua_stop(L, prov_lua_ctx(L), STOP_COMMIT);
}

/* Reading what `flags` marks ends the run for data. */
static void set_commit_mt(lua_State *L, int flags)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, flags);
    lua_pushcclosure(L, commit_index, 1);
    lua_setfield(L, -2, "__index");
    if (flags & FLAG_ALL) {
        lua_pushcfunction(L, commit_any);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, commit_any);
        lua_setfield(L, -2, "__pairs");
    }
    lua_setmetatable(L, -2);
}

/* ---- declare ------------------------------------------------------------------ */

typedef struct view {
    lua_State *L;
    const prov_decl_t *d;
    int result; /* stack index of the result table */
    lua_Integer n;
    bool incomplete;
} view_t;

static int view_fn(void *ud, const prov_res_t *r)
{
    view_t *v = ud;
    lua_State *L = v->L;
    const prov_decl_t *d = v->d;
    if (r->kind != PROV_RES_MATCH) {
        v->incomplete = true;
        return 0;
    }
    const prov_node_t *n = r->node;
    int flags = 0;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, r->path);
    lua_setfield(L, -2, "path");
    if (!n || !n->object) {
        bool known = n && n->exists && n->t_value > 0;
        if (known && (d->t_value == 0 || n->t_value >= d->t_value)) {
            push_value(L, n);
            lua_setfield(L, -2, "value");
        } else if (d->t_value > 0) {
            flags |= FLAG_VALUE;
        }
    }
    if (n && n->writable >= 0 && (d->t_writable == 0 || n->t_writable >= d->t_writable)) {
        lua_pushboolean(L, n->writable);
        lua_setfield(L, -2, "writable");
    } else if (d->t_writable > 0) {
        flags |= FLAG_WRITABLE;
    }
    if (flags)
        set_commit_mt(L, flags);
    lua_rawseti(L, v->result, ++v->n);
    return 0;
}

static int64_t ts_field(lua_State *L, int t, const char *k)
{
    int ty = lua_getfield(L, t, k);
    int64_t v = 0;
    if (ty == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, -1);
        if (!(x >= 0 && x < 1e15))
            luaL_error(L, "declare: timestamps.%s out of range", k);
        v = (int64_t)x;
    } else if (ty != LUA_TNIL) {
        luaL_error(L, "declare: timestamps.%s must be a number", k);
    }
    lua_pop(L, 1);
    return v;
}

static uint32_t count_arg(lua_State *L, int idx)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum || v < 0 || v > 100000)
        luaL_error(L, "declare: values.path must be an instance count (0..100000)");
    return (uint32_t)v;
}

static int l_declare(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    const char *path = luaL_checkstring(L, 1);
    prov_decl_spec_t s = { .path = path, .provision = c->provision };
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        s.t_path = ts_field(L, 2, "path");
        s.t_value = ts_field(L, 2, "value");
        s.t_writable = ts_field(L, 2, "writable");
    }
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        int ty = lua_getfield(L, 3, "value"); /* stays on the stack while s.value is used */
        int vi = lua_gettop(L);
        if (ty == LUA_TTABLE) {
            if (lua_geti(L, vi, 2) == LUA_TSTRING) {
                s.type = prov_type_from_name(lua_tostring(L, -1));
                if (s.type == PROV_T_STRING && strcmp(lua_tostring(L, -1), "xsd:string") != 0 &&
                    strcmp(lua_tostring(L, -1), "string") != 0)
                    luaL_error(L, "declare: unknown type '%s'", lua_tostring(L, -1));
            }
            lua_geti(L, vi, 1);
            vi = lua_gettop(L);
        }
        if (!lua_isnil(L, vi)) {
            s.value = prov_lua_value_string(L, vi, &s.fallback);
            if (!s.value)
                luaL_error(L, "declare: values.value must be a string, number or boolean");
        }
        ty = lua_getfield(L, 3, "path");
        if (ty == LUA_TTABLE) {
            lua_geti(L, -1, 1);
            lua_geti(L, -2, 2);
            s.count = true;
            s.count_min = count_arg(L, -2);
            s.count_max = count_arg(L, -1);
        } else if (ty != LUA_TNIL) {
            s.count = true;
            s.count_min = s.count_max = count_arg(L, -1);
        }
    }
    const char *why = NULL;
    int rc = prov_decls_add(c->decls, &s, &why);
    if (rc != 0)
        return luaL_error(L, "declare('%s'): %s", path,
                          why ? why : rc == -ENOMEM ? "out of memory" : "refused");
    const prov_decl_t *d = c->decls->v[c->decls->n - 1];
    /* the result: what the state knows now */
    lua_createtable(L, 4, 4);
    view_t v = { .L = L, .d = d, .result = lua_gettop(L) };
    rc = prov_state_resolve(c->env->st, &d->path, d->t_path, view_fn, &v);
    if (rc < 0)
        return luaL_error(L, "declare('%s'): cannot resolve", path);
    if (v.incomplete) {
        set_commit_mt(L, FLAG_ALL);
        return 1;
    }
    lua_pushinteger(L, v.n);
    lua_setfield(L, v.result, "size");
    if (v.n >= 1) {
        /* the first match's fields, read raw (a stale one must stop the run
         * when the script reads it, not now), and its commit metatable */
        lua_rawgeti(L, v.result, 1);
        int item = lua_gettop(L);
        static const char *const fields[] = { "path", "value", "writable" };
        for (size_t i = 0; i < 3; i++) {
            lua_pushstring(L, fields[i]);
            lua_rawget(L, item);
            lua_setfield(L, v.result, fields[i]);
        }
        if (lua_getmetatable(L, item))
            lua_setmetatable(L, v.result);
        lua_pop(L, 1);
    }
    return 1;
}

static int l_commit(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    /* planning costs about a resolve per declaration: charged, so that a
     * loop of commits cannot run long between two hook calls */
    c->insns += 64 * (uint64_t)(c->decls->n - c->decl_from);
    if (c->insns > c->insn_max)
        prov_lua_stop(L, c, STOP_BUDGET);
    if (!prov_decls_satisfied(c->env->st, c->decls, c->decl_from))
        prov_lua_stop(L, c, STOP_COMMIT);
    return 0;
}

static int l_log(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    int n = lua_gettop(L);
    buf_t *b = &c->out->log;
    if (c->log_full)
        return 0;
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if ((i > 1 && buf_append_byte(b, ' ') != 0) || buf_append(b, s, len) != 0) {
            c->log_full = true;
            break;
        }
        lua_pop(L, 1);
    }
    if (c->log_full || buf_append_byte(b, '\n') != 0) {
        c->log_full = true;
        /* make the cut visible, over the last bytes if need be */
        static const char mark[] = "\n[log truncated]\n";
        if (b->max >= sizeof mark) {
            if (b->len > b->max - (sizeof mark - 1))
                b->len = b->max - (sizeof mark - 1);
            buf_append(b, mark, sizeof mark - 1);
        }
    }
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)prov_lua_ctx(L)->env->now);
    return 1;
}

static int l_ext(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    int n = lua_gettop(L);
    luaL_checkstring(L, 1);
    for (int i = 2; i <= n; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
            return luaL_error(L, "ext: argument %d must be a string, number or boolean", i);
    }
    luaL_Buffer kb;
    luaL_buffinit(L, &kb);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&kb, '\x1f');
        size_t l;
        const char *s = luaL_tolstring(L, i, &l);
        lua_pop(L, 1);
        luaL_addlstring(&kb, s, l);
    }
    luaL_pushresult(&kb);
    size_t klen;
    const char *key = lua_tolstring(L, -1, &klen);
    bool ok = false;
    const char *value = NULL;
    if (c->env->ext_lookup && c->env->ext_lookup(c->env->ext_ud, key, klen, &ok, &value)) {
        if (ok) {
            lua_pushstring(L, value ? value : "");
            return 1;
        }
        lua_pushnil(L);
        lua_pushstring(L, value ? value : "ext failed");
        return 2;
    }
    /* not cached: record the call (owned by out) and stop the run */
    prov_lua_out_t *o = c->out;
    o->ext_key = malloc(klen + 1);
    if (o->ext_key) {
        memcpy(o->ext_key, key, klen);
        o->ext_key[klen] = '\0';
    }
    o->ext_name = strdup(lua_tostring(L, 1));
    o->ext_args = calloc((size_t)n, sizeof *o->ext_args);
    for (int i = 2; i <= n && o->ext_args; i++) {
        const char *s = luaL_tolstring(L, i, NULL);
        o->ext_args[o->n_ext_args] = strdup(s);
        if (o->ext_args[o->n_ext_args])
            o->n_ext_args++;
        lua_pop(L, 1);
    }
    if (!o->ext_key || !o->ext_name)
        return luaL_error(L, "ext: out of memory");
    prov_lua_stop(L, c, STOP_EXT);
}

static void push_ts(lua_State *L, const prov_vp_req_t *r)
{
    lua_createtable(L, 0, 3);
    if (r->t_path) {
        lua_pushinteger(L, r->t_path);
        lua_setfield(L, -2, "path");
    }
    if (r->t_value) {
        lua_pushinteger(L, r->t_value);
        lua_setfield(L, -2, "value");
    }
    if (r->t_writable) {
        lua_pushinteger(L, r->t_writable);
        lua_setfield(L, -2, "writable");
    }
}

void prov_lua_api_funcs(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "declare", l_declare }, { "commit", l_commit }, { "log", l_log },
        { "now", l_now },         { "ext", l_ext },       { NULL, NULL },
    };
    luaL_setfuncs(L, fns, 0);
}

int prov_lua_open_api(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    const prov_lua_env_t *e = c->env;
    luaL_checktype(L, 1, LUA_TTABLE); /* the run's environment */
    lua_settop(L, 1);
    /* args */
    if (e->vp) {
        lua_createtable(L, 2, 1);
        lua_pushstring(L, e->vp->set ? "set" : "get");
        lua_setfield(L, -2, "mode");
        push_ts(L, e->vp);
        lua_rawseti(L, -2, 1);
        lua_createtable(L, 0, 1);
        if (e->vp->set) {
            lua_createtable(L, 2, 0);
            lua_pushstring(L, e->vp->value ? e->vp->value : "");
            lua_rawseti(L, -2, 1);
            lua_pushstring(L, prov_type_name(e->vp->type ? e->vp->type : PROV_T_STRING));
            lua_rawseti(L, -2, 2);
            lua_setfield(L, -2, "value");
        }
        lua_rawseti(L, -2, 2);
    } else {
        lua_createtable(L, (int)e->nargs, 0);
        for (size_t i = 0; i < e->nargs; i++) {
            lua_pushstring(L, e->args[i] ? e->args[i] : "");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    }
    lua_setfield(L, 1, "args");
    /* device */
    const prov_device_t *d = e->device;
    lua_createtable(L, 0, 5);
    if (d) {
        static const char *const k[] = { "id", "oui", "product_class", "serial" };
        const char *v[] = { d->id, d->oui, d->product_class, d->serial };
        for (size_t i = 0; i < 4; i++) {
            lua_pushstring(L, v[i] ? v[i] : "");
            lua_setfield(L, -2, k[i]);
        }
    }
    lua_newtable(L);
    for (const char *t = d && d->tags ? d->tags : ""; *t;) {
        const char *comma = strchr(t, ',');
        size_t l = comma ? (size_t)(comma - t) : strlen(t);
        if (l) {
            lua_pushlstring(L, t, l);
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
        }
        t += l + (comma ? 1 : 0);
    }
    lua_setfield(L, -2, "tags");
    lua_setfield(L, 1, "device");
    return 0;
}

/* ---- string patterns ------------------------------------------------------------ */

/* Lua's matcher backtracks: with q quantifiers ('*', '+', '-', %b) a match
 * attempt can cost about len^q / q! steps, times len start positions when
 * unanchored. The VM hook cannot interrupt it, so estimate before calling:
 * refuse what could run for seconds, charge the rest to the budget. */
/* Calibrated on the worst cases ('a*b', '(.-)(.-)(.-)b' on "aaa..."): about
 * 2e9 to 8e9 estimated steps per second, so the refusal bounds one call to
 * about 0.1 s; the charge makes a few such calls exhaust the budget. */
#define PATTERN_REFUSE 268435456.0
#define PATTERN_CHARGE_DIV 256.0

static double pattern_cost(const char *p, size_t plen, size_t n)
{
    bool anchored = plen > 0 && p[0] == '^';
    int q = 0;
    size_t last_q = 0; /* just past the last quantifier */
    bool special = false;
    for (size_t i = 0; i < plen; i++) {
        char ch = p[i];
        if (ch == '%' && i + 1 < plen) {
            special = true;
            if (p[i + 1] == 'b')
                q++;
            i++;
        } else if (ch == '[') {
            special = true;
            i++;
            if (i < plen && p[i] == '^')
                i++;
            if (i < plen && p[i] == ']')
                i++;
            while (i < plen && p[i] != ']')
                i += p[i] == '%' ? 2 : 1;
        } else if (ch == '*' || ch == '+' || ch == '-') {
            special = true;
            q++;
            last_q = i + 1;
        } else if (strchr("^$?.()", ch)) {
            special = true;
        }
    }
    /* a quantifier that ends the pattern cannot fail after it ("%s+",
     * "(%w+)$"): it costs its run, not a backtrack */
    if (q > 0 && strspn(p + last_q, ")$") == plen - last_q)
        q--;
    double len = (double)n + 1;
    if (!special)
        return len; /* a plain search */
    double cost = anchored ? 1 : len;
    for (int i = 1; i <= q; i++) {
        cost = cost * len / i;
        if (cost > PATTERN_REFUSE)
            return cost;
    }
    return cost * (double)(plen + 1);
}

static int guarded(lua_State *L)
{
    lctx_t *c = prov_lua_ctx(L);
    size_t n, plen;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &plen);
    bool plain = lua_tointeger(L, lua_upvalueindex(2)) == 1 && lua_toboolean(L, 4);
    double cost = plain ? (double)n : pattern_cost(p, plen, n);
    if (cost > PATTERN_REFUSE)
        return luaL_error(L, "pattern too costly for a %d-byte subject", (int)n);
    c->insns += (uint64_t)(cost / PATTERN_CHARGE_DIV);
    if (c->insns > c->insn_max)
        prov_lua_stop(L, c, STOP_BUDGET);
    int top = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, top, LUA_MULTRET);
    return lua_gettop(L);
}

void prov_lua_guard_patterns(lua_State *L)
{
    static const char *const fns[] = { "find", "match", "gmatch", "gsub" };
    for (size_t i = 0; i < 4; i++) {
        lua_getfield(L, -1, fns[i]);
        lua_pushinteger(L, i == 0 ? 1 : 0); /* find has a plain flag */
        lua_pushcclosure(L, guarded, 2);
        lua_setfield(L, -2, fns[i]);
    }
}
