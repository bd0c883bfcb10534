/*
 * acs_work: what a CWMP session asks of the ACS, and where the CPE's answers
 * go. This is the one interface between the session (acs_cwmp.c,
 * acs_inform.c, acs_session.c: the protocol, above) and the work done in
 * sessions (below): operator tasks (acs_work_tasks.c) and provisioning
 * (acs_work_prov.c). The session never touches the task queue or the
 * provisioning engine, and they never call the session: everything passes
 * through the functions and callbacks declared here. The operator side (the
 * REST API) queues work in the store and tells the work layer with
 * acs_work_queued(); it does not call the session either.
 *
 * One acs_work_t per session, made when its Inform is accepted and ended
 * with the session. Its sources are asked in a fixed order (acs_work.c):
 *   1. tasks         the operator's queued tasks, oldest first
 *   2. provisioning  the presets that run in this session (acs_prov.h),
 *                    and the tasks the first source hands it (virtual
 *                    parameters: acs_work_delegate)
 * so provisioning produces RPCs only once no task is left to send. Work
 * queued during a turn has the sources asked again before it ends.
 *
 * Threads: everything here runs on the loop thread except the store-thread
 * hooks (store_job_fn, and a source's event_run), which run on the store
 * worker inside one transaction, and may touch only what they were given.
 *
 * ---- For the session -----------------------------------------------------------
 *
 *   acs_work_begin   when the Inform is accepted (identity checked, the
 *                    device's older session ended): the device is "in
 *                    session" for acs_work_live/acs_work_queued from now on.
 *   acs_work_event   the Inform right after begin, and every
 *                    TransferComplete / AutonomousTransferComplete: the work
 *                    takes note and commits it together with the session's
 *                    own writes, before the session answers.
 *   acs_work_next    after every CPE message that gives the ACS its turn
 *                    (the empty POST, an answer or fault to our RPC): hands
 *                    over that answer, and asks what to send next.
 *   acs_work_end     when the session ends, for any reason.
 *
 * Ownership: the session holds its acs_work_t from acs_work_begin until it
 * calls acs_work_end; after that it must not use it (the work layer frees
 * it once nothing of it is in flight). Callbacks the session gave (done,
 * cb) are still called exactly once after acs_work_end, so the session can
 * drop the references it holds for them.
 */
#ifndef OUTPOST_ACS_WORK_H
#define OUTPOST_ACS_WORK_H

#include "acs/acs_internal.h"

typedef struct acs_work acs_work_t;

/* The device's work begins (device_id: as store_device_id builds it).
 * NULL without memory. Never more than one live work per device: the
 * session ends the device's older session (acs_work_end) first. */
acs_work_t *acs_work_begin(acs_t *a, const char *device_id);

/* One of the CPE's own messages the work must know of: the Inform (once,
 * right after acs_work_begin), TransferComplete or
 * AutonomousTransferComplete. m is read before this returns (its strings go
 * with the decoder): the sources copy what they keep. Then ONE store job
 * runs, in this order: `run` (the session's own writes, e.g. the device row
 * and the Inform's parameters; may be NULL), then each source's writes.
 * So one commit covers both, and what the session answers from `done`
 * (InformResponse, TransferCompleteResponse) acknowledges all of it; a
 * negative result from `run` or a source rolls the whole job back.
 * done(rc, ud) runs on the loop after the commit (rc: the job's result,
 * -EIO when the commit failed), after the sources took note of it.
 * Returns 0 (done will be called exactly once, also after acs_work_end), or
 * -ENOMEM / -EAGAIN (the store's queue is full): nothing was done and done
 * is not called. */
int acs_work_event(acs_work_t *w, const cwmp_msg_t *m, store_job_fn run, store_done_fn done,
                   void *ud);

/* The answer to acs_work_next. rc:
 *   0, rpc != NULL  send this RPC. rpc and everything it points to live
 *                   during the call only: encode it now (the session sets
 *                   the namespace; rpc->id is the work's cwmp:ID). Return 0
 *                   once it is sent (the work then waits for its answer),
 *                   or a negative errno when it could not be encoded: the
 *                   work gives that RPC up (a task fails) and the session
 *                   ends itself (204, outcome "error").
 *   0, rpc == NULL  nothing (more) to do in this session: end it (204).
 *   -EPROTO         the work could not build its RPC (it failed that work,
 *                   logged): end the session (204, outcome "error").
 *   -EAGAIN         the store's queue is full: 503, end ("store busy").
 *   -ENOMEM         out of memory: 503, end.
 *   -ECANCELED      acs_work_end came first: the session is gone; only drop
 *                   the reference held for this call.
 *   other < 0       the store failed: 503, end ("store error").
 * The return value matters only when rpc != NULL. */
