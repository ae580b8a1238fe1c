// The public headers from C++: <roost.h> compiles as C++17 (extern "C", no _Atomic members),
// its structs can be declared, and a program linked against libroost runs a task on a
// reactor and comes back. Built and run with g++ and clang++ by check_cxx.cmake.
#include <roost.h>

#include <cerrno>
#include <cstdio>

namespace
{

struct state {
    roost_waiter w;
    roost_timer t;
    roost_work work;
};

int on_reactor(void *)
{
    return roost_reactor_current() ? 7 : -EPERM;
}

int on_pool(void *)
{
    return 5;
}

int task_body(void *)
{
    int rc = roost_offload(on_pool, nullptr);
    return rc < 0 ? rc : rc * 2;
}

} // namespace

int main()
{
    roost_config cfg;
    roost_config_init(&cfg);
    cfg.reactors = 1;
    cfg.pool_threads = 1;
    roost_runtime *rt = nullptr;
    int rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        std::fprintf(stderr, "roost_runtime_start: %d\n", rc);
        return 1;
    }
    state s;
    roost_waiter_init(&s.w);
    roost_timer_init(&s.t);
    int sent = roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, 0)), on_reactor, nullptr);
    roost_runtime_destroy(rt);
    int ran = roost_run(task_body, nullptr);
    bool ok = sent == 7 && ran == 10;
    std::printf("send %d (want 7), run+offload %d (want 10): %s\n", sent, ran,
                ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
