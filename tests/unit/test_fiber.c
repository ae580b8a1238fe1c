/* Fibers (src/task/fiber.c): the switch, stack pool, resident memory and the guard page.
 *
 * No cmocka assertion runs on a fiber stack: a failing assertion longjmps back to the test
 * runner, which would abandon the fiber mid-switch. Fibers record what they saw; the thread
 * asserts it after switching back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "task/fiber.h"

#if defined(ROOST_SANITIZE_THREAD) && ROOST_SANITIZE_THREAD
#define TEST_TSAN 1
#elif defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

/* ---- ping-pong ----------------------------------------------------------------------- */

#define PING_PONG_ROUNDS 1000000u

enum side { SIDE_THREAD, SIDE_FIBER };

struct ping_pong {
    struct roost_fiber thread, fiber;
    enum side turn;
    unsigned fiber_runs;
    unsigned out_of_turn; /* times a side found it was not its turn */
    bool stop;
};

static void ping_pong_entry(void *arg)
{
    struct ping_pong *pp = arg;
    double x = 1.0;
    while (!pp->stop) {
        if (pp->turn != SIDE_FIBER)
            pp->out_of_turn++;
        pp->fiber_runs++;
        pp->turn = SIDE_THREAD;
        /* Really overwrite the callee-saved registers (not just tell the compiler so): if
         * the switch failed to restore the thread's, its live locals would come back as -1. */
        __asm__ volatile("movq $-1, %%rbx\n\t"
                         "movq $-1, %%r12\n\t"
                         "movq $-1, %%r13\n\t"
                         "movq $-1, %%r14\n\t"
                         "movq $-1, %%r15\n\t" ::
                             : "rbx", "r12", "r13", "r14", "r15");
        x = x * 0.5 + 3.0; /* the fiber's own floating point between the thread's */
        roost__fiber_switch(&pp->fiber, &pp->thread);
    }
    (void)x;
    roost__fiber_switch_final(&pp->fiber, &pp->thread);
}

static void test_ping_pong_alternates_and_keeps_callee_saved_registers(void **state)
{
    (void)state;
    struct roost_stack_pool pool;
    struct roost_stack stack;
    static struct ping_pong pp;
    memset(&pp, 0, sizeof(pp));
    assert_int_equal(roost__stack_pool_init(&pool, 0, 1), 0);
    assert_int_equal(roost__stack_alloc(&pool, &stack), 0);
    roost__fiber_init_thread(&pp.thread);
    assert_int_equal(roost__fiber_init(&pp.fiber, &stack, ping_pong_entry, &pp, "ping-pong"), 0);

    /* Six values live across every switch: more than fit in caller-saved registers, so the
     * compiler keeps them in rbx/rbp/r12-r15 (or spills them to this stack). */
    uint64_t a = 0x1111, b = 0x2222, c = 0x3333, d = 0x4444, e = 0x5555, g = 0x6666;
    double acc = 1.0, expect = 1.0;
    unsigned corrupted = 0;
    for (unsigned i = 0; i < PING_PONG_ROUNDS; i++) {
        if (pp.turn != SIDE_THREAD)
            pp.out_of_turn++;
        pp.turn = SIDE_FIBER;
        __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(g));
        acc = acc * 1.0000001 + 0.25;
        roost__fiber_switch(&pp.thread, &pp.fiber);
        acc = acc * 0.9999999 - 0.125;
        __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(g));
        if (a != 0x1111 + (uint64_t)i || b != 0x2222 + 2 * (uint64_t)i ||
            c != 0x3333 + 3 * (uint64_t)i || d != (0x4444 ^ (uint64_t)i) ||
            e != 0x5555 - (uint64_t)i || g != 0x6666 + 7 * (uint64_t)i)
            corrupted++;
        a = 0x1111 + (uint64_t)(i + 1);
        b = 0x2222 + 2 * (uint64_t)(i + 1);
        c = 0x3333 + 3 * (uint64_t)(i + 1);
        d = 0x4444 ^ (uint64_t)(i + 1);
        e = 0x5555 - (uint64_t)(i + 1);
        g = 0x6666 + 7 * (uint64_t)(i + 1);
    }
    /* The same float computation with no switch in between must give the same bits. */
    for (unsigned i = 0; i < PING_PONG_ROUNDS; i++) {
        expect = expect * 1.0000001 + 0.25;
        __asm__ volatile("" : "+x"(expect));
        expect = expect * 0.9999999 - 0.125;
    }

    assert_int_equal(corrupted, 0);
    assert_int_equal(pp.out_of_turn, 0);
    assert_int_equal(pp.fiber_runs, PING_PONG_ROUNDS);
    assert_true(acc == expect);

    pp.stop = true;
    roost__fiber_switch(&pp.thread, &pp.fiber);
    roost__fiber_destroy(&pp.fiber);
    roost__stack_release(&pool, &stack);
    roost__stack_pool_destroy(&pool);
}

