/*
 * acs_work_prov: provisioning as the second work source (acs_work.h),
 * asked each turn once the operator's tasks produced no RPC. Today it has
 * nothing to do: it answers "nothing" at once, which costs no store job, so
 * a session without tasks still ends right after its empty POST.
 *
 * How the provisioning engine (src/acs/provision/, its prov_run) plugs in,
 * hook by hook (see acs_work_source_t for when each runs; state_size gives
 * the engine a per-session state, zeroed, freed after end):
 *
 *   event      m->type CWMP_INFORM, once at session start: the device id is
 *              acs_work_device(w); m->events (codes, CommandKeys) and
 *              m->params (the Inform's ParameterList) go away when event()
 *              returns: copy them into the session's prov_state. Also
 *              TransferComplete later (a `download` provision's outcome).
 *   event_run  on the store thread, in the Inform's own transaction: load
 *              what the first run needs (the device's stored parameters and
 *              tags, the presets that match the events) into the state the
 *              event prepared, so the first turn needs no job of its own.
 *   event_done on the loop: the loaded state is the engine's from now on.
 *   answer     the answer to the engine's last RPC, Fault included (a
 *              fault fails the provision that declared it); NULL when none
 *              came. Update prov_state from it at once (the message goes
 *              with the decoder); store what was read from next() or end().
 *   next       run the provisions against prov_state and plan: the next RPC
 *              -> acs_work_put(w, 0, &rpc) with an ID of the engine's own
 *              (tasks use the task id; e.g. "prov-<round>"), converged ->
 *              acs_work_put(w, 0, NULL). A run that must wait (an ext()
 *              call, a store read) keeps w with acs_work_hold() or
 *              acs_work_submit() and puts from its completion. A provision
 *              that faults or does not converge in its rounds: record the
 *              fault, acs_work_over(w) ("this session's work is over"),
 *              acs_work_put(w, 0, NULL). may_send false: plan nothing.
 *              acs_work_put's result: 0 sent, -ECANCELED never sent (the
 *              session ended), other: the RPC could not be encoded.
 *   queued     operator work for the device (a preset changed, if the
 *              provisioning API says so through acs_work_queued).
 *   end        the session is over and nothing is in flight: write what
 *              must outlive it with a job carrying its own data; rpc_out:
 *              the engine's RPC was never answered.
 */
#include "acs/acs_work.h"

static void prov_next(acs_work_t *w, void *state, bool may_send)
{
    (void)state, (void)may_send;
    acs_work_put(w, 0, NULL);
}

const acs_work_source_t acs_work_prov = {
    .name = "provisioning",
    .state_size = 0,
    .next = prov_next,
};