typedef int (*acs_work_rpc_fn)(void *ud, int rc, const cwmp_msg_t *rpc);

/* The CPE gave the ACS its turn. answer: the CPE's answer to the RPC the
 * work produced last (the response it expects, or a Fault), consumed before
 * this returns; NULL when the message was empty or answered nothing of
 * ours. An empty message while an RPC is out fails that RPC ("the CPE sent
 * an empty message instead of an answer"). hold: the CPE asked for no
 * requests (HoldRequests): answers are still recorded, no RPC comes. cb
 * runs exactly once: before acs_work_next returns when nothing needed the
 * store (the common "nothing to do" case costs no store job), otherwise
 * later on the loop. One call at a time per work (the session handles one
 * request at a time). */
void acs_work_next(acs_work_t *w, const cwmp_msg_t *answer, bool hold, acs_work_rpc_fn cb,
                   void *ud);

/* The session is over, for whatever reason. An RPC still out is
 * unanswered: its work is put back in the queue when sending it again is
 * safe, otherwise it waits for its CommandKey or its TTL. The device is no
 * longer in session from now on. */
void acs_work_end(acs_work_t *w);

/* ---- For the operator side (the REST API) ----------------------------------------- */

/* New work for this device was committed (a task was queued): its live
 * session, if any, looks for it before it ends. False when the device has
 * no live session: the caller may wake it (a connection request). */
bool acs_work_queued(acs_t *a, const char *device_id);
/* Whether the device is in a session (its work began and has not ended). */
bool acs_work_live(const acs_t *a, const char *device_id);

/* Work queued during a turn (acs_work_queued, acs_work_delegate_done) is
 * looked for before that turn ends: once every source said "nothing", they
 * are asked again from the first (a few times per turn at most). So a task
 * the operator or provisioning queued goes out in this session. */

/* ---- For acs_cluster: the tasks this node's live sessions have out ----------------- */
/* Up to max task ids (sent by a live session, or delegated to provisioning)
 * into ids; returns how many. */
size_t acs_work_inflight(const acs_t *a, int64_t *ids, size_t max);

/* ---- For acs_main: the live works by device -------------------------------------- */
void acs_work_init(acs_t *a);
/* At exit, once every session ended and the store worker is gone. */
void acs_work_free(acs_t *a);

/* ---- For the sources (acs_work_tasks.c, acs_work_prov.c) --------------------------
 *
 * A source is a row of hooks; acs_work.c holds the table (tasks, then
 * provisioning). Each work gives every source a zeroed state of
 * state_size bytes, alive from the first hook to `end`, and freed after
 * `end` returns. Every hook may be NULL (nothing to do). Per session, hooks
 * come in this order:
 *
 *   event(Inform) event_run event_done     the session start
 *   queued                                 any time between the others
 *   [ answer ] next                        each turn; answer only to the
 *                                          source whose RPC was out
 *   event(TransferComplete) event_run event_done   between turns
 *   end                                    once, when nothing is in flight
 */