/* ---- MXCSR and x87 control word -------------------------------------------------------- */

static uint16_t fpu_cw_get(void)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void fpu_cw_set(uint16_t cw)
{
    __asm__ volatile("fldcw %0" ::"m"(cw));
}

#define MXCSR_ROUND_MASK 0x6000u
#define MXCSR_ROUND_ZERO 0x6000u
#define FPUCW_ROUND_MASK 0x0c00u
#define FPUCW_ROUND_ZERO 0x0c00u

struct fp_env_case {
    struct roost_fiber thread, fiber;
    uint32_t fiber_mxcsr_on_resume;
    uint16_t fiber_fpucw_on_resume;
};

static void fp_env_entry(void *arg)
{
    struct fp_env_case *fc = arg;
    /* Round toward zero in this fiber only. */
    __builtin_ia32_ldmxcsr((__builtin_ia32_stmxcsr() & ~MXCSR_ROUND_MASK) | MXCSR_ROUND_ZERO);
    fpu_cw_set((uint16_t)((fpu_cw_get() & ~FPUCW_ROUND_MASK) | FPUCW_ROUND_ZERO));
    roost__fiber_switch(&fc->fiber, &fc->thread);
    fc->fiber_mxcsr_on_resume = __builtin_ia32_stmxcsr();
    fc->fiber_fpucw_on_resume = fpu_cw_get();
    roost__fiber_switch_final(&fc->fiber, &fc->thread);
}

static void test_mxcsr_and_x87_control_word_are_per_fiber(void **state)
{
    (void)state;
    struct roost_stack_pool pool;
    struct roost_stack stack;
    struct fp_env_case fc;
    memset(&fc, 0, sizeof(fc));
    assert_int_equal(roost__stack_pool_init(&pool, 0, 1), 0);
    assert_int_equal(roost__stack_alloc(&pool, &stack), 0);
    roost__fiber_init_thread(&fc.thread);
    assert_int_equal(roost__fiber_init(&fc.fiber, &stack, fp_env_entry, &fc, "fp-env"), 0);

    uint32_t mxcsr = __builtin_ia32_stmxcsr();
    uint16_t fpucw = fpu_cw_get();
    roost__fiber_switch(&fc.thread, &fc.fiber);
    /* The fiber changed its rounding mode; the thread's must be untouched... */
    assert_int_equal(__builtin_ia32_stmxcsr(), mxcsr);
    assert_int_equal(fpu_cw_get(), fpucw);
    roost__fiber_switch(&fc.thread, &fc.fiber);
    /* ...and the fiber must get its own back. */
    assert_int_equal(fc.fiber_mxcsr_on_resume & MXCSR_ROUND_MASK, MXCSR_ROUND_ZERO);
    assert_int_equal(fc.fiber_fpucw_on_resume & FPUCW_ROUND_MASK, FPUCW_ROUND_ZERO);
    assert_int_equal(__builtin_ia32_stmxcsr(), mxcsr);

    roost__fiber_destroy(&fc.fiber);
    roost__stack_release(&pool, &stack);
    roost__stack_pool_destroy(&pool);
}

/* ---- args and interleaving ----------------------------------------------------------- */

struct interleave {
    struct roost_fiber thread, a, b;
    char log[16];
    unsigned log_len;
    bool direct; /* a switches straight to b instead of back to the thread */
};

struct interleave_arg {
    struct interleave *il;
    char id;
    void *seen_arg;
};

static void interleave_entry(void *arg)
{
    struct interleave_arg *me = arg;
    struct interleave *il = me->il;
    struct roost_fiber *self = me->id == 'a' ? &il->a : &il->b;
    me->seen_arg = arg;
    for (int round = 0; round < 3; round++) {
        il->log[il->log_len++] = me->id;
        if (il->direct && me->id == 'a')
            roost__fiber_switch(self, &il->b);
        else
            roost__fiber_switch(self, &il->thread);
    }
    roost__fiber_switch_final(self, &il->thread);
}

