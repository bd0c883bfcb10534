/*
 * acs_prov: provisioning's ACS side (the engine itself, pure, is in
 * provision/). Its files:
 *
 *   acs_prov_cache.c  the presets (indexed) and the Lua sources of provisions
 *                     and virtual parameters, in memory as one immutable
 *                     snapshot: loaded at start, loaded again after every
 *                     API change and on SIGHUP, never read per Inform; and
 *                     the devices owed a run whatever their events (a fault
 *                     to retry, a cleared one)
 *   acs_prov_ext.c    --ext: operator-configured external calls (a command
 *                     run with uv_spawn, or an HTTP POST), off the loop
 *   acs_work_prov.c   the work source (acs_work.h): which presets run in a
 *                     session, the store reads and writes
 *   acs_prov_run.c    driving the engine in a session: steps, answers,
 *                     outcomes, virtual-parameter tasks
 *   acs_prov_build.c  the provisions of a step, from presets or a task
 *   acs_prov_store.c  what a session's provisioning reads and writes: the
 *                     state, parameters, records, effects
 *   acs_prov_scope.c  which stored parameters a session loads
 *
 * Threads: everything on the loop, except a store job, which reads the
 * snapshot its session holds (immutable; referenced from the loop only)
 * and the fields of the session state its hook was given.
 *
 * Ownership: acs_t.prov is made by acs_prov_start and freed by
 * acs_prov_free; a snapshot lives while anyone holds a reference (the
 * cache's current one, each session that took one).
 */
#ifndef OUTPOST_ACS_PROV_H
#define OUTPOST_ACS_PROV_H

#include "acs/acs_internal.h"
#include "acs/acs_work.h"
#include "acs/provision/preset.h"
#include "acs/provision/prov_engine.h"

/* ---- the snapshot (acs_prov_cache.c) ----------------------------------------------- */

/* The stored parameters a session loads (acs_prov_scope.c): everything,
 * or what lies under these prefixes ("Device.WiFi.SSID.1."). */
typedef struct acs_prov_scope {
    bool all;
    bool vps;                 /* virtual parameters are named */
    char **v;
    size_t n, cap;
} acs_prov_scope_t;

typedef struct acs_prov_script {
    char *src;
    size_t len;
    acs_prov_scope_t scope;   /* what its literals name (acs_prov_script_scan) */
    bool heavy;               /* made a step slow: runs off the loop (the one field that
                               * changes in a snapshot; the loop's alone) */
} acs_prov_script_t;

typedef struct acs_prov_snap {
    int refs;                 /* loop thread only */
    preset_set_t *presets;    /* never NULL (maybe empty) */
    hmap_t provisions;        /* name -> acs_prov_script_t * */
    hmap_t vps;               /* name -> acs_prov_script_t * (virtual parameters) */
} acs_prov_snap_t;

/* Made and loaded at start from a->store, before the store worker runs
 * (so the first Inform already sees every preset): the snapshot, the owed
 * devices, --ext. 0, or -1 after logging why. */
int acs_prov_start(acs_t *a);
/* At shutdown, before the store worker goes: external calls are stopped
 * (their callers get an error). */
void acs_prov_stop(acs_t *a);
void acs_prov_free(acs_t *a);

/* The current snapshot with a reference taken (never NULL once started). */
acs_prov_snap_t *acs_prov_snap_get(acs_t *a);
void acs_prov_snap_put(acs_prov_snap_t *s);

/* Presets or scripts changed in the store (the API's job committed; the
 * config file was synced): load the snapshot again in a store job queued
 * now, and call done(ud) on the loop once it is in place (or failed,
 * logged), so whoever answers after done is seen by the next Inform. done
 * may be NULL. Requests made while a load runs are served by the next one. */
void acs_prov_reload(acs_t *a, void (*done)(void *ud), void *ud);

/* The device has a record owed a run whatever its events (a fault with a
 * retry to come, a cleared fault): its sessions read their records. */
void acs_prov_owed_add(acs_t *a, const char *device_id);
void acs_prov_owed_del(acs_t *a, const char *device_id);
/* Should a session of this device read its records even with no preset
 * triggered? */
bool acs_prov_owed(const acs_t *a, const char *device_id);

