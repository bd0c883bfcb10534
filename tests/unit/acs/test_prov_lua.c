/* Unit tests: the Lua sandbox (escapes, limits, syntax errors), the script
 * API, virtual parameters, built-ins, and whole sessions against a fake CPE.
 * Also prints the cost of one provision run (not asserted: a measure). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "acs/provision/prov_engine.h"
#include "acs/provision/prov_lua.h"
#include "prov_fakecpe.h"

#define NOW 1000

/* ---- one run ------------------------------------------------------------------ */

typedef struct run {
    prov_state_t *st;
    prov_decls_t d;
    prov_lua_out_t out;
} run_t;

static void run_init(run_t *r)
{
    assert_int_equal(prov_state_new(NULL, &r->st), 0);
    prov_decls_init(&r->d);
    prov_lua_out_init(&r->out);
}

static void run_free(run_t *r)
{
    prov_state_free(r->st);
    prov_decls_free(&r->d);
    prov_lua_out_free(&r->out);
}

static prov_run_status_t run(run_t *r, const char *src, const prov_lua_limits_t *lim)
{
    static const prov_device_t dev = { "OUI-Class-SN1", "OUI", "Class", "SN1", "lab,fast" };
    static const char *const args[] = { "a1", "42" };
    prov_lua_env_t env = { .st = r->st, .now = NOW, .device = &dev, .args = args, .nargs = 2,
                           .limits = lim };
    assert_int_equal(prov_lua_run(src, strlen(src), &env, &r->d, &r->out), 0);
    return r->out.status;
}

/* The script must end in a fault whose message contains `want`. */
static void expect_fault(const char *src, const char *want)
{
    run_t r;
    run_init(&r);
    prov_run_status_t st = run(&r, src, NULL);
    if (st != PROV_RUN_FAULT || !strstr(r.out.fault.message, want))
        fail_msg("script:\n%s\nstatus %d, fault '%s' (wanted '%s')", src, st,
                 r.out.fault.message, want);
    assert_int_equal(r.out.fault.code, 9002);
    run_free(&r);
}

static void test_sandbox_escapes(void **state)
{
    expect_fault("io.open('/etc/passwd')", "global 'io'");
    expect_fault("os.execute('id')", "global 'os'");
    expect_fault("require('os')", "global 'require'");
    expect_fault("dofile('/etc/passwd')", "global 'dofile'");
    expect_fault("loadfile('/etc/passwd')", "global 'loadfile'");
    expect_fault("collectgarbage('stop')", "global 'collectgarbage'");
    expect_fault("print('x')", "global 'print'");
    expect_fault("debug.sethook()", "global 'debug'");
    expect_fault("coroutine.wrap(function() end)", "global 'coroutine'");
    expect_fault("package.loadlib('libc.so.6', 'system')", "global 'package'");
    expect_fault("string.dump(function() end)", "field 'dump'");
    expect_fault("('').dump(function() end)", "attempt to call a nil value"); /* via the string metatable */
    /* a precompiled chunk: refused by load (text only) */
    expect_fault("assert(load('\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10'))", "binary chunk");
    expect_fault("assert(load(function() return '\\27Lua' end))", "binary chunk");
    /* the string metatable is locked */
    expect_fault("getmetatable('').__index = {}", "attempt to index a boolean value");
    expect_fault("setmetatable('', {})", "bad argument #1 to 'setmetatable'");
    expect_fault("rawset(getmetatable(''), 'x', 1)", "bad argument #1 to 'rawset'");
    /* so is the environment's: the base names behind it are read-only */
    expect_fault("setmetatable(_G, {})", "cannot change a protected metatable");
    expect_fault("getmetatable(_G).__index.pairs = nil", "attempt to index a boolean value");
}

/* The pooled state: nothing one run does reaches the next (globals, the
 * libraries, load's default environment, the random generator, the
 * metatables of what scripts see), and a run stopped anywhere leaves it
 * usable. Each pair is "what a run tries" and "what the next one checks". */