static void run_interleave(bool direct, const char *expect_log)
{
    struct roost_stack_pool pool;
    struct roost_stack sa, sb;
    struct interleave il;
    memset(&il, 0, sizeof(il));
    il.direct = direct;
    struct interleave_arg arg_a = {.il = &il, .id = 'a'};
    struct interleave_arg arg_b = {.il = &il, .id = 'b'};
    assert_int_equal(roost__stack_pool_init(&pool, 0, 2), 0);
    assert_int_equal(roost__stack_alloc(&pool, &sa), 0);
    assert_int_equal(roost__stack_alloc(&pool, &sb), 0);
    roost__fiber_init_thread(&il.thread);
    assert_int_equal(roost__fiber_init(&il.a, &sa, interleave_entry, &arg_a, "a"), 0);
    assert_int_equal(roost__fiber_init(&il.b, &sb, interleave_entry, &arg_b, "b"), 0);

    for (int round = 0; round < 4; round++) { /* the 4th round lets both finish */
        roost__fiber_switch(&il.thread, &il.a);
        if (!direct)
            roost__fiber_switch(&il.thread, &il.b);
        assert_ptr_equal(roost__fiber_current(), &il.thread);
    }
    if (direct) /* b is parked after its last hand-back; let it finish */
        roost__fiber_switch(&il.thread, &il.b);
    assert_ptr_equal(arg_a.seen_arg, &arg_a);
    assert_ptr_equal(arg_b.seen_arg, &arg_b);
    il.log[il.log_len] = '\0';
    assert_string_equal(il.log, expect_log);

    roost__fiber_destroy(&il.a);
    roost__fiber_destroy(&il.b);
    roost__stack_release(&pool, &sa);
    roost__stack_release(&pool, &sb);
    roost__stack_pool_destroy(&pool);
}

static void test_entry_gets_arg_and_two_fibers_interleave_via_thread(void **state)
{
    (void)state;
    /* thread -> a -> thread -> b -> thread -> a ...: each fiber logs once per turn. */
    run_interleave(false, "ababab");
}

static void test_fiber_switches_directly_to_another_fiber(void **state)
{
    (void)state;
    /* thread -> a -> b -> thread, three times: a hands over to b without the thread. */
    run_interleave(true, "ababab");
}

/* ---- stack alignment at entry -------------------------------------------------------- */

struct align_case {
    struct roost_fiber thread, fiber;
    uintptr_t aligned_local, frame, nested_frame;
    char printed[128];
};

__attribute__((noinline)) static uintptr_t nested_frame_address(void)
{
    return (uintptr_t)__builtin_frame_address(0);
}

static void align_entry(void *arg)
{
    struct align_case *ac = arg;
    __attribute__((aligned(16))) volatile char local[16];
    local[0] = 1;
    ac->aligned_local = (uintptr_t)&local[0];
    ac->frame = (uintptr_t)__builtin_frame_address(0);
    ac->nested_frame = nested_frame_address();
    /* A variadic callee spills xmm registers with movaps, which faults on a misaligned
     * stack: this is where a wrong initial frame would crash. */
    snprintf(ac->printed, sizeof(ac->printed), "%f %f %.3f", 1.5, -2.25, 3.0 / 7.0);
    roost__fiber_switch_final(&ac->fiber, &ac->thread);
}

static void test_entry_stack_is_16_byte_aligned(void **state)
{
    (void)state;
    struct roost_stack_pool pool;
    struct roost_stack stack;
    struct align_case ac;
    memset(&ac, 0, sizeof(ac));
    assert_int_equal(roost__stack_pool_init(&pool, 0, 1), 0);
    assert_int_equal(roost__stack_alloc(&pool, &stack), 0);
    roost__fiber_init_thread(&ac.thread);
    assert_int_equal(roost__fiber_init(&ac.fiber, &stack, align_entry, &ac, "align"), 0);
    roost__fiber_switch(&ac.thread, &ac.fiber);

    assert_int_equal(ac.aligned_local % 16, 0);
    assert_int_equal(ac.frame % 16, 0);
    assert_int_equal(ac.nested_frame % 16, 0);
    /* On the fiber's stack, not the thread's. */
    assert_true(ac.frame > (uintptr_t)stack.lo && ac.frame < (uintptr_t)stack.hi);
    assert_string_equal(ac.printed, "1.500000 -2.250000 0.429");

    roost__fiber_destroy(&ac.fiber);
    roost__stack_release(&pool, &stack);
    roost__stack_pool_destroy(&pool);
}

