/*
 * echo: a TCP echo server on roost's public API.
 *
 *   example_echo [PORT] [HOST]          (default 7777 on 127.0.0.1; 0 picks a free port)
 *
 * Mode switches come from the environment (ROOST_REACTORS=2, ROOST_RECV=oneshot,
 * ROOST_RUN_ON=pool, ...). Ctrl-C (or SIGTERM) shuts it down gracefully: stop accepting,
 * let the runtime wind connections down, exit 0.
 *
 *   $ example_echo 7777 &  printf 'hello\n' | nc -q1 127.0.0.1 7777
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost.h>

/* One task per connection: receive, send the same bytes back, give the buffer back. */
static int echo(roost_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        struct roost_buf b;
        int n = roost_conn_recv(c, &b);
        if (n <= 0)
            return 0; /* EOF, or the peer went away: the runtime closes the connection */
        int rc = roost_conn_send(c, b.data, b.len);
        roost_conn_release(c, &b);
        if (rc < 0)
            return 0;
    }
}

int main(int argc, char **argv)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    const char *bad = NULL;
    if (roost_config_from_env(&cfg, &bad) < 0) {
        fprintf(stderr, "echo: bad value in %s\n", bad);
        return 2;
    }
    struct roost_listen_opts opts = {.port = 7777};
    if (argc > 1)
        opts.port = (uint16_t)atoi(argv[1]);
    if (argc > 2)
        opts.host = argv[2];

    /* Block the signals before any thread starts, so only sigwait below sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    roost_runtime *rt;
    int rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "echo: runtime: %s\n", strerror(-rc));
        return 1;
    }
    roost_listener *l;
    rc = roost_listen(rt, &opts, echo, NULL, &l);
    if (rc < 0) {
        fprintf(stderr, "echo: listen: %s\n", strerror(-rc));
        roost_runtime_destroy(rt);
        return 1;
    }
    printf("echo: listening on %s:%u with %u reactor(s), recv=%s\n",
           opts.host ? opts.host : "127.0.0.1", roost_listener_port(l),
           roost_runtime_reactor_count(rt), roost_recv_name(roost_runtime_config(rt)->recv));
    fflush(stdout);

    int sig;
    sigwait(&sigs, &sig);
    printf("echo: %s, shutting down (%u connection(s) open)\n", strsignal(sig),
           roost_listener_conn_count(l));
    roost_listener_stop(l);
    roost_runtime_stop(rt);
    roost_listener_free(l);
    roost_runtime_destroy(rt);
    return 0;
}
