/* Tasks: failures, cancellation, roost_run, many tasks, stack overflow. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static int join_task(void *arg)
{
    return roost_join(arg);
}

/* ---- a failing detached task does not stop the reactor ---- */

static _Atomic long hook_calls, later_ran;

static void hook(roost_reactor *r, int err, const char *what, void *arg)
{
    (void)r, (void)arg;
    if (err == -EPIPE && !strcmp(what, "detached task"))
        atomic_fetch_add(&hook_calls, 1);
}

static int fails(void *arg)
{
    (void)arg;
    return -EPIPE;
}

static int later(void *arg)
{
    (void)arg;
    atomic_fetch_add(&later_ran, 1);
    return 0;
}

static int spawn_detached(void *arg)
{
    return test_spawn_detached((roost_task_fn)arg, NULL);
}

static void failing_detached_task_is_counted_once(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.error_hook = hook;
    roost_runtime *rt = test_runtime(1, &cfg);
    assert_int_equal(test_on_reactor(rt, 0, spawn_detached, (void *)fails), 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_detached, (void *)later), 0);
    assert_true(test_wait_at_least(&later_ran, 1, 5000));
    assert_int_equal(atomic_load(&hook_calls), 1);
    assert_int_equal(test_stats(rt, 0).task_failures, 1);
    roost_runtime_destroy(rt);
}

/* ---- cancel a 10 s sleep ---- */

static roost_task *sleeper;
static _Atomic long sleep_result = 1, sleeping;
static uint64_t woke_ns;

static int sleep_10s(void *arg)
{
    (void)arg;
    atomic_store(&sleeping, 1);
    long rc = roost_sleep(10000);
    woke_ns = test_now_ns();
    atomic_store(&sleep_result, rc);
    return 0;
}

static int spawn_sleeper(void *arg)
{
    (void)arg;
    return roost_spawn(sleep_10s, NULL, &sleeper);
}

static int cancel_sleeper(void *arg)
{
    (void)arg;
    return roost_task_cancel(sleeper);
}

static void cancelled_sleep_resumes_with_ecanceled_at_once(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, spawn_sleeper, NULL), 0);
    assert_true(test_wait_at_least(&sleeping, 1, 5000));
    test_sleep_ms(5);
    uint64_t t0 = test_now_ns();
    assert_int_equal(test_on_reactor(rt, 0, cancel_sleeper, NULL), 0);
    assert_int_equal(roost_run(join_task, sleeper), 0);
    assert_int_equal(atomic_load(&sleep_result), -ECANCELED);
    printf("# cancel -> resume: %.3f ms\n", (double)(woke_ns - t0) / 1e6);
    assert_true(woke_ns - t0 < test_scaled_ms(50) * 1000000u);
    roost_runtime_destroy(rt);
}

/* ---- cancel an offload before it starts ---- */

static sem_t release_blocker;
static _Atomic long victim_ran, blocker_started;
static _Atomic long victim_result = 1;
static roost_task *victim;

static int block_pool(void *arg)
{
    (void)arg;
    atomic_store(&blocker_started, 1);
    while (sem_wait(&release_blocker) != 0)
        ;
    return 0;
}

static int mark_victim(void *arg)
{
    (void)arg;
    atomic_store(&victim_ran, 1);
    return 0;
}

static int blocker_task(void *arg)
{
    (void)arg;
    return roost_offload(block_pool, NULL);
}

static int victim_task(void *arg)
{
    (void)arg;
    atomic_store(&victim_result, roost_offload(mark_victim, NULL));
    return 0;
}

static int spawn_victim(void *arg)
{
    roost_task *b;
    int rc = roost_spawn(blocker_task, NULL, &b);
    if (rc)
        return rc;
    roost_detach(b);
    (void)arg;
    return roost_spawn(victim_task, NULL, &victim);
}

static int cancel_victim(void *arg)
{
    (void)arg;
    return roost_task_cancel(victim);
}

static void offload_cancelled_before_start_never_runs(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = 1; /* the blocker holds the only worker */
    sem_init(&release_blocker, 0, 0);
    roost_runtime *rt = test_runtime(1, &cfg);
    assert_int_equal(test_on_reactor(rt, 0, spawn_victim, NULL), 0);
    assert_true(test_wait_at_least(&blocker_started, 1, 5000));
    test_sleep_ms(5); /* the victim's offload is queued behind the blocker */
    assert_int_equal(test_on_reactor(rt, 0, cancel_victim, NULL), 0);
    assert_int_equal(roost_run(join_task, victim), 0);
    assert_int_equal(atomic_load(&victim_result), -ECANCELED);
    sem_post(&release_blocker);
    test_sleep_ms(20);
    assert_int_equal(atomic_load(&victim_ran), 0);
    roost_runtime_destroy(rt);
    sem_destroy(&release_blocker);
}

/* ---- a cancel that arrives before the await reaches the operation, never frees under it ---- */

static _Atomic long early_fn_ran;
static int early_results[3];

static int early_mark(void *arg)
{
    (void)arg;
    atomic_store(&early_fn_ran, 1);
    return 0;
}

static int cancel_self_then_await(void *arg)
{
    (void)arg;
    roost_task *self = roost_task_current();
    roost_task_cancel(self); /* not awaiting: the next await is cancelled */
    early_results[0] = roost_offload(early_mark, NULL);
    roost_task_cancel(self);
    uint64_t t0 = test_now_ns();
    early_results[1] = roost_sleep(10000);
    early_results[2] = test_now_ns() - t0 < test_scaled_ms(1000) * 1000000u;
    return 0;
}