static void test_pool_isolation(void **state)
{
    static const char *const pairs[][2] = {
        { "x = 1", "assert(x == nil, 'global x survived')" },
        { "_G.y = 1; _ENV.z = 1", "assert(y == nil and z == nil and _G == _ENV)" },
        { "string.rep = nil; table.insert = 5; math.pi = 3; utf8.char = nil",
          "assert(type(string.rep) == 'function' and type(table.insert) == 'function'"
          " and math.pi > 3.14 and type(utf8.char) == 'function')" },
        { "string.mine = 1", "assert(string.mine == nil)" },
        { "rawset(string, 'raw', 1)", "assert(rawget(string, 'raw') == nil and string.raw == nil)" },
        { "setmetatable(string, {})", "assert(getmetatable(string) == false)" },
        { "load('w = 1')()", "assert(w == nil and load('return w')() == nil)" },
        { "load('v = 1', 'c', 't', _G)()", "assert(v == nil)" },
        { "pairs = nil; error = nil; setmetatable = nil",
          "assert(pairs and error and setmetatable, 'base function survived')" },
        { "pcall(setmetatable, _G, {__index = function() return 7 end})",
          "assert(getmetatable(_G) == false and q == nil)" },
        { "math.randomseed(42); r1 = math.random(1 << 30)",
          "math.randomseed(42); assert(math.random(1 << 30) ~= nil)" },
        { "args[1] = 'changed'; device.tags.lab = nil; device.id = 'x'",
          "assert(args[1] == 'a1' and device.tags.lab and device.id == 'OUI-Class-SN1')" },
        { "while true do x = 1 end", "assert(x == nil)" },
        { "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end",
          "local s = string.rep('y', 1 << 20) assert(#s == 1 << 20)" },
        { "error({})", "assert(x == nil)" },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        run_t r;
        run_init(&r);
        (void)run(&r, pairs[i][0], NULL);
        prov_decls_reset(&r.d);
        if (run(&r, pairs[i][1], NULL) != PROV_RUN_DONE)
            fail_msg("after:\n%s\nthe next run:\n%s\nfaulted: %s", pairs[i][0], pairs[i][1],
                     r.out.fault.message);
        run_free(&r);
    }
    /* the random generator is reseeded for each run: two runs that do not
     * seed it do not continue one sequence (what one draws tells nothing) */
    run_t r;
    run_init(&r);
    assert_int_equal(run(&r, "math.randomseed(1) local a = math.random(1 << 30)", NULL), PROV_RUN_DONE);
    prov_decls_reset(&r.d);
    assert_int_equal(run(&r, "local b = math.random(1 << 30) math.randomseed(1) math.random(1 << 30)"
                             " assert(b ~= math.random(1 << 30))", NULL), PROV_RUN_DONE);
    run_free(&r);
}

static void test_sandbox_limits(void **state)
{
    expect_fault("while true do end", "instruction budget exhausted");
    expect_fault("local s = string.rep('x', 1 << 30)", "memory cap");
    expect_fault("local s = string.rep('x', 1 << 20, 'yy')", "memory cap");
    expect_fault("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end", "memory cap");
    expect_fault("local t = {} local i = 0 while true do i = i + 1 t[i] = {} end", "memory cap");
    /* deep recursion: the Lua stack grows into the memory cap; through a
     * metamethod, the C stack limit stops it first */
    expect_fault("local function f(n) return f(n + 1) + 1 end f(1)", "memory cap");
    expect_fault("local function f() return setmetatable({}, {__index = function(t, k) return t[k] end}) end "
                 "local x = f().y",
                 "stack overflow");
    /* the engine's stops cannot be caught */
    expect_fault("while true do pcall(function() while true do end end) end",
                 "instruction budget exhausted");
    expect_fault("pcall(string.rep, 'x', 1 << 30) log('caught')", "memory cap");
    expect_fault("xpcall(function() while true do end end, function() return 1 end) log('caught')",
                 "instruction budget exhausted");
    expect_fault("local ok = pcall(error, 'x') if ok then error('pcall broke') end "
                 "while true do end",
                 "instruction budget exhausted");
    /* a backtracking bomb on a CPE-sized string: refused before it runs */
    expect_fault("string.find(string.rep('a', 5000), '(.-)(.-)(.-)(.-)b')", "pattern too costly");
    expect_fault("for i = 1, 1e6 do string.find(string.rep('a', 4000), 'a*b') end",
                 "instruction budget exhausted");
    expect_fault("string.find(string.rep('a', 20000), 'a*b')", "pattern too costly");
    /* a loop of large allocations is charged to the budget */
    expect_fault("local s = string.rep('x', 1 << 20) for i = 1, 1e6 do local t = s:upper() end",
                 "instruction budget exhausted");
    /* a custom budget, and the line where it stopped */
    run_t r;
    run_init(&r);
    prov_lua_limits_t lim = { .instructions = 5000 };
    assert_int_equal(run(&r, "local x = 0\nfor i = 1, 100 do x = x + i end\nwhile true do\nend",
                         &lim),
                     PROV_RUN_FAULT);
    assert_true(r.out.fault.line >= 3);
    assert_true(r.out.instructions >= 5000);
    run_free(&r);
    /* finalizers run with the hooks off: refused */
    expect_fault("setmetatable({}, {__gc = function() while true do end end})",
                 "__gc metamethods are not allowed");
    expect_fault("local mt = {} mt.__gc = true setmetatable({}, mt)", "__gc metamethods");
    /* what a script may use */
    run_init(&r);
    assert_int_equal(run(&r,
                         "local t = {} for w in string.gmatch('a=1;b=2', '(%w+)=(%w+)') do t[#t+1] = w end\n"
                         "local big = string.rep('a b ', 5000) assert(#big:gsub('%s+', '') == 10000)\n"
                         "assert(select(2, string.rep('k=v;', 500):gsub('(%w+)=(%w+)', '')) == 500)\n"
                         "assert(#t == 2 and math.max(1, 2) == 2 and utf8.char(72) == 'H')\n"
                         "assert(table.concat({'a','b'}, ',') == 'a,b')\n"
                         "assert(('%d'):format(3) == '3' and ('abc'):upper() == 'ABC')\n"
                         "local f = load('return 1 + 1') assert(f() == 2)\n"
                         "local ok, err = pcall(error, 'boom') assert(not ok and err:find('boom'))\n"
                         "assert(select('#', 1, 2) == 2 and tostring(nil) == 'nil')\n",
                         NULL),
                     PROV_RUN_DONE);
    run_free(&r);
}