typedef struct acs_work_source {
    const char *name;
    size_t state_size;
    /* A CPE message (CWMP_INFORM first, then CWMP_TRANSFER_COMPLETE or
     * CWMP_AUTONOMOUS_TRANSFER_COMPLETE), on the loop: copy what you need
     * into state. The Inform carries DeviceId, events (with CommandKeys)
     * and ParameterList; the device id is acs_work_device(w). 0 or -ENOMEM
     * (the event fails, nothing is stored). */
    int (*event)(acs_work_t *w, void *state, const cwmp_msg_t *m);
    /* On the store thread, inside the event's transaction, after the
     * session's own writes: read and write the store. Touch only what
     * `event` prepared: the loop may run `queued` meanwhile, so keep those
     * fields apart. 0 or a negative errno (rolls the event back). */
    int (*event_run)(void *state, store_t *st);
    /* The event's job is over (rc as the session's done gets it), on the
     * loop, before the session answers. */
    void (*event_done)(acs_work_t *w, void *state, int rc);
    /* The operator queued work for this device (acs_work_queued). */
    void (*queued)(acs_work_t *w, void *state);
    /* The answer to this source's RPC, on the loop, before this turn's
     * next(): m is the expected response or a Fault (faults included:
     * record them), or NULL when none will come (why says so: the CPE sent
     * an empty message). Synchronous: copy what you keep; commit it from
     * next() or end(). Note another source may produce this turn's RPC
     * before your next() is called (tasks go first): keep the answer until
     * then. 0, or -ENOMEM: the answer was not taken, the session ends. */
    int (*answer)(acs_work_t *w, void *state, const cwmp_msg_t *m, const char *why);
    /* This turn's RPC, or nothing: call acs_work_put() exactly once, from
     * here or later from a callback of acs_work_submit() (async: a store
     * job, anything that holds w). may_send false (HoldRequests, the work
     * is over, the ACS stops): commit what you recorded, produce no RPC. */
    void (*next)(acs_work_t *w, void *state, bool may_send);
    /* The session ended and nothing of this work is in flight (every job
     * came back). rpc_out: this source's RPC was out and never answered.
     * Write what must survive with jobs that carry their own data (not
     * state, which is freed when this returns). */
    void (*end)(acs_work_t *w, void *state, bool rpc_out);
    /* The task this source has out now (marked sent, leased to this node:
     * store_task_lease_renew keeps it), or 0. On the loop. */
    int64_t (*inflight)(const void *state);
} acs_work_source_t;

extern const acs_work_source_t acs_work_tasks;
extern const acs_work_source_t acs_work_prov;

/* next()'s result: rc < 0 and no RPC (the store failed: the codes of
 * acs_work_rpc_fn), or rc 0 and an RPC (its cwmp:ID set, valid during this
 * call), or rc 0 and NULL: nothing from this source now (the next source is
 * asked). Returns 0 when the RPC went out (the source now waits for its
 * answer), -ECANCELED when the session ended first (it was never sent:
 * give back what was taken for it), or another negative errno when it could
 * not be encoded (it never will: give it up, failed). 0 for rpc == NULL.
 * w and the state stay valid after it returns. */
int acs_work_put(acs_work_t *w, int rc, const cwmp_msg_t *rpc);
/* A task carried out by provisioning instead of the tasks source: a
 * get_params / set_params naming virtual parameters (VirtualParameters.*),
 * which the engine resolves with their scripts. The tasks source, having
 * taken the task (marked sent), hands a copy over with acs_work_delegate()
 * (-EBUSY when one is already there) and sends no other task until
 * provisioning, having finished it (its result stored, its waiters told),
 * calls acs_work_delegate_done(). acs_work_delegated() is the task, or
 * NULL. A delegated task still held at the end is freed with the work
 * (provisioning's `end` puts it back in the queue first). */
int acs_work_delegate(acs_work_t *w, const store_task_t *t);
const store_task_t *acs_work_delegated(const acs_work_t *w);
void acs_work_delegate_done(acs_work_t *w);
/* "This session's work is over": no source produces another RPC in this
 * session (next() gets may_send false from now on), so the session ends
 * (204) once the current turn is answered. For a source that must stop the
 * session's work: provisioning that faulted or cannot converge. */
void acs_work_over(acs_work_t *w);
/* A store job for a source, holding w (and every state) until done(rc, ud)
 * returned: what next() uses. The codes of store_worker_submit; done is not
 * called when it fails. */
int acs_work_submit(acs_work_t *w, store_job_fn run, store_done_fn done, void *ud);
/* Keep w (and every state) alive across something asynchronous that is not
 * a store job (a script run off the loop...); every hold needs a release. */
void acs_work_hold(acs_work_t *w);
void acs_work_release(acs_work_t *w);
acs_t *acs_work_acs(const acs_work_t *w);
const char *acs_work_device(const acs_work_t *w);
/* The session ended (acs_work_end): nothing will be sent any more. */
bool acs_work_ended(const acs_work_t *w);

#endif