static int spawn_early(void *arg)
{
    return roost_spawn(cancel_self_then_await, NULL, arg);
}

static void cancel_before_await_goes_to_the_operation(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    roost_task *t;
    assert_int_equal(test_on_reactor(rt, 0, spawn_early, &t), 0);
    assert_int_equal(roost_run(join_task, t), 0);
    /* The queued offload was taken back (it never ran), the armed timer cancelled. */
    assert_int_equal(early_results[0], -ECANCELED);
    assert_int_equal(early_results[1], -ECANCELED);
    assert_int_equal(early_results[2], 1);
    test_sleep_ms(20);
    assert_int_equal(atomic_load(&early_fn_ran), 0);
    roost_runtime_destroy(rt);
}

/* ---- roost_run ---- */

static _Atomic long grandchild_done;

static int slow_pool_work(void *arg)
{
    (void)arg;
    test_sleep_ms(30);
    return 0;
}

static int grandchild(void *arg)
{
    (void)arg;
    roost_offload(slow_pool_work, NULL);
    atomic_store(&grandchild_done, 1);
    return 0;
}

static int child(void *arg)
{
    (void)arg;
    roost_task *g;
    int rc = roost_spawn(grandchild, NULL, &g);
    if (rc == 0)
        roost_detach(g);
    return rc;
}

static int root(void *arg)
{
    (void)arg;
    roost_task *c;
    int rc = roost_spawn(child, NULL, &c);
    if (rc)
        return rc;
    rc = roost_join(c);
    return rc ? rc : 42;
}

static void run_waits_for_detached_grandchild(void **state)
{
    (void)state;
    assert_int_equal(roost_run(root, NULL), 42);
    assert_int_equal(atomic_load(&grandchild_done), 1);
    assert_null(roost_ctx_current());
}

static int run_inside(void *arg)
{
    (void)arg;
    return roost_run(root, NULL);
}

static void run_on_reactor_thread_is_edeadlk(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, run_inside, NULL), -EDEADLK);
    roost_runtime_destroy(rt);
}

/* ---- many tasks ---- */

#define SPAWNED 100000

static int identity(void *arg)
{
    return (int)(intptr_t)arg;
}

static int spawn_and_join_many(void *arg)
{
    (void)arg;
    static roost_task *tasks[1000];
    long sum = 0;
    for (int batch = 0; batch < SPAWNED / 1000; batch++) {
        for (int i = 0; i < 1000; i++)
            if (roost_spawn(identity, (void *)(intptr_t)(i % 7), &tasks[i]))
                return -ENOMEM;
        for (int i = 0; i < 1000; i++)
            sum += roost_join(tasks[i]);
    }
    /* i % 7 over 0..999 sums to 2997 per batch. */
    return sum == 2997L * (SPAWNED / 1000) ? 0 : -EIO;
}

static void hundred_thousand_tasks_spawned_and_joined(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, spawn_detached, (void *)spawn_and_join_many), 0);
    roost_runtime_stop(rt);
    assert_int_equal(test_stats(rt, 0).task_failures, 0);
    roost_runtime_destroy(rt);
}

/*
 * TSan maps several regions per live fiber; 10,000 parked fibers would pass the kernel's
 * default vm.max_map_count (65530). Its build checks the same behaviour with fewer.
 */
#if defined(ROOST_SANITIZE_THREAD)
#define SLEEPERS 2000
#else
#define SLEEPERS 10000
#endif
static _Atomic long asleep, awake;

static int nap(void *arg)
{
    (void)arg;
    atomic_fetch_add(&asleep, 1);
    int rc = roost_sleep(200);
    if (rc == 0)
        atomic_fetch_add(&awake, 1);
    return rc;
}

static int spawn_sleepers(void *arg)
{
    (void)arg;
    for (int i = 0; i < SLEEPERS; i++) {
        int rc = test_spawn_detached(nap, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static void ten_thousand_tasks_sleep_at_once(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, spawn_sleepers, NULL), 0);
    assert_true(test_wait_at_least(&asleep, SLEEPERS, 10000));
    assert_true(atomic_load(&awake) < SLEEPERS); /* all were asleep at the same time */
    assert_true(test_wait_at_least(&awake, SLEEPERS, 20000));
    roost_runtime_destroy(rt);
}

/* ---- stack overflow ---- */

static volatile int keep_going = 1;

static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    return (keep_going ? recurse(depth + 1) : 0) + frame[0];
}

static int overflow(void *arg)
{
    (void)arg;
    return recurse(0);
}

static void stack_overflow_dies_with_a_message(void **state)
{
    (void)state;
    int err[2];
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh image: cmocka's own SIGSEGV handling stays out of the way. */
        dup2(err[1], 2);
        execl("/proc/self/exe", "test_task_life", "overflow-child", (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    char buf[4096] = {0};
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = read(err[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    close(err[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "stack overflow in task"));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "overflow-child"))
        return roost_run(overflow, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failing_detached_task_is_counted_once),
        cmocka_unit_test(cancelled_sleep_resumes_with_ecanceled_at_once),
        cmocka_unit_test(offload_cancelled_before_start_never_runs),
        cmocka_unit_test(cancel_before_await_goes_to_the_operation),
        cmocka_unit_test(run_waits_for_detached_grandchild),
        cmocka_unit_test(run_on_reactor_thread_is_edeadlk),
        cmocka_unit_test(hundred_thousand_tasks_spawned_and_joined),
        cmocka_unit_test(ten_thousand_tasks_sleep_at_once),
        cmocka_unit_test(stack_overflow_dies_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
