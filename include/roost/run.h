/* roost — block-on: run a task to completion from a plain thread. */
#ifndef ROOST_RUN_H
#define ROOST_RUN_H

#include <roost/task.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * Makes the calling plain thread a temporary exclusive context, runs fn(arg) as a task on
 * it, pumps until that task and every task spawned on this context have finished, and
 * returns the task's result. -EDEADLK on a reactor or other exclusive context's thread.
 */
int roost_run(roost_task_fn fn, void *arg);

ROOST_END_DECLS

#endif