/* ---- stack pool ---------------------------------------------------------------------- */

static bool is_mapped(void *addr)
{
    /* mincore fails with ENOMEM exactly when the page is not mapped. */
    unsigned char vec;
    return mincore(addr, 1, &vec) == 0 || errno != ENOMEM;
}

static void test_stack_pool_reuses_cached_stack(void **state)
{
    (void)state;
    struct roost_stack_pool pool;
    struct roost_stack s1, s2, s3;
    long page = sysconf(_SC_PAGESIZE);

    assert_int_equal(roost__stack_pool_init(&pool, 0, 1), 0);
    assert_int_equal(pool.stack_size, ROOST_STACK_DEFAULT);
    assert_int_equal(roost__stack_alloc(&pool, &s1), 0);
    assert_int_equal((char *)s1.hi - (char *)s1.lo, ROOST_STACK_DEFAULT);
    assert_int_equal((char *)s1.lo - (char *)s1.map, page);
    void *first = s1.map;
    roost__stack_release(&pool, &s1);
    assert_null(s1.map);
    assert_int_equal(pool.cached, 1);
    assert_int_equal(roost__stack_alloc(&pool, &s2), 0);
    assert_ptr_equal(s2.map, first); /* from the cache, not a new mapping */
    assert_int_equal(pool.cached, 0);

    /* Cache full (max 1): the second release unmaps. */
    assert_int_equal(roost__stack_alloc(&pool, &s3), 0);
    void *second = s3.map;
    assert_ptr_not_equal(second, first);
    roost__stack_release(&pool, &s2);
    roost__stack_release(&pool, &s3);
    assert_int_equal(pool.cached, 1);
    assert_true(is_mapped(first));
    assert_false(is_mapped(second));
    roost__stack_pool_destroy(&pool);
    assert_false(is_mapped(first));

    /* Sizes round up to whole pages. */
    assert_int_equal(roost__stack_pool_init(&pool, 5000, 0), 0);
    assert_int_equal(pool.stack_size, 2 * (size_t)page);
    roost__stack_pool_destroy(&pool);
}

/* ---- resident memory of idle fibers -------------------------------------------------- */

#define IDLE_FIBERS 10000u
#define IDLE_RSS_BUDGET ((size_t)16 * 1024)
#if TEST_TSAN
/* gcc's libtsan maps 4 regions per live fiber: 10,000 parked fibers plus their stacks exceed
 * vm.max_map_count (65530). Under TSan each fiber therefore finishes right after its first
 * run (its TSan state is freed); its stack stays allocated and touched, which is what the
 * test measures. */
#define IDLE_FINISH_AT_ONCE 1
#else
#define IDLE_FINISH_AT_ONCE 0
#endif

struct idle_case {
    struct roost_fiber thread;
    struct roost_fiber *fibers;
    unsigned entered;
    bool stop;
};

struct idle_arg {
    struct idle_case *ic;
    unsigned index;
};

static void idle_entry(void *arg)
{
    struct idle_arg *ia = arg;
    struct idle_case *ic = ia->ic;
    struct roost_fiber *self = &ic->fibers[ia->index];
    ic->entered++;
    while (!ic->stop && !IDLE_FINISH_AT_ONCE) /* idle: parked until the thread says finish */
        roost__fiber_switch(self, &ic->thread);
    roost__fiber_switch_final(self, &ic->thread);
}

static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t stack_resident_pages(const struct roost_stack *s, size_t page)
{
    size_t pages = (size_t)((char *)s->hi - (char *)s->lo) / page;
    unsigned char vec[pages];
    assert_int_equal(mincore(s->lo, pages * page, vec), 0);
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n;
}