/* Past env.preempt_ns a run stops: not a fault, well before its limits
 * (the budget, the memory cap), not caught by pcall, and the pooled state
 * runs the next script as usual. */
static void test_preempt(void **state)
{
    static const char *const spin[] = {
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 65536) .. i end",
    };
    for (size_t i = 0; i < sizeof spin / sizeof spin[0]; i++) {
        run_t r;
        run_init(&r);
        prov_lua_env_t env = { .st = r.st, .now = NOW, .preempt_ns = 1000000 };
        assert_int_equal(prov_lua_run(spin[i], strlen(spin[i]), &env, &r.d, &r.out), 0);
        if (r.out.status != PROV_RUN_PREEMPTED)
            fail_msg("%s: status %d, fault '%s'", spin[i], r.out.status, r.out.fault.message);
        assert_int_equal(r.out.fault.code, 0);
        assert_true(r.out.instructions < 1000000);
        assert_true(r.out.mem_peak < 4u << 20);
        assert_int_equal(run(&r, "log('next')", NULL), PROV_RUN_DONE);
        assert_string_equal(r.out.log.data, "next\n");
        run_free(&r);
    }
    /* without it, the limits end the same scripts */
    expect_fault(spin[0], "instruction budget exhausted");
    expect_fault(spin[2], "memory cap");
}

static void test_syntax_errors(void **state)
{
    int line;
    char msg[256];
    assert_int_equal(prov_lua_check("local a = 1\nlog(a)\n", 19, &line, msg, sizeof msg), 0);
    const char *bad = "local a = 1\nlocal b = = 2\n";
    assert_int_equal(prov_lua_check(bad, strlen(bad), &line, msg, sizeof msg), -EINVAL);
    assert_int_equal(line, 2);
    assert_non_null(strstr(msg, "unexpected symbol"));
    const char *bad2 = "if x then\n\n\nlog(1)\n";
    assert_int_equal(prov_lua_check(bad2, strlen(bad2), &line, msg, sizeof msg), -EINVAL);
    assert_int_equal(line, 5);
    assert_non_null(strstr(msg, "'end' expected"));
    /* bytecode is not a script */
    assert_int_equal(prov_lua_check("\x1bLua\x54", 5, &line, msg, sizeof msg), -EINVAL);
    /* runtime errors carry their line too */
    run_t r;
    run_init(&r);
    assert_int_equal(run(&r, "local a = 1\n\nerror('boom')\n", NULL), PROV_RUN_FAULT);
    assert_int_equal(r.out.fault.line, 3);
    assert_string_equal(r.out.fault.message, "boom");
    assert_int_equal(run(&r, "error({})", NULL), PROV_RUN_FAULT);
    assert_string_equal(r.out.fault.message, "(error object is a table value)");
    assert_int_equal(run(&r, "x = \n", NULL), PROV_RUN_FAULT);
    assert_int_equal(r.out.fault.line, 2);
    run_free(&r);
}

