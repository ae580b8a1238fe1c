/* The library's own version, compiled in: what a program is running against. */
#include <roost/version.h>

const char *roost_version(void)
{
    return ROOST_VERSION_STRING;
}