static void test_idle_fibers_stay_under_16k_resident(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct roost_stack_pool pool;
    struct idle_case ic;
    memset(&ic, 0, sizeof(ic));
    struct roost_stack *stacks = calloc(IDLE_FIBERS, sizeof(*stacks));
    struct idle_arg *args = calloc(IDLE_FIBERS, sizeof(*args));
    ic.fibers = calloc(IDLE_FIBERS, sizeof(*ic.fibers));
    assert_non_null(stacks);
    assert_non_null(args);
    assert_non_null(ic.fibers);
    /* Touch the bookkeeping now so that it is not counted as stack memory below. */
    memset(stacks, 0xff, IDLE_FIBERS * sizeof(*stacks));
    memset(args, 0xff, IDLE_FIBERS * sizeof(*args));
    memset(ic.fibers, 0xff, IDLE_FIBERS * sizeof(*ic.fibers));
    assert_int_equal(roost__stack_pool_init(&pool, 0, 0), 0);
    roost__fiber_init_thread(&ic.thread);

    size_t before = resident_bytes();
    for (unsigned i = 0; i < IDLE_FIBERS; i++)
        assert_int_equal(roost__stack_alloc(&pool, &stacks[i]), 0);
    for (unsigned i = 0; i < IDLE_FIBERS; i++) {
        args[i] = (struct idle_arg){.ic = &ic, .index = i};
        assert_int_equal(roost__fiber_init(&ic.fibers[i], &stacks[i], idle_entry, &args[i], "idle"),
                         0);
        roost__fiber_switch(&ic.thread, &ic.fibers[i]);
        if (IDLE_FINISH_AT_ONCE)
            roost__fiber_destroy(&ic.fibers[i]);
    }
    size_t after = resident_bytes();
    assert_int_equal(ic.entered, IDLE_FIBERS);

    /* What the stacks themselves hold, page by page: the top page or two only. */
    size_t stack_pages = 0, worst = 0;
    for (unsigned i = 0; i < IDLE_FIBERS; i++) {
        size_t n = stack_resident_pages(&stacks[i], page);
        stack_pages += n;
        worst = n > worst ? n : worst;
    }
    size_t growth = after > before ? after - before : 0;
    print_message("idle fibers: %zu bytes resident per fiber (process), %zu per stack "
                  "(mincore), worst stack %zu pages\n",
                  growth / IDLE_FIBERS, stack_pages * page / IDLE_FIBERS, worst);
    assert_true(worst * page <= IDLE_RSS_BUDGET);
    /* Whole-process growth: the stacks plus whatever a sanitizer keeps per touched page. */
    assert_true(growth < IDLE_FIBERS * IDLE_RSS_BUDGET);

    ic.stop = true;
    for (unsigned i = 0; i < IDLE_FIBERS; i++) {
        if (!IDLE_FINISH_AT_ONCE) {
            roost__fiber_switch(&ic.thread, &ic.fibers[i]);
            roost__fiber_destroy(&ic.fibers[i]);
        }
        roost__stack_release(&pool, &stacks[i]);
    }
    roost__stack_pool_destroy(&pool);
    free(ic.fibers);
    free(args);
    free(stacks);
}

/* ---- finished fibers give their stacks back ------------------------------------------ */

struct reuse_case {
    struct roost_fiber thread, fiber;
    unsigned ran;
};

static void reuse_entry(void *arg)
{
    struct reuse_case *rc = arg;
    volatile char scratch[512]; /* leave some frame behind on the stack */
    scratch[0] = (char)rc->ran;
    rc->ran += 1 + (unsigned)(scratch[0] & 0);
    roost__fiber_switch_final(&rc->fiber, &rc->thread);
}

static void test_finished_fiber_stack_is_reused_by_next_fiber(void **state)
{
    (void)state;
    struct roost_stack_pool pool;
    struct roost_stack stack;
    struct reuse_case rc;
    memset(&rc, 0, sizeof(rc));
    assert_int_equal(roost__stack_pool_init(&pool, 0, 1), 0);
    roost__fiber_init_thread(&rc.thread);
    void *map = NULL;
    for (unsigned i = 0; i < 1000; i++) {
        assert_int_equal(roost__stack_alloc(&pool, &stack), 0);
        if (map == NULL)
            map = stack.map;
        assert_ptr_equal(stack.map, map);
        assert_int_equal(roost__fiber_init(&rc.fiber, &stack, reuse_entry, &rc, "reuse"), 0);
        roost__fiber_switch(&rc.thread, &rc.fiber);
        roost__fiber_destroy(&rc.fiber);
        roost__stack_release(&pool, &stack);
    }
    assert_int_equal(rc.ran, 1000);
    roost__stack_pool_destroy(&pool);
}

/* ---- crashes, in a child process ----------------------------------------------------- */

struct child_result {
    int status;
    char err[16384]; /* the child's stderr */
};

