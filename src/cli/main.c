/* `roost`: the command line. */
#include <stdio.h>
#include <string.h>

#include <roost/config.h>
#include <roost/version.h>

#include "cli/commands.h"
#include "cli/options.h"

static const struct {
    const char *name;
    int (*run)(const struct roost_config *cfg, int argc, char **argv);
    void (*flags_help)(void);
    const char *help;
} commands[] = {
    {"serve", roost_cmd_serve, roost_cmd_serve_help,
     "the demo HTTP server: /plaintext /json /delay/:ms /offload /metrics"},
    {"bench", roost_cmd_bench, roost_cmd_bench_help,
     "the decomposition benchmark: starts roost serve, drives it, reports and gates"},
    {"load", roost_cmd_load, roost_cmd_load_help,
     "HTTP/1.1 load generator: requests/s, latency percentiles, errors by kind"},
    {"demo", roost_cmd_demo, NULL,
     "show continuation affinity: tasks sleep, offload, await threads"},
    {"pump", roost_cmd_pump, roost_cmd_pump_help,
     "consume a Redis stream with Proactor or Reactor performers"},
    {"produce", roost_cmd_produce, roost_cmd_produce_help, "publish N messages to a Redis stream"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: roost COMMAND [flags] [switches]   (roost COMMAND --help for its flags)\n"
                 "       roost --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        /* The library's version: the command is linked statically, so it is also the headers'. */
        printf("roost %s\n", roost_version());
        return 0;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        roost_cli_config_help();
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        for (int j = 2; j < argc; j++) {
            if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
                printf("usage: roost %s [flags] [switches]\n%s\n\n", commands[i].name,
                       commands[i].help);
                if (commands[i].flags_help)
                    commands[i].flags_help();
                roost_cli_config_help();
                return 0;
            }
        }
        struct roost_config cfg;
        roost_config_init(&cfg);
        int n = roost_cli_config(&cfg, argc - 1, argv + 1);
        if (n < 0)
            return 2;
        return commands[i].run(&cfg, n, argv + 1);
    }
    fprintf(stderr, "roost: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
