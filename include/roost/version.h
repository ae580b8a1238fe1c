/* roost — version of the headers, and of the library linked (roost_version). */
#ifndef ROOST_VERSION_H
#define ROOST_VERSION_H

#include <roost/common.h>

/*
 * The one place the version is written: CMakeLists.txt reads these three lines for the
 * project's version, the shared library's names and roost.pc. See docs/packaging.md.
 */
#define ROOST_VERSION_MAJOR 0
#define ROOST_VERSION_MINOR 1
#define ROOST_VERSION_PATCH 0

#define ROOST_VERSION_STR_(x) #x
#define ROOST_VERSION_STR(x) ROOST_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH" of these headers. */
#define ROOST_VERSION_STRING                                                                       \
    ROOST_VERSION_STR(ROOST_VERSION_MAJOR)                                                         \
    "." ROOST_VERSION_STR(ROOST_VERSION_MINOR) "." ROOST_VERSION_STR(ROOST_VERSION_PATCH)
/* One number that grows with the version, for #if: 0x00MMmmpp. */
#define ROOST_VERSION_HEX                                                                          \
    ((ROOST_VERSION_MAJOR << 16) | (ROOST_VERSION_MINOR << 8) | ROOST_VERSION_PATCH)

ROOST_BEGIN_DECLS

/*
 * The version of the library linked, "MAJOR.MINOR.PATCH" (static storage). It can differ
 * from ROOST_VERSION_STRING when a program runs against a newer shared library.
 */
const char *roost_version(void);

ROOST_END_DECLS

#endif