static void test_api(void **state)
{
    run_t r;
    run_init(&r);
    cwmp_param_t v[] = { { .name = "Device.A.N", .value = "7", .type = "xsd:unsignedInt" },
                         { .name = "Device.A.B", .value = "1", .type = "xsd:boolean" },
                         { .name = "Device.A.S", .value = "x", .type = "xsd:string" } };
    assert_int_equal(prov_state_gpv(r.st, NULL, 0, v, 3, 500), 0);
    assert_int_equal(run(&r,
                         "assert(args[1] == 'a1' and args[2] == '42' and #args == 2)\n"
                         "assert(device.id == 'OUI-Class-SN1' and device.serial == 'SN1')\n"
                         "assert(device.oui == 'OUI' and device.product_class == 'Class')\n"
                         "assert(device.tags.lab and device.tags.fast and not device.tags.x)\n"
                         "assert(now() == 1000)\n"
                         "local n = declare('Device.A.N', {value = 1})\n"
                         "assert(n.value[1] == 7 and n.value[2] == 'xsd:unsignedInt' and n.size == 1)\n"
                         "assert(declare('Device.A.B', {value = 1}).value[1] == true)\n"
                         "local s = declare('Device.A.S')\n"
                         "assert(s.value[1] == 'x' and s.path == 'Device.A.S' and s[1].path == 'Device.A.S')\n"
                         "log('n is', n.value[1], true, nil)\n"
                         "declare('Device.A.S', nil, {value = 'y'})\n"
                         "declare('Device.A.N', nil, {value = {8, 'xsd:unsignedInt'}})\n"
                         "declare('Device.A.T.*', {path = 1}, {path = {1, 2}})\n",
                         NULL),
                     PROV_RUN_DONE);
    assert_string_equal(r.out.log.data, "n is 7 true nil\n");
    assert_int_equal(r.d.n, 6);
    assert_string_equal(r.d.v[3]->value, "y");
    assert_int_equal(r.d.v[4]->type, PROV_T_UINT);
    assert_true(r.d.v[5]->count);
    assert_int_equal(r.d.v[5]->count_min, 1);
    assert_int_equal(r.d.v[5]->count_max, 2);
    /* reading what is not known ends the run for data, not as a fault */
    prov_decls_reset(&r.d);
    assert_int_equal(run(&r, "local x = declare('Device.A.N', {value = now()})\nlog('before')\n"
                             "local v = x.value\nlog('after')",
                         NULL),
                     PROV_RUN_COMMIT);
    assert_string_equal(r.out.log.data, "before\n");
    assert_int_equal(r.d.n, 1);
    /* a pattern path whose instances are unknown: size, iteration stop too */
    assert_int_equal(run(&r, "local x = declare('Device.W.*', {path = 1})\nfor _, p in ipairs(x) do end",
                         NULL),
                     PROV_RUN_COMMIT);
    assert_int_equal(run(&r, "local x = declare('Device.W.*', {path = 1})\nlocal n = #x", NULL),
                     PROV_RUN_COMMIT);
    /* not asked: whatever is known, no stop */
    assert_int_equal(run(&r, "assert(declare('Device.A.N').value[1] == 7)\n"
                             "assert(declare('Device.Z').value == nil)",
                         NULL),
                     PROV_RUN_DONE);
    /* commit(): continues when everything so far is met, stops otherwise */
    prov_decls_reset(&r.d);
    assert_int_equal(run(&r, "declare('Device.A.N', {value = 1}) commit() log('went on')\n"
                             "declare('Device.A.N', nil, {value = 9}) commit() log('no')",
                         NULL),
                     PROV_RUN_COMMIT);
    assert_string_equal(r.out.log.data, "went on\n");
    /* bad declarations are faults with the script's line */
    assert_int_equal(run(&r, "\ndeclare('Device..X', nil, {value = 1})", NULL), PROV_RUN_FAULT);
    assert_int_equal(r.out.fault.line, 2);
    assert_non_null(strstr(r.out.fault.message, "invalid path"));
    assert_int_equal(run(&r, "declare('Device.X', nil, {value = print or log})", NULL), PROV_RUN_FAULT);
    assert_int_equal(run(&r, "declare('Device.X', {value = -1})", NULL), PROV_RUN_FAULT);
    assert_int_equal(run(&r, "declare('Device.X', nil, {value = {1, 'xsd:nope'}})", NULL),
                     PROV_RUN_FAULT);
    assert_int_equal(run(&r, "for i = 1, 10000 do declare('Device.X' .. i, {value = 1}) end", NULL),
                     PROV_RUN_FAULT);
    assert_non_null(strstr(r.out.fault.message, "too many declarations"));
    /* the log is capped */
    prov_lua_limits_t lim = { .log_max = 64 };
    assert_int_equal(run(&r, "for i = 1, 100 do log('line', i) end", &lim), PROV_RUN_DONE);
    assert_true(r.out.log.len <= 64);
    assert_non_null(strstr(r.out.log.data, "[log truncated]"));
    run_free(&r);
}

/* ---- sessions against the fake CPE -------------------------------------------------- */

typedef struct cache {
    const char *key, *value;
    bool ok;
} cache_t;

static cache_t g_cache[4];

static bool cache_lookup(void *ud, const char *key, size_t keylen, bool *ok, const char **value)
{
    for (size_t i = 0; i < 4; i++)
        if (g_cache[i].key && strlen(g_cache[i].key) == keylen && !memcmp(g_cache[i].key, key, keylen)) {
            *ok = g_cache[i].ok;
            *value = g_cache[i].value;
            return true;
        }
    return false;
}

