/* Fibers: stack pool, fiber set-up, sanitizer/valgrind annotations and the guard-page
 * overflow report. The register switch itself is in fiber_switch_x86_64.S. */
#include "task/fiber.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) || defined(__ILP32__)
#error "roost: fibers support x86-64 only (aarch64 not yet)"
#endif

/* Which sanitizers this translation unit is built for. The build defines ROOST_SANITIZE_*;
 * the compiler's own macros cover a file compiled by hand with -fsanitize. */
#if defined(ROOST_SANITIZE_ADDRESS) && ROOST_SANITIZE_ADDRESS
#define ROOST_FIBER_ASAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define ROOST_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROOST_FIBER_ASAN 1
#endif
#endif

#if defined(ROOST_SANITIZE_THREAD) && ROOST_SANITIZE_THREAD
#define ROOST_FIBER_TSAN 1
#elif defined(__SANITIZE_THREAD__)
#define ROOST_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ROOST_FIBER_TSAN 1
#endif
#endif

#if ROOST_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if ROOST_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* valgrind.h only emits a magic no-op instruction sequence, so it is safe to use whenever
 * the header exists; without it the stacks are simply not registered. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ROOST_FIBER_VALGRIND 1
#endif
#endif

/* Largest stack a pool accepts: far beyond any sane task, small enough that the size
 * arithmetic below cannot overflow. */
#define ROOST_STACK_MAX ((size_t)1 << 30)

/* Alternate signal stack per thread. Mapped MAP_NORESERVE, so only what a signal handler
 * touches becomes resident. An existing alternate stack at least ROOST_ALTSTACK_MIN large
 * (ASan installs one per thread) is kept. */
#define ROOST_ALTSTACK_SIZE ((size_t)64 * 1024)
#define ROOST_ALTSTACK_MIN ((size_t)16 * 1024)

/* Smallest usable stack roost__fiber_init accepts: the initial frame plus a little room. */
#define ROOST_FIBER_STACK_MIN ((size_t)1024)

/* In fiber_switch_x86_64.S. */
void roost__fiber_switch_raw(void **save_sp, void *new_sp) __attribute__((visibility("hidden")));
void roost__fiber_trampoline(void) __attribute__((visibility("hidden")));
/* Called (only) by roost__fiber_trampoline. */
__attribute__((visibility("hidden"), noreturn, used)) void roost__fiber_run(struct roost_fiber *f);

/* Per-thread state. initial-exec: the signal handler reads it, and initial-exec TLS is a
 * plain %fs-relative load, never a lazy allocation (__tls_get_addr), so it is
 * async-signal-safe even in libroost.so. */
struct roost_fiber_tls {
    struct roost_fiber *current;
    void *altstack_map; /* our sigaltstack mapping, NULL if we did not map one */
    size_t altstack_map_size;
};
static _Thread_local struct roost_fiber_tls fiber_tls_storage
    __attribute__((tls_model("initial-exec")));

/* The only way to reach the thread-local state. Not inlined, so that a caller that resumes
 * on another thread after a switch computes the address afresh instead of reusing the old
 * thread's; never keep the returned pointer across a switch. */
__attribute__((noinline)) static struct roost_fiber_tls *fiber_tls(void)
{
    return &fiber_tls_storage;
}

__attribute__((noinline)) struct roost_fiber *roost__fiber_current(void)
{
    return __atomic_load_n(&fiber_tls()->current, __ATOMIC_RELAXED);
}

/* Atomic only so that the signal handler on this thread never sees a torn pointer. */
static void fiber_set_current(struct roost_fiber *f)
{
    __atomic_store_n(&fiber_tls()->current, f, __ATOMIC_RELAXED);
}

/* ---- stack pool ---------------------------------------------------------------------- */

int roost__stack_pool_init(struct roost_stack_pool *p, size_t stack_size, unsigned max_cached)
{
    memset(p, 0, sizeof(*p));
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    if (stack_size == 0)
        stack_size = ROOST_STACK_DEFAULT;
    if (stack_size > ROOST_STACK_MAX)
        return -EINVAL;
    p->page_size = (size_t)page;
    p->stack_size = (stack_size + p->page_size - 1) / p->page_size * p->page_size;
    if (max_cached > 0) {
        p->cache = calloc(max_cached, sizeof(*p->cache));
        if (p->cache == NULL)
            return -ENOMEM;
    }
    p->max_cached = max_cached;
    return 0;
}

