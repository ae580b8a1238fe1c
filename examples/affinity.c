/*
 * The smallest roost program: a task sleeps and offloads to the worker pool, and is back on
 * its reactor after each await. Exits 0 when the offload's result came back.
 */
#include <stdio.h>

#include <roost.h>

static int pool_work(void *arg)
{
    (void)arg;
    return 42; /* runs on a pool thread */
}

static int handler(void *arg)
{
    roost_reactor *home = arg;
    roost_sleep(10);                        /* still on its reactor afterwards */
    int v = roost_offload(pool_work, NULL); /* v == 42, and still on its reactor */
    return roost_reactor_current() == home ? v : -1;
}

static int spawn(void *arg)
{
    return roost_spawn(handler, roost_reactor_current(), arg);
}

static int join(void *arg)
{
    return roost_join(arg);
}

int main(void)
{
    roost_runtime *rt;
    if (roost_runtime_start(NULL, &rt) < 0) /* one reactor per CPU */
        return 1;
    roost_task *t;
    int result = roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, 0)), spawn, &t);
    if (result == 0)
        result = roost_run(join, t); /* block this thread until the task is done */
    roost_runtime_destroy(rt);
    printf("result %d\n", result);
    return result == 42 ? 0 : 1;
}