/* ---- external calls (acs_prov_ext.c) ----------------------------------------------- */

/* The --ext item check (cfg_check_fn): "name=N command=PATH [timeout=D]
 * [max_output=SIZE]" or "name=N url=http(s)://... [timeout=D] [max_output=SIZE]". */
int acs_ext_check(const char *item, char *err, size_t errlen);
int acs_ext_init(acs_t *a);
void acs_ext_stop(acs_t *a);
void acs_ext_free(acs_t *a);
/* The call's outcome: ok and its result (the JSON output: a string's
 * value, any other value as compact JSON), or !ok and why. */
typedef void (*acs_ext_done_fn)(void *ud, bool ok, const char *value);
/* Start external call `name` with args; done runs exactly once, later, on
 * the loop (also at shutdown, !ok). -ENOENT: no --ext of that name;
 * -EAGAIN: too many in flight; -ENOMEM: done is not called. */
int acs_ext_call(acs_t *a, const char *name, char *const *args, size_t nargs, acs_ext_done_fn done,
                 void *ud);

/* ---- a session's provisioning (acs_work_prov.c, acs_prov_run.c) --------------------- */

enum {
    ACS_PROV_MAX_RPCS = 256,      /* provisioning RPCs in one session */
    ACS_PROV_MAX_EXT = 32,        /* external calls in one session */
    ACS_PROV_MAX_PARAMS = 200000, /* parameter rows a session keeps to store */
};

/* What became of a preset in this session. */
typedef enum acs_pr_status { PR_RUNNING = 0, PR_DONE, PR_FAULT, PR_GAVE_UP } acs_pr_status_t;

typedef struct acs_pr {
    const preset_t *p;            /* in the session's snapshot */
    store_preset_run_t rec;       /* its record: as read, then the outcome */
    acs_pr_status_t status;
    bool written;                 /* its outcome went into a store job */
    prov_fault_t fault;
    char fault_prov[STORE_NAME];  /* the faulting provision's name */
} acs_pr_t;

/* Parameter rows read or set in the session, to store (the strings are the
 * rows' own). */
typedef struct acs_prov_rows {
    store_param_t *v;
    size_t n, cap;
} acs_prov_rows_t;

/* The engine side of one session: the presets' run, or a task's. */
typedef struct acs_prov_run {
    bool on;
    prov_session_t ses;
    prov_provision_t *pv;         /* this step's provisions */
    int *pv_pr;                   /* each one's preset (index into pr), -1 for a task */
    size_t npv;
    char **strs;                  /* strings the provisions point to */
    size_t nstrs;
    bool solo;                    /* one preset at a time: isolating a CPE fault */
} acs_prov_run_t;

typedef struct acs_prov_sess {
    acs_t *a;
    acs_prov_snap_t *snap;
    char device[STORE_ID_MAX];
    prov_device_t pdev;           /* what scripts see as `device` */
    /* from the Inform (loop, event) */
    int64_t t0;                   /* the Inform's time: the session's now(), the occurrence */
    char **events;
    size_t nevents;
    char *oui, *product_class, *serial, *manufacturer, *model, *software_version,
        *hardware_version;
    char root[32];                /* "Device." / "InternetGatewayDevice." */
    const preset_t **cand;        /* presets that may run (partial match) */
    size_t ncand;
    bool owed;                    /* the device may have records owed a run */
    bool want;                    /* the Inform's store job reads records */
    /* the Inform's store job (store thread) -> the loop */
    char tags[STORE_TAGS];
    acs_pr_t *pr;
    size_t npr;
    bool owed_found;              /* some record was owed a run */
    prov_state_t *st;             /* loaded state, or NULL */
    bool load_later;              /* tasks queued: load the state once they ran */
    /* the session (loop) */
    acs_work_t *w;                /* for a job's completion */
    bool stale;                   /* the operator queued work: the state may be behind */
    bool self_queued;             /* that work is provisioning's own (effects) */
    bool load_failed;             /* the stored parameters exceed the state's caps */
    acs_prov_run_t run;           /* the presets' */
    acs_prov_run_t task;          /* a virtual-parameter task's */
    store_task_t *dtask;          /* that task (a copy) */
    int task_state;               /* 0 running, 1 done, 2 failed, 3 written */
    int task_code;
    char task_msg[256];
    char *task_result;            /* JSON */
    acs_prov_rows_t task_rows;    /* what its reads answered */
    bool rpc_task;                /* the RPC out is the task's */
    bool rpc_out;
    int rpcs;
    prov_effects_t fx;            /* effects of the presets done */
    acs_prov_rows_t rows;         /* parameters to store */
    bool maps;                    /* the two maps below are made (when first needed) */
    hmap_t vp_names;              /* virtual parameters declared (values to store) */
    hmap_t ext;                   /* ext cache: key -> acs_ext_res_t * */
    int next;                     /* ext calls made */
    bool ext_busy;
    bool heavy;                   /* a step was slow: the next ones run off the loop */
    bool stepping;                /* a step runs on the thread pool */
    uv_work_t step_req;
    acs_prov_run_t *step_run;
    int step_rc;
    prov_step_t step;
    int64_t step_ns;
} acs_prov_sess_t;