int roost__stack_alloc(struct roost_stack_pool *p, struct roost_stack *out)
{
    if (p->cached > 0) {
        *out = p->cache[--p->cached];
        return 0;
    }

    /* MAP_NORESERVE and no memset: untouched pages cost no RAM and no commit charge, which
     * is what keeps an idle task at the page or two it actually used. */
    size_t map_size = p->stack_size + p->page_size;
    void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    int err;
    if (mprotect(map, p->page_size, PROT_NONE) != 0) {
        err = -errno;
        goto unmap;
    }

    out->map = map;
    out->map_size = map_size;
    out->lo = (char *)map + p->page_size;
    out->hi = (char *)map + map_size;
    out->valgrind_id = 0;
#if ROOST_FIBER_VALGRIND
    /* Otherwise valgrind takes a switch for a huge stack frame and may warn or misreport. */
    out->valgrind_id = VALGRIND_STACK_REGISTER(out->lo, out->hi);
#endif
    return 0;

unmap:
    munmap(map, map_size);
    return err;
}

static void stack_unmap(struct roost_stack *s)
{
#if ROOST_FIBER_VALGRIND
    VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
    munmap(s->map, s->map_size);
}

void roost__stack_release(struct roost_stack_pool *p, struct roost_stack *s)
{
    if (s->map == NULL)
        return;
#if ROOST_FIBER_ASAN
    /* A finished fiber leaves its frames' redzones poisoned in the shadow: clear them so that
     * neither the next fiber on this stack nor the next mapping at these addresses trips on
     * them. Done here rather than in roost__fiber_init so that a fresh stack's shadow is not
     * written (and made resident) for nothing. */
    __asan_unpoison_memory_region(s->lo, (size_t)((char *)s->hi - (char *)s->lo));
#endif
    /* No madvise(MADV_DONTNEED) on the way into the cache: a syscall per task exit costs
     * more than the few pages a reused stack keeps, and the cache is bounded. */
    if (p->cached < p->max_cached && s->map_size == p->stack_size + p->page_size)
        p->cache[p->cached++] = *s;
    else
        stack_unmap(s);
    memset(s, 0, sizeof(*s));
}

void roost__stack_pool_destroy(struct roost_stack_pool *p)
{
    while (p->cached > 0)
        stack_unmap(&p->cache[--p->cached]);
    free(p->cache);
    memset(p, 0, sizeof(*p));
}

/* ---- fibers -------------------------------------------------------------------------- */

/* Runs first on every fiber that is switched to: completes the ASan switch protocol and, on
 * the first landing in a fiber, learns the stack bounds of the fiber we came from (that is
 * how a thread fiber's native stack bounds become known). */
static inline void fiber_landed(struct roost_fiber *self)
{
#if ROOST_FIBER_ASAN
    struct roost_fiber *prev = self->asan_switched_from;
    if (prev != NULL)
        __sanitizer_finish_switch_fiber(self->asan_fake_stack, &prev->asan_stack_bottom,
                                        &prev->asan_stack_size);
    else
        __sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
#else
    (void)self;
#endif
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Async-signal-safe string building for the messages below (no stdio in a signal handler). */
static size_t append_str(char *buf, size_t pos, size_t cap, const char *s)
{
    while (*s != '\0' && pos < cap)
        buf[pos++] = *s++;
    return pos;
}

static size_t append_uint(char *buf, size_t pos, size_t cap, size_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0 && pos < cap)
        buf[pos++] = digits[--n];
    return pos;
}

static size_t append_name(char *buf, size_t pos, size_t cap, const struct roost_fiber *f)
{
    /* Bounded so a bogus name cannot run the message off the end of the buffer. */
    const char *name = f->name != NULL ? f->name : "(unnamed)";
    for (size_t i = 0; name[i] != '\0' && i < 128 && pos < cap; i++)
        buf[pos++] = name[i];
    return pos;
}

__attribute__((noreturn)) static void die_now(void)
{
    /* A SIGABRT handler the application installed must not turn this into a return. */
    signal(SIGABRT, SIG_DFL);
    abort();
}

void roost__fiber_run(struct roost_fiber *f)
{
    fiber_landed(f);
    f->entry(f->arg);

    char msg[256];
    size_t n = append_str(msg, 0, sizeof(msg), "roost: fiber '");
    n = append_name(msg, n, sizeof(msg), f);
    n = append_str(msg, n, sizeof(msg),
                   "' returned from its entry function (it must end with "
                   "roost__fiber_switch_final)\n");
    write_all(STDERR_FILENO, msg, n);
    die_now();
}