static const char *g_vp_script;

static bool vp_lookup(void *ud, const char *name, const char **script, size_t *len)
{
    if (strcmp(name, "WlanPassword") != 0 || !g_vp_script)
        return false;
    *script = g_vp_script;
    *len = strlen(g_vp_script);
    return true;
}

typedef struct sess {
    prov_state_t *st;
    fakecpe_t f;
    prov_session_t s;
    buf_t trace;
    int rpcs;
} sess_t;

static void sess_init(sess_t *x, int max_rounds)
{
    assert_int_equal(prov_state_new(NULL, &x->st), 0);
    fake_init(&x->f);
    fake_tr181(&x->f);
    static const prov_device_t dev = { "OUI-Class-SN1", "OUI", "Class", "SN1", "" };
    prov_session_opts_t o = { .max_rounds = max_rounds, .now = NOW, .device = &dev,
                              .vp_lookup = vp_lookup, .ext_lookup = cache_lookup };
    prov_session_init(&x->s, x->st, &o);
    x->trace = BUF_INIT(1 << 16);
    x->rpcs = 0;
}

static void sess_free(sess_t *x)
{
    prov_session_free(&x->s);
    prov_state_free(x->st);
    fake_free(&x->f);
    buf_free(&x->trace);
}

/* Step until something other than SEND; returns it. */
static prov_step_t sess_run(sess_t *x, const prov_provision_t *p, size_t n)
{
    for (;;) {
        prov_step_t step;
        assert_int_equal(prov_session_step(&x->s, p, n, &step), 0);
        if (step != PROV_STEP_SEND) {
            buf_printf(&x->trace, "%s", prov_step_name(step));
            return step;
        }
        buf_printf(&x->trace, "%s ", prov_rpc_kind_name(x->s.rpc.kind));
        x->rpcs++;
        cwmp_msg_t m = { 0 };
        assert_int_equal(prov_rpc_msg(&x->s.rpc, &m), 0);
        const cwmp_msg_t *resp = fake_answer(&x->f, &x->s.rpc);
        int rc = prov_session_apply(&x->s, resp, NOW + x->rpcs);
        if (rc == 1) {
            buf_printf(&x->trace, "cpe-fault");
            return PROV_STEP_FAULT;
        }
        assert_int_equal(rc, 0);
    }
}

static prov_provision_t lua(const char *name, const char *src)
{
    return (prov_provision_t){ .name = name, .script = src, .script_len = strlen(src) };
}

static void test_session_read_then_set(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    prov_provision_t p[] = { lua("model", "local m = declare('Device.DeviceInfo.ModelName', {value = 1})\n"
                                          "declare('Device.WiFi.SSID.1.SSID', nil, {value = 'net-' .. m.value[1]})\n"
                                          "log('model', m.value[1])") };
    assert_int_equal(sess_run(&x, p, 1), PROV_STEP_CONVERGED);
    assert_string_equal(x.trace.data, "GetParameterValues SetParameterValues converged");
    assert_int_equal(x.s.rounds, 3); /* read, set, check */
    assert_string_equal(fake_get(&x.f, "Device.WiFi.SSID.1.SSID"), "net-R1");
    assert_string_equal(x.s.log.data, "[model] model R1\n");
    sess_free(&x);
}

static void test_session_gives_up(void **state)
{
    sess_t x;
    sess_init(&x, 6);
    /* wants a read newer than any the session can make */
    prov_provision_t p[] = { lua("greedy", "local v = declare('Device.DeviceInfo.ModelName', {value = now() + 3600}).value") };
    assert_int_equal(sess_run(&x, p, 1), PROV_STEP_GAVE_UP);
    assert_int_equal(x.rpcs, 6);
    assert_non_null(strstr(x.s.fault.message, "gave up after 6 rounds"));
    sess_free(&x);
}

/* A step preempted keeps nothing (rounds, log, declarations) and the same
 * step, run again without preemption, goes on from the answers it had. */