/* An ext() result cached for the session. */
typedef struct acs_ext_res {
    bool ok;
    char *value;
} acs_ext_res_t;

/* acs_prov_run.c, for acs_work_prov.c */
/* Step until an RPC is put, or nothing is left (then flush and put NULL). */
void acs_prov_drive(acs_work_t *w, acs_prov_sess_t *S);
/* The answer to the RPC out (m NULL: none came, why says so). 0 or -ENOMEM. */
int acs_prov_answer(acs_work_t *w, acs_prov_sess_t *S, const cwmp_msg_t *m, const char *why);
/* The session is over: what ran and did not finish is recorded, rows stored. */
void acs_prov_run_free(acs_prov_run_t *R);
/* The delegated task's outcome (once), logged. */
void acs_prov_task_final(acs_prov_sess_t *S, bool ok, int code, const char *msg);

/* acs_prov_build.c */
/* This step's provisions: of the presets still running (in solo mode, of
 * the first), or of the delegated task. 0 or -ENOMEM. */
int acs_prov_build_presets(acs_prov_sess_t *S, acs_prov_run_t *R);
int acs_prov_build_task(acs_prov_sess_t *S, acs_prov_run_t *R);
void acs_prov_run_reset(acs_prov_run_t *R);
/* A preset's outcome (once: a preset already decided keeps its own), counted
 * and logged (a fault: once, with its provision, line and message). */
void acs_prov_outcome(acs_prov_sess_t *S, acs_pr_t *x, acs_pr_status_t st, const prov_fault_t *f,
                      const char *prov);

/* acs_prov_store.c */
/* Write what is not written yet (then step again), or put "nothing". */
void acs_prov_flush(acs_work_t *w, acs_prov_sess_t *S);
/* Load the state (again), then step again. */
void acs_prov_load(acs_work_t *w, acs_prov_sess_t *S);
void acs_prov_end(acs_work_t *w, acs_prov_sess_t *S, bool rpc_out);
void acs_prov_sess_free(acs_prov_sess_t *S);
/* A row to store; strings copied. 0, -ENOBUFS past ACS_PROV_MAX_PARAMS, -ENOMEM. */
int acs_prov_row(acs_prov_rows_t *r, const char *name, const char *value, const char *type,
                 int writable);
void acs_prov_rows_free(acs_prov_rows_t *r);
/* Load the device's stored parameters in scope (NULL: all) into a new
 * state (store thread). 0 or a negative errno (the state is then NULL). */
int acs_prov_load_state(store_t *st, const char *device, int64_t t0, const acs_prov_scope_t *scope,
                        prov_state_t **out);

/* acs_prov_scope.c */
/* Find the paths a script's string literals name (at snapshot load). */
void acs_prov_script_scan(acs_prov_script_t *sc);
/* The scope of the session's presets and of task (may be NULL): always 0
 * (without memory the scope is everything). Any thread: it reads the
 * snapshot and S->pr only. */
int acs_prov_scope(const acs_prov_sess_t *S, const store_task_t *task, acs_prov_scope_t *out);
int acs_prov_scope_path(acs_prov_scope_t *s, const char *path, size_t len);
void acs_prov_scope_free(acs_prov_scope_t *s);

#endif