int roost__fiber_init(struct roost_fiber *f, struct roost_stack *stack, void (*entry)(void *arg),
                      void *arg, const char *name)
{
    if (entry == NULL || stack->lo == NULL ||
        (size_t)((char *)stack->hi - (char *)stack->lo) < ROOST_FIBER_STACK_MIN)
        return -EINVAL;
    memset(f, 0, sizeof(*f));
    f->stack = *stack;
    f->name = name;
    f->entry = entry;
    f->arg = arg;

#if ROOST_FIBER_ASAN
    f->asan_stack_bottom = stack->lo;
    f->asan_stack_size = (size_t)((char *)stack->hi - (char *)stack->lo);
#endif
#if ROOST_FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
    if (name != NULL)
        __tsan_set_fiber_name(f->tsan_fiber, name);
#endif

    /* The frame roost__fiber_switch_raw pops (layout in the .S file). After its ret lands in
     * the trampoline, rsp = top, a multiple of 16, so the trampoline's call gives
     * roost__fiber_run a correctly aligned stack. The new fiber inherits the creator's
     * rounding mode and exception masks, as a new thread would. */
    uintptr_t top = ((uintptr_t)stack->hi & ~(uintptr_t)15) - 16;
    uint64_t *frame = (uint64_t *)(top - 8 * sizeof(uint64_t));
    uint32_t mxcsr = __builtin_ia32_stmxcsr();
    uint16_t fpucw;
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    frame[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
    frame[1] = 0;            /* r15 */
    frame[2] = 0;            /* r14 */
    frame[3] = 0;            /* r13 */
    frame[4] = (uintptr_t)f; /* r12: the trampoline's argument */
    frame[5] = 0;            /* rbx */
    frame[6] = 0;            /* rbp: ends frame-pointer backtraces */
    frame[7] = (uintptr_t)&roost__fiber_trampoline;
    f->sp = frame;
    return 0;
}

void roost__fiber_init_thread(struct roost_fiber *f)
{
    memset(f, 0, sizeof(*f));
    f->is_thread = true;
    f->name = "(thread)";
#if ROOST_FIBER_TSAN
    f->tsan_fiber = __tsan_get_current_fiber();
#endif
    /* ASan bounds stay unknown until the first switch away from this thread; the fiber that
     * lands first records them (fiber_landed), before anyone can switch back here. */
    fiber_set_current(f);
}

void roost__fiber_switch(struct roost_fiber *from, struct roost_fiber *to)
{
#if ROOST_FIBER_ASAN
    to->asan_switched_from = from;
    __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->asan_stack_bottom,
                                   to->asan_stack_size);
#endif
    fiber_set_current(to);
#if ROOST_FIBER_TSAN
    /* Flags 0: the switch synchronizes the two fibers (happens-before), as it really does. */
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    roost__fiber_switch_raw(&from->sp, to->sp);
    /* Resumed, perhaps on another thread: from is us again. */
    fiber_landed(from);
}

void roost__fiber_switch_final(struct roost_fiber *from, struct roost_fiber *to)
{
#if ROOST_FIBER_ASAN
    /* NULL fake-stack slot: ASan frees this fiber's fake stack for good. No switched_from:
     * the landing side must not write into a fiber that may be freed right after. */
    to->asan_switched_from = NULL;
    __sanitizer_start_switch_fiber(NULL, to->asan_stack_bottom, to->asan_stack_size);
#endif
    fiber_set_current(to);
#if ROOST_FIBER_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    roost__fiber_switch_raw(&from->sp, to->sp);
    /* Nobody switches back into a finished fiber. */
    die_now();
}

void roost__fiber_destroy(struct roost_fiber *f)
{
#if ROOST_FIBER_TSAN
    if (!f->is_thread && f->tsan_fiber != NULL)
        __tsan_destroy_fiber(f->tsan_fiber);
#endif
    f->tsan_fiber = NULL;
}

/* ---- guard-page overflow report ------------------------------------------------------ */

static struct sigaction overflow_prev_segv;
static struct sigaction overflow_prev_bus;
static pthread_once_t overflow_once = PTHREAD_ONCE_INIT;
static int overflow_install_result;

static bool fault_in_guard(const struct roost_fiber *f, const void *addr)
{
    if (f == NULL || f->is_thread || f->stack.map == NULL)
        return false;
    uintptr_t a = (uintptr_t)addr;
    return a >= (uintptr_t)f->stack.map && a < (uintptr_t)f->stack.lo;
}