static void test_session_preempted(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    x.s.o.preempt_ns = 1000000;
    prov_provision_t p[] = { lua("fine", "declare('Device.DeviceInfo.ProvisioningCode', nil, {value = 'p'})"),
                             lua("spin", "local m = declare('Device.DeviceInfo.ModelName', {value = 1})\n"
                                         "log('model', m.value[1])\n"
                                         "while true do end") };
    assert_int_equal(sess_run(&x, p, 2), PROV_STEP_PREEMPTED);
    assert_true(x.rpcs >= 1); /* the read was answered first */
    assert_int_equal(x.s.rounds, x.rpcs);
    assert_int_equal(x.s.log.len, 0);
    assert_int_equal(x.s.decls.n, 0);
    x.s.o.preempt_ns = 0;
    assert_int_equal(sess_run(&x, p, 2), PROV_STEP_FAULT);
    assert_int_equal(x.s.rounds, x.rpcs + 1);
    assert_non_null(strstr(x.s.fault.message, "instruction budget"));
    assert_int_equal(x.s.fault.provision, 1);
    assert_string_equal(x.s.log.data, "[spin] model R1\n");
    sess_free(&x);
    /* a virtual parameter's script, run by planning: the same */
    sess_init(&x, 32);
    x.s.o.preempt_ns = 1000000;
    g_vp_script = "log('vp') while true do end";
    prov_provision_t vp[] = { lua("ask", "log('ask') declare('VirtualParameters.WlanPassword', {value = now()})") };
    assert_int_equal(sess_run(&x, vp, 1), PROV_STEP_PREEMPTED);
    assert_int_equal(x.s.rounds, 0);
    assert_int_equal(x.s.log.len, 0);
    assert_int_equal(x.s.rpc.kind, PROV_RPC_NONE);
    prov_node_info_t n;
    assert_int_not_equal(prov_state_get(x.st, "VirtualParameters.WlanPassword", &n), 0);
    x.s.o.preempt_ns = 0;
    assert_int_equal(sess_run(&x, vp, 1), PROV_STEP_FAULT);
    assert_int_equal(x.s.rounds, 1);
    assert_non_null(strstr(x.s.fault.message, "virtual parameter WlanPassword"));
    assert_non_null(strstr(x.s.fault.message, "instruction budget"));
    assert_string_equal(x.s.log.data, "[ask] ask\n[WlanPassword] vp\n");
    g_vp_script = NULL;
    sess_free(&x);
}

static void test_session_fault_names_provision(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    prov_provision_t p[] = { lua("ok", "declare('Device.DeviceInfo.ModelName', {value = 1})"),
                             lua("broken", "local a = 1\nlocal b = nil + a") };
    assert_int_equal(sess_run(&x, p, 2), PROV_STEP_FAULT);
    assert_int_equal(x.s.fault.provision, 1);
    assert_int_equal(x.s.fault.line, 2);
    assert_non_null(strstr(x.s.fault.message, "broken: "));
    assert_non_null(strstr(x.s.fault.message, "arithmetic on a nil value"));
    sess_free(&x);
}

/* The AutoSSID example of docs/provisioning.md. */
static const char auto_ssid[] =
    "local n = tonumber(args[1]) or 2\n"
    "local ssids = declare('Device.WiFi.SSID.*', {path = 1}, {path = n})\n"
    "for i, s in ipairs(ssids) do\n"
    "  declare(s.path .. '.SSID', nil, {value = device.serial .. '-' .. i})\n"
    "  declare(s.path .. '.Enable', nil, {value = true})\n"
    "end\n";

static void test_session_auto_ssid(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    static const char *const args[] = { "3" };
    prov_provision_t p[] = { lua("auto_ssid", auto_ssid) };
    p[0].args = args;
    p[0].nargs = 1;
    assert_int_equal(sess_run(&x, p, 1), PROV_STEP_CONVERGED);
    assert_string_equal(x.trace.data,
                        "GetParameterNames AddObject SetParameterValues converged");
    assert_string_equal(fake_get(&x.f, "Device.WiFi.SSID.3.SSID"), "SN1-3");
    assert_string_equal(fake_get(&x.f, "Device.WiFi.SSID.1.Enable"), "true");
    sess_free(&x);
}

/* A WLAN password virtual parameter for TR-181 and TR-098 (the example of
 * docs/provisioning.md). */
static const char wlan_password[] =
    "local tr181 = declare('Device.WiFi.AccessPoint.*.Security.KeyPassphrase', {path = 1})\n"
    "local tr098 = declare('InternetGatewayDevice.LANDevice.*.WLANConfiguration.*"
    ".PreSharedKey.1.KeyPassphrase', {path = 1})\n"
    "local keys = tr181.size > 0 and tr181 or tr098\n"
    "if args.mode == 'set' then\n"
    "  local v = args[2].value[1]\n"
    "  for _, k in ipairs(keys) do declare(k.path, nil, {value = v}) end\n"
    "  return {writable = true, value = {v, 'xsd:string'}}\n"
    "end\n"
    "if keys.size == 0 then return {writable = false, value = {'', 'xsd:string'}} end\n"
    "local cur = declare(keys[1].path, {value = 1})\n"
    "return {writable = true, value = {cur.value[1], 'xsd:string'}}\n";

