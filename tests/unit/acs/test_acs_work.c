/* Unit tests of the work layer's contract (acs_work.h), as the session and
 * the sources see it: acs_work.c is compiled with two fake sources in the
 * places of tasks and provisioning, and a fake store queue whose jobs run
 * when the test says. Checked: sources asked in order, answers to the
 * source that produced the RPC, callbacks exactly once (also after the
 * end), `end` only once nothing is in flight, what the API sees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_work.h"

/* ---- a store queue run by hand ---------------------------------------------------- */

static struct job {
    store_job_fn fn;
    store_done_fn done;
    void *ud;
} jobs[16];
static size_t njobs;
static bool store_full;

int store_worker_submit(store_worker_t *w, store_job_fn fn, store_done_fn done, void *ud)
{
    (void)w;
    if (store_full || njobs == 16)
        return -EAGAIN;
    jobs[njobs++] = (struct job){ fn, done, ud };
    return 0;
}

static void run_jobs(void)
{
    while (njobs) {
        struct job j = jobs[0];
        memmove(jobs, jobs + 1, --njobs * sizeof *jobs);
        j.done(j.fn(NULL, j.ud), j.ud);
    }
}

/* ---- two sources that write down what happens to them ---------------------------- */

static char trail[2048];
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(trail);
    vsnprintf(trail + n, sizeof trail - n, fmt, ap);
    va_end(ap);
}

/* What a source's next() does this turn. */
enum plan { NOTHING, RPC_NOW, RPC_LATER, NOTHING_LATER, FAIL_LATER, OVER, QUEUE_LATER, DELEGATE };
static enum plan plan[2];
static int put_result[2] = { 99, 99 }; /* what acs_work_put returned to it */
static cwmp_msg_t rpcs[2] = { { .type = CWMP_GET_PARAMETER_VALUES, .id = "t1" },
                              { .type = CWMP_SET_PARAMETER_VALUES, .id = "p1" } };

typedef struct fake_state {
    int n;                   /* hooks seen: the state is the source's own, zeroed */
} fake_state_t;

static int later_run(store_t *st, void *ud)
{
    (void)st, (void)ud;
    return 0;
}

static void later_done(int rc, void *ud);

typedef struct later {
    acs_work_t *w;
    int src;
} later_t;

static void later_done(int rc, void *ud)
{
    later_t *l = ud;
    (void)rc;
    if (plan[l->src] == RPC_LATER)
        put_result[l->src] = acs_work_put(l->w, 0, &rpcs[l->src]);
    else if (plan[l->src] == FAIL_LATER)
        put_result[l->src] = acs_work_put(l->w, -EIO, NULL);
    else if (plan[l->src] == QUEUE_LATER) {
        /* the job queued a task (provisioning's effects): tasks have one now */
        plan[0] = RPC_NOW;
        plan[l->src] = NOTHING;
        assert_true(acs_work_queued(acs_work_acs(l->w), acs_work_device(l->w)));
        put_result[l->src] = acs_work_put(l->w, 0, NULL);
    } else
        put_result[l->src] = acs_work_put(l->w, 0, NULL);
    say("%c.put=%d ", "TP"[l->src], put_result[l->src]);
    free(l);
}

static void fake_next(int src, acs_work_t *w, void *state, bool may_send)
{
    ((fake_state_t *)state)->n++;
    say("%c.next(%d) ", "TP"[src], may_send);
    const store_task_t *d = acs_work_delegated(w);
    if (src == 1 && d) {
        /* provisioning carries the task out, then the queue goes on */
        say("P.task(%d) ", (int)d->id);
        acs_work_delegate_done(w);
        put_result[src] = acs_work_put(w, 0, NULL);
        return;
    }
    if (plan[src] == DELEGATE) {
        store_task_t t = { .id = 7, .params = "{\"names\":[\"VirtualParameters.X\"]}" };
        assert_int_equal(acs_work_delegate(w, &t), 0);
        assert_int_equal(acs_work_delegate(w, &t), -EBUSY);
        plan[src] = NOTHING;
        put_result[src] = acs_work_put(w, 0, NULL);
        return;
    }
    if (plan[src] == OVER)
        acs_work_over(w);
    if (plan[src] == RPC_LATER || plan[src] == NOTHING_LATER || plan[src] == FAIL_LATER ||
        plan[src] == QUEUE_LATER) {
        later_t *l = malloc(sizeof *l);
        *l = (later_t){ w, src };
        assert_int_equal(acs_work_submit(w, later_run, later_done, l), 0);
        return;
    }
    put_result[src] = acs_work_put(w, 0, plan[src] == RPC_NOW && may_send ? &rpcs[src] : NULL);
}