static void overflow_handler(int sig, siginfo_t *info, void *ucontext)
{
    (void)ucontext;
    struct roost_fiber *f = roost__fiber_current();
    if (fault_in_guard(f, info->si_addr)) {
        char msg[384];
        size_t n = append_str(msg, 0, sizeof(msg), "roost: stack overflow in task '");
        n = append_name(msg, n, sizeof(msg), f);
        n = append_str(msg, n, sizeof(msg), "' (stack ");
        n = append_uint(msg, n, sizeof(msg), (size_t)((char *)f->stack.hi - (char *)f->stack.lo));
        n = append_str(msg, n, sizeof(msg), " bytes); raise the task stack size\n");
        write_all(STDERR_FILENO, msg, n);
        die_now();
    }

    /* Not ours: put back whatever handled this signal before us (the default, or a
     * sanitizer's) and return, so the faulting instruction runs again and faults for real. */
    sigaction(sig, sig == SIGSEGV ? &overflow_prev_segv : &overflow_prev_bus, NULL);
    if (info->si_code <= 0) /* sent by kill() or sigqueue(): nothing re-faults, so re-send */
        raise(sig);
}

static void overflow_install_once(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = overflow_handler;
    /* SA_ONSTACK: after an overflow the fiber's stack has no room left for the handler. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGSEGV);
    sigaddset(&sa.sa_mask, SIGBUS);

    if (sigaction(SIGSEGV, &sa, &overflow_prev_segv) != 0) {
        overflow_install_result = -errno;
        return;
    }
    if (sigaction(SIGBUS, &sa, &overflow_prev_bus) != 0) {
        overflow_install_result = -errno;
        goto restore_segv;
    }
    return;

restore_segv:
    sigaction(SIGSEGV, &overflow_prev_segv, NULL);
}

int roost__fiber_overflow_guard_install(void)
{
    int err = pthread_once(&overflow_once, overflow_install_once);
    if (err != 0)
        return -err;
    return overflow_install_result;
}

int roost__fiber_thread_altstack(void)
{
    struct roost_fiber_tls *tls = fiber_tls();
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0)
        return -errno;
    if (!(cur.ss_flags & SS_DISABLE) && cur.ss_size >= ROOST_ALTSTACK_MIN)
        return 0; /* ours from an earlier call, or one big enough (ASan's) */

    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    size_t size = ROOST_ALTSTACK_SIZE;
    long sigstksz = sysconf(_SC_SIGSTKSZ); /* may exceed the old constant on AVX-512 CPUs */
    if (sigstksz > 0 && (size_t)sigstksz * 4 > size)
        size = ((size_t)sigstksz * 4 + (size_t)page - 1) / (size_t)page * (size_t)page;

    /* A guard page below it too: a handler that overflows the alternate stack then dies on
     * the spot instead of scribbling over a neighbouring mapping. */
    size_t map_size = size + (size_t)page;
    void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    int err;
    if (mprotect(map, (size_t)page, PROT_NONE) != 0) {
        err = -errno;
        goto unmap;
    }
    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_sp = (char *)map + page;
    ss.ss_size = size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        err = -errno;
        goto unmap;
    }
    /* Ours from an earlier call, since replaced by someone else's too small one: unused. */
    if (tls->altstack_map != NULL)
        munmap(tls->altstack_map, tls->altstack_map_size);
    tls->altstack_map = map;
    tls->altstack_map_size = map_size;
    return 0;

unmap:
    munmap(map, map_size);
    return err;
}

void roost__fiber_thread_altstack_release(void)
{
    struct roost_fiber_tls *tls = fiber_tls();
    if (tls->altstack_map == NULL)
        return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0)
        return;
    if (!(cur.ss_flags & SS_DISABLE) && (char *)cur.ss_sp > (char *)tls->altstack_map &&
        (char *)cur.ss_sp < (char *)tls->altstack_map + tls->altstack_map_size) {
        stack_t off;
        memset(&off, 0, sizeof(off));
        off.ss_flags = SS_DISABLE;
        if (sigaltstack(&off, NULL) != 0)
            return; /* running on it (EPERM): leave it mapped rather than pull it away */
    }
    munmap(tls->altstack_map, tls->altstack_map_size);
    tls->altstack_map = NULL;
    tls->altstack_map_size = 0;
}