/* Runs fn in a forked child with stderr on a pipe; collects stderr and the wait status. */
static void run_in_child(void (*fn)(void), struct child_result *out)
{
    int fds[2];
    memset(out, 0, sizeof(*out));
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        /* cmocka catches SIGSEGV to fail the running test; the child stands for a plain
         * process, where the handler roost displaces is the default one. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        fn();
        _exit(3); /* fn should not return */
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], out->err + len, sizeof(out->err) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(out->err) - 1)
            len = 0; /* keep reading so the child never blocks; the tail is what matters */
    }
    out->err[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static struct roost_fiber child_thread, child_fiber;

/* Unbounded recursion, a fresh volatile array per frame; the add after the call keeps it
 * from becoming a loop (tail call). */
__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
    volatile char frame[256];
    frame[depth % sizeof(frame)] = (char)depth;
    if (depth == UINT32_MAX) /* never: keeps compilers from calling this infinite recursion */
        return 0;
    return recurse(depth + 1) + frame[depth % sizeof(frame)];
}

static void overflow_entry(void *arg)
{
    (void)arg;
    recurse(0);
    roost__fiber_switch_final(&child_fiber, &child_thread);
}

static void start_child_fiber(void (*entry)(void *), const char *name)
{
    static struct roost_stack_pool pool;
    static struct roost_stack stack;
    if (roost__fiber_overflow_guard_install() != 0 || roost__fiber_thread_altstack() != 0)
        _exit(4);
    if (roost__stack_pool_init(&pool, 0, 0) != 0 || roost__stack_alloc(&pool, &stack) != 0)
        _exit(5);
    roost__fiber_init_thread(&child_thread);
    if (roost__fiber_init(&child_fiber, &stack, entry, NULL, name) != 0)
        _exit(6);
    roost__fiber_switch(&child_thread, &child_fiber);
}

static void child_overflow(void)
{
    start_child_fiber(overflow_entry, "overflow-test");
}

static void test_stack_overflow_names_task_and_aborts(void **state)
{
    (void)state;
    struct child_result r;
    run_in_child(child_overflow, &r);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
        print_message("child status %#x, stderr:\n%s\n", r.status, r.err);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGABRT);
    assert_non_null(strstr(r.err, "roost: stack overflow in task 'overflow-test' (stack 65536 "
                                  "bytes); raise the task stack size\n"));
}

static void wild_write_entry(void *arg)
{
    (void)arg;
    int *volatile wild = (int *)(uintptr_t)16;
    *wild = 1;
    roost__fiber_switch_final(&child_fiber, &child_thread);
}

static void child_wild_write(void)
{
    start_child_fiber(wild_write_entry, "wild-write");
}

static void test_other_segv_in_fiber_is_not_reported_as_overflow(void **state)
{
    (void)state;
    struct child_result r;
    run_in_child(child_wild_write, &r);
    assert_null(strstr(r.err, "stack overflow"));
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGSEGV);
}

static void returning_entry(void *arg)
{
    (void)arg;
}

static void child_returning_entry(void)
{
    start_child_fiber(returning_entry, "returner");
}

static void test_entry_that_returns_aborts_with_message(void **state)
{
    (void)state;
    struct child_result r;
    run_in_child(child_returning_entry, &r);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGABRT);
    assert_non_null(strstr(r.err, "roost: fiber 'returner' returned from its entry function"));
}

/* An optional argument runs only the tests matching it, e.g. under valgrind:
 * valgrind ./test_fiber 'test_ping_pong*' */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong_alternates_and_keeps_callee_saved_registers),
        cmocka_unit_test(test_mxcsr_and_x87_control_word_are_per_fiber),
        cmocka_unit_test(test_entry_gets_arg_and_two_fibers_interleave_via_thread),
        cmocka_unit_test(test_fiber_switches_directly_to_another_fiber),
        cmocka_unit_test(test_entry_stack_is_16_byte_aligned),
        cmocka_unit_test(test_stack_pool_reuses_cached_stack),
        cmocka_unit_test(test_idle_fibers_stay_under_16k_resident),
        cmocka_unit_test(test_finished_fiber_stack_is_reused_by_next_fiber),
        cmocka_unit_test(test_stack_overflow_names_task_and_aborts),
        cmocka_unit_test(test_other_segv_in_fiber_is_not_reported_as_overflow),
        cmocka_unit_test(test_entry_that_returns_aborts_with_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