static int fake_answer(int src, acs_work_t *w, void *state, const cwmp_msg_t *m, const char *why)
{
    (void)w, (void)state;
    say("%c.answer(%s) ", "TP"[src], m ? cwmp_type_name(m->type) : why);
    return 0;
}

static int fake_event(int src, acs_work_t *w, void *state, const cwmp_msg_t *m)
{
    say("%c.event(%s,%s) ", "TP"[src], cwmp_type_name(m->type), acs_work_device(w));
    return 0;
}

static int fake_event_run(int src, void *state)
{
    say("%c.event_run ", "TP"[src]);
    return 0;
}

static void fake_event_done(int src, int rc)
{
    say("%c.event_done(%d) ", "TP"[src], rc);
}

static void fake_end(int src, acs_work_t *w, void *state, bool rpc_out)
{
    say("%c.end(%d) ", "TP"[src], rpc_out);
}

#define FAKE(i, var, nm)                                                                            \
    static void next##i(acs_work_t *w, void *s, bool m) { fake_next(i, w, s, m); }                   \
    static int answer##i(acs_work_t *w, void *s, const cwmp_msg_t *m, const char *y)                 \
    {                                                                                               \
        return fake_answer(i, w, s, m, y);                                                          \
    }                                                                                               \
    static int event##i(acs_work_t *w, void *s, const cwmp_msg_t *m) { return fake_event(i, w, s, m); } \
    static int event_run##i(void *s, store_t *st) { return fake_event_run(i, s); }                   \
    static void event_done##i(acs_work_t *w, void *s, int rc) { fake_event_done(i, rc); }            \
    static void queued##i(acs_work_t *w, void *s) { say("%c.queued ", "TP"[i]); }                    \
    static void end##i(acs_work_t *w, void *s, bool o) { fake_end(i, w, s, o); }                     \
    const acs_work_source_t var = { .name = nm, .state_size = sizeof(fake_state_t),                  \
                                    .event = event##i, .event_run = event_run##i,                    \
                                    .event_done = event_done##i, .queued = queued##i,                \
                                    .answer = answer##i, .next = next##i, .end = end##i }

FAKE(0, acs_work_tasks, "tasks");
FAKE(1, acs_work_prov, "provisioning");

/* ---- the session's side ----------------------------------------------------------- */

static int turns, turn_rc, refuse;
static cwmp_type_t turn_rpc;
static acs_work_t *end_in_cb; /* the session ends inside its callback */

static int on_turn(void *ud, int rc, const cwmp_msg_t *rpc)
{
    (void)ud;
    turns++;
    turn_rc = rc;
    turn_rpc = rpc ? rpc->type : CWMP_NONE;
    say("cb(%d,%s) ", rc, rpc ? rpc->id : "-");
    if (end_in_cb) {
        acs_work_end(end_in_cb);
        end_in_cb = NULL;
    }
    return rpc && refuse ? -EINVAL : 0;
}

static int session_run(store_t *st, void *ud)
{
    (void)st, (void)ud;
    say("S.run ");
    return 0;
}

static void session_done(int rc, void *ud)
{
    (void)ud;
    say("S.done(%d) ", rc);
}

static acs_t A;

static int setup(void **state)
{
    (void)state;
    memset(&A, 0, sizeof A);
    A.db = (store_worker_t *)&A; /* never dereferenced: the fake queue */
    acs_work_init(&A);
    trail[0] = '\0';
    plan[0] = plan[1] = NOTHING;
    turns = refuse = 0;
    end_in_cb = NULL;
    njobs = 0;
    store_full = false;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(hmap_len(&A.works), 0);
    acs_work_free(&A);
    return 0;
}

#define TRAIL(want)                                                                                \
    do {                                                                                           \
        if (strcmp(trail, want) != 0)                                                              \
            fail_msg("trail\n  got  %s\n  want %s", trail, want);                                  \
        trail[0] = '\0';                                                                           \
    } while (0)

/* The Inform: the session's writes, then the sources', one job; the
 * sources take note before the session answers. */
static void test_event(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    assert_non_null(w);
    assert_true(acs_work_live(&A, "DEV-1"));
    assert_false(acs_work_live(&A, "DEV-2"));
    cwmp_msg_t inform = { .type = CWMP_INFORM };
    assert_int_equal(acs_work_event(w, &inform, session_run, session_done, NULL), 0);
    TRAIL("T.event(Inform,DEV-1) P.event(Inform,DEV-1) ");
    run_jobs();
    TRAIL("S.run T.event_run P.event_run T.event_done(0) P.event_done(0) S.done(0) ");
    /* a full store queue: nothing happens, done is not called */
    store_full = true;
    cwmp_msg_t tc = { .type = CWMP_TRANSFER_COMPLETE };
    assert_int_equal(acs_work_event(w, &tc, NULL, session_done, NULL), -EAGAIN);
    store_full = false;
    trail[0] = '\0';
    /* the session ends while a TransferComplete's job is out: done still
     * comes, then the sources' end */
    assert_int_equal(acs_work_event(w, &tc, NULL, session_done, NULL), 0);
    acs_work_end(w);
    assert_false(acs_work_live(&A, "DEV-1"));
    TRAIL("T.event(TransferComplete,DEV-1) P.event(TransferComplete,DEV-1) ");
    run_jobs();
    TRAIL("T.event_run P.event_run T.event_done(0) P.event_done(0) S.done(0) T.end(0) P.end(0) ");
}

/* Nothing to do anywhere: both asked in order, the answer comes at once. */
static void test_nothing(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(1) P.next(1) cb(0,-) ");
    assert_int_equal(turns, 1);
    assert_int_equal(njobs, 0);
    acs_work_end(w);
    TRAIL("T.end(0) P.end(0) ");
}

/* Tasks first: their RPC goes out and provisioning is not asked; the
 * answer goes to tasks; once they are out, provisioning's turn. */
static void test_order_and_answers(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = RPC_LATER;
    plan[1] = RPC_NOW;
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(1) ");
    assert_int_equal(turns, 0); /* async: a store job first */
    run_jobs();
    TRAIL("cb(0,t1) T.put=0 ");
    assert_int_equal(turn_rpc, CWMP_GET_PARAMETER_VALUES);
    cwmp_msg_t gpvr = { .type = CWMP_GET_PARAMETER_VALUES_RESPONSE };
    plan[0] = NOTHING;
    acs_work_next(w, &gpvr, false, on_turn, NULL);
    TRAIL("T.answer(GetParameterValuesResponse) T.next(1) P.next(1) cb(0,p1) ");
    assert_int_equal(put_result[1], 0);
    /* provisioning's RPC answered with a fault: to provisioning, and tasks
     * are asked first again */
    cwmp_msg_t fault = { .type = CWMP_FAULT };
    plan[1] = NOTHING;
    acs_work_next(w, &fault, false, on_turn, NULL);
    TRAIL("P.answer(Fault) T.next(1) P.next(1) cb(0,-) ");
    assert_int_equal(turns, 3);
    acs_work_end(w);
    TRAIL("T.end(0) P.end(0) ");
}

/* An empty message while an RPC is out: the source hears no answer comes;
 * a session that ends with one out tells that source only. */
static void test_unanswered(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[1] = RPC_NOW;
    acs_work_next(w, NULL, false, on_turn, NULL);
    trail[0] = '\0';
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("P.answer(the CPE sent an empty message instead of an answer) T.next(1) P.next(1) "
          "cb(0,p1) ");
    acs_work_end(w);
    TRAIL("T.end(0) P.end(1) ");
}

/* The session ends while a source's job is out: the callback still comes
 * once (-ECANCELED), the source learns its RPC was never sent, and `end`
 * waits for the job. */
static void test_end_in_flight(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = RPC_LATER;
    acs_work_next(w, NULL, false, on_turn, NULL);
    acs_work_end(w);
    assert_false(acs_work_live(&A, "DEV-1"));
    assert_false(acs_work_queued(&A, "DEV-1"));
    TRAIL("T.next(1) ");
    run_jobs();
    TRAIL("cb(-125,-) T.put=-125 T.end(0) P.end(0) ");
    assert_int_equal(turns, 1);
    assert_int_equal(turn_rc, -ECANCELED);
}

/* ... and when the job found nothing, the later sources are still asked
 * (to commit what they recorded), with nothing to send. */
static void test_end_in_flight_nothing(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = NOTHING_LATER;
    plan[1] = RPC_NOW;
    acs_work_next(w, NULL, false, on_turn, NULL);
    acs_work_end(w);
    run_jobs();
    TRAIL("T.next(1) P.next(0) cb(-125,-) T.put=0 T.end(0) P.end(0) ");
}

/* An RPC the session cannot encode: the source hears so and gives it up;
 * the session ends inside its callback, safely. */
static void test_refused(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = RPC_LATER;
    refuse = 1;
    end_in_cb = w;
    acs_work_next(w, NULL, false, on_turn, NULL);
    run_jobs();
    TRAIL("T.next(1) cb(0,t1) T.put=-22 T.end(0) P.end(0) ");
}

/* A store failure goes to the session as is. */
static void test_store_error(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = FAIL_LATER;
    acs_work_next(w, NULL, false, on_turn, NULL);
    run_jobs();
    assert_int_equal(turn_rc, -EIO);
    TRAIL("T.next(1) cb(-5,-) T.put=0 ");
    acs_work_end(w);
    trail[0] = '\0';
}

/* HoldRequests, and a source that says the session's work is over: every
 * source still gets its turn, none may send. */
static void test_hold_and_over(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = plan[1] = RPC_NOW;
    acs_work_next(w, NULL, true, on_turn, NULL);
    TRAIL("T.next(0) P.next(0) cb(0,-) ");
    plan[0] = OVER;
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(1) P.next(0) cb(0,-) ");
    plan[0] = RPC_NOW;
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(0) P.next(0) cb(0,-) ");
    A.stopping = true; /* the ACS stops: the same */
    acs_work_t *w2 = acs_work_begin(&A, "DEV-2");
    acs_work_next(w2, NULL, false, on_turn, NULL);
    TRAIL("T.next(0) P.next(0) cb(0,-) ");
    acs_work_end(w);
    acs_work_end(w2);
    trail[0] = '\0';
}

/* The API's view: queued work reaches the live work's sources; a device's
 * newer work replaces an older one still registered. */
static void test_queued(void **state)
{
    assert_false(acs_work_queued(&A, "DEV-1"));
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    assert_true(acs_work_queued(&A, "DEV-1"));
    TRAIL("T.queued P.queued ");
    acs_work_t *w2 = acs_work_begin(&A, "DEV-1");
    assert_true(acs_work_live(&A, "DEV-1"));
    acs_work_end(w); /* the older one leaves without taking the newer's place */
    assert_true(acs_work_live(&A, "DEV-1"));
    acs_work_end(w2);
    assert_false(acs_work_live(&A, "DEV-1"));
    char id[STORE_ID_MAX + 8]; /* longer than any device id the store makes */
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    assert_null(acs_work_begin(&A, id));
    trail[0] = '\0';
}

/* Work queued during a turn (provisioning's reboot task, the API's) is
 * looked for before the turn ends: the sources are asked again, tasks first. */
static void test_queued_during_turn(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[1] = QUEUE_LATER;
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(1) P.next(1) ");
    run_jobs();
    TRAIL("T.queued P.queued T.next(1) cb(0,t1) P.put=0 ");
    assert_int_equal(turn_rpc, CWMP_GET_PARAMETER_VALUES);
    /* without new work, a turn asks each source once */
    plan[0] = NOTHING;
    cwmp_msg_t gpvr = { .type = CWMP_GET_PARAMETER_VALUES_RESPONSE };
    acs_work_next(w, &gpvr, false, on_turn, NULL);
    TRAIL("T.answer(GetParameterValuesResponse) T.next(1) P.next(1) cb(0,-) ");
    acs_work_end(w);
    TRAIL("T.end(0) P.end(0) ");
}

/* A task the tasks source hands to provisioning (virtual parameters): one
 * at a time; once provisioning is done with it, the queue goes on in the
 * same turn; one still held at the end goes with the work. */
static void test_delegate(void **state)
{
    acs_work_t *w = acs_work_begin(&A, "DEV-1");
    plan[0] = DELEGATE;
    acs_work_next(w, NULL, false, on_turn, NULL);
    TRAIL("T.next(1) P.next(1) P.task(7) T.next(1) P.next(1) cb(0,-) ");
    assert_null(acs_work_delegated(w));
    plan[0] = DELEGATE;
    plan[1] = OVER; /* the session ends with it held */
    store_task_t t = { .id = 8 };
    assert_int_equal(acs_work_delegate(w, &t), 0);
    acs_work_end(w);
    TRAIL("T.end(0) P.end(0) ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unanswered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_in_flight_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_and_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_during_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delegate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
