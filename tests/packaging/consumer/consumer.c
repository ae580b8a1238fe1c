/* A program outside the roost tree: builds against an installed (or embedded) roost. */
#include <stdio.h>
#include <string.h>

#include <roost.h>

int main(void)
{
    /* The headers and the library linked must agree on the version. */
    if (strcmp(roost_version(), ROOST_VERSION_STRING) != 0) {
        fprintf(stderr, "headers %s, library %s\n", ROOST_VERSION_STRING, roost_version());
        return 1;
    }
    struct roost_config cfg;
    roost_config_init(&cfg);
    if (roost_config_set(&cfg, "reactors", "1") < 0)
        return 1;
    roost_runtime *rt;
    if (roost_runtime_start(&cfg, &rt) < 0)
        return 1;
    roost_runtime_destroy(rt);
    printf("consumer: roost %s\n", roost_version());
    return 0;
}