static void test_session_virtual_parameter(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    g_vp_script = wlan_password;
    prov_provision_t set[] = { lua("pw", "declare('VirtualParameters.WlanPassword', nil, {value = 's3cret'})") };
    assert_int_equal(sess_run(&x, set, 1), PROV_STEP_CONVERGED);
    assert_string_equal(fake_get(&x.f, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"), "s3cret");
    /* the TR-098 path is looked for once and found missing (9005): no fault */
    assert_non_null(strstr(x.trace.data, "SetParameterValues"));
    prov_node_info_t n;
    assert_int_equal(prov_state_get(x.st, "VirtualParameters.WlanPassword", &n), 0);
    assert_string_equal(n.value, "s3cret");
    /* get mode, in a fresh session of the same device */
    buf_reset(&x.trace);
    prov_session_free(&x.s);
    prov_state_free(x.st);
    assert_int_equal(prov_state_new(NULL, &x.st), 0);
    static const prov_device_t dev = { "OUI-Class-SN1", "OUI", "Class", "SN1", "" };
    prov_session_opts_t o = { .now = NOW, .device = &dev, .vp_lookup = vp_lookup };
    prov_session_init(&x.s, x.st, &o);
    prov_provision_t get[] = { lua("show", "local v = declare('VirtualParameters.WlanPassword', {value = now()})\n"
                                           "log('pw', v.value[1], v.writable)") };
    assert_int_equal(sess_run(&x, get, 1), PROV_STEP_CONVERGED);
    assert_string_equal(x.s.log.data, "[show] pw s3cret true\n");
    /* no such virtual parameter: value nil, not a fault */
    prov_provision_t none[] = { lua("none", "local v = declare('VirtualParameters.Nope', {value = now()})\n"
                                            "log(tostring(v.value))") };
    buf_reset(&x.trace);
    assert_int_equal(sess_run(&x, none, 1), PROV_STEP_CONVERGED);
    assert_string_equal(x.s.log.data, "[none] nil\n");
    g_vp_script = NULL;
    sess_free(&x);
}

static void test_session_ext(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    memset(g_cache, 0, sizeof g_cache);
    prov_provision_t p[] = { lua("ext", "local v = ext('lookup', device.serial, 2)\n"
                                        "declare('Device.WiFi.SSID.1.SSID', nil, {value = v})\n"
                                        "local a, err = ext('fails')\nlog(a, err)") };
    assert_int_equal(sess_run(&x, p, 1), PROV_STEP_EXT);
    assert_string_equal(x.s.ext_name, "lookup");
    assert_int_equal(x.s.n_ext_args, 2);
    assert_string_equal(x.s.ext_args[0], "SN1");
    assert_string_equal(x.s.ext_key, "lookup\x1fSN1\x1f" "2");
    g_cache[0] = (cache_t){ "lookup\x1fSN1\x1f" "2", "from-ext", true };
    g_cache[1] = (cache_t){ "fails", "timeout", false };
    assert_int_equal(sess_run(&x, p, 1), PROV_STEP_CONVERGED);
    assert_string_equal(fake_get(&x.f, "Device.WiFi.SSID.1.SSID"), "from-ext");
    assert_string_equal(x.s.log.data, "[ext] nil timeout\n");
    memset(g_cache, 0, sizeof g_cache);
    sess_free(&x);
}

static void test_session_builtins(void **state)
{
    sess_t x;
    sess_init(&x, 32);
    static const char *const set_args[] = { "Device.ManagementServer.PeriodicInformInterval", "300" };
    static const char *const refresh_args[] = { "Device.DeviceInfo." };
    static const char *const tag_args[] = { "provisioned" };
    static const char *const dl_args[] = { "1 Firmware Upgrade Image", "http://127.0.0.1/fw.bin" };
    prov_provision_t p[] = {
        { .name = "set", .args = set_args, .nargs = 2 },
        { .name = "refresh", .args = refresh_args, .nargs = 1 },
        { .name = "add_tag", .args = tag_args, .nargs = 1 },
        { .name = "download", .args = dl_args, .nargs = 2 },
        { .name = "reboot" },
    };
    assert_int_equal(sess_run(&x, p, 5), PROV_STEP_CONVERGED);
    assert_string_equal(x.trace.data, "GetParameterNames GetParameterValues SetParameterValues converged");
    assert_string_equal(fake_get(&x.f, "Device.ManagementServer.PeriodicInformInterval"), "300");
    assert_int_equal(x.s.effects.n, 3);
    assert_int_equal(x.s.effects.v[0].kind, PROV_EFFECT_ADD_TAG);
    assert_string_equal(x.s.effects.v[0].arg[0], "provisioned");
    assert_int_equal(x.s.effects.v[1].kind, PROV_EFFECT_DOWNLOAD);
    assert_string_equal(x.s.effects.v[1].arg[1], "http://127.0.0.1/fw.bin");
    assert_null(x.s.effects.v[1].arg[2]);
    assert_int_equal(x.s.effects.v[2].kind, PROV_EFFECT_REBOOT);
    assert_int_equal(x.s.effects.v[2].provision, 4);
    prov_provision_t bad[] = { { .name = "set", .args = set_args, .nargs = 1 } };
    buf_reset(&x.trace);
    assert_int_equal(sess_run(&x, bad, 1), PROV_STEP_FAULT);
    assert_non_null(strstr(x.s.fault.message, "wrong number of arguments"));
    prov_provision_t unknown[] = { { .name = "format_disk" } };
    assert_int_equal(sess_run(&x, unknown, 1), PROV_STEP_FAULT);
    assert_false(prov_builtin_exists("format_disk"));
    assert_true(prov_builtin_exists("refresh"));
    sess_free(&x);
}

/* ---- the cost of a run (printed, not asserted) --------------------------------------- */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void test_bench_run(void **state)
{
    run_t r;
    run_init(&r);
    cwmp_param_t v[] = { { .name = "Device.DeviceInfo.ModelName", .value = "R1" },
                         { .name = "Device.WiFi.SSID.1.SSID", .value = "net-R1" },
                         { .name = "Device.ManagementServer.PeriodicInformInterval", .value = "300",
                           .type = "xsd:unsignedInt" } };
    assert_int_equal(prov_state_gpv(r.st, NULL, 0, v, 3, 500), 0);
    const char *src = "local m = declare('Device.DeviceInfo.ModelName', {value = 1})\n"
                      "declare('Device.WiFi.SSID.1.SSID', nil, {value = 'net-' .. m.value[1]})\n"
                      "declare('Device.ManagementServer.PeriodicInformInterval', nil, {value = 300})\n";
    const int n = 2000;
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        prov_decls_reset(&r.d);
        assert_int_equal(run(&r, src, NULL), PROV_RUN_DONE);
    }
    double run_us = (now_us() - t0) / n;
    t0 = now_us();
    for (int i = 0; i < n; i++) {
        prov_rpc_t rpc;
        assert_int_equal(prov_plan(r.st, &r.d, NOW, &rpc), 0);
        assert_int_equal(rpc.kind, PROV_RPC_NONE);
        prov_rpc_clear(&rpc);
    }
    double plan_us = (now_us() - t0) / n;
    t0 = now_us();
    for (int i = 0; i < n; i++) {
        prov_decls_reset(&r.d);
        assert_int_equal(run(&r, "", NULL), PROV_RUN_DONE);
    }
    double empty_us = (now_us() - t0) / n;
    printf("bench: one Lua provision run (3 declares): %.1f us (fresh lua_State and "
           "libraries alone: %.1f us); planning its declarations: %.1f us; Lua heap peak %zu "
           "bytes\n",
           run_us, empty_us, plan_us, r.out.mem_peak);
    /* what a runaway script and memory hogs would hold the loop for at the
     * default limits, and what they hold it for preempted as the ACS does */
    static const char *const bad[] = { "while true do end",
                                       "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 512) .. i end",
                                       "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 65536) .. i end" };
    static const char *const what[] = { "a runaway's", "a memory hog's (512 B strings)",
                                        "a memory hog's (64 KiB strings)" };
    for (int k = 0; k < 3; k++) {
        double ms[2];
        for (int pre = 0; pre < 2; pre++) {
            prov_lua_env_t env = { .st = r.st, .now = NOW, .preempt_ns = pre ? 2000000 : 0 };
            t0 = now_us();
            for (int i = 0; i < 20; i++) {
                prov_decls_reset(&r.d);
                assert_int_equal(prov_lua_run(bad[k], strlen(bad[k]), &env, &r.d, &r.out), 0);
                assert_int_equal(r.out.status, pre ? PROV_RUN_PREEMPTED : PROV_RUN_FAULT);
            }
            ms[pre] = (now_us() - t0) / 20 / 1000;
        }
        printf("bench: %s run until stopped: %.2f ms; preempted at 2 ms of CPU: %.2f ms\n", what[k],
               ms[0], ms[1]);
    }
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_escapes),
        cmocka_unit_test(test_pool_isolation),
        cmocka_unit_test(test_sandbox_limits),
        cmocka_unit_test(test_preempt),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_session_read_then_set),
        cmocka_unit_test(test_session_gives_up),
        cmocka_unit_test(test_session_preempted),
        cmocka_unit_test(test_session_fault_names_provision),
        cmocka_unit_test(test_session_auto_ssid),
        cmocka_unit_test(test_session_virtual_parameter),
        cmocka_unit_test(test_session_ext),
        cmocka_unit_test(test_session_builtins),
        cmocka_unit_test(test_bench_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
