/* Shared by the libFuzzer targets: a property check that survives NDEBUG, and exact-size
 * copies so a read past the input is an ASan error rather than a silent pass. */
#ifndef ROOST_FUZZ_H
#define ROOST_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static inline char *fuzz_copy(const uint8_t *s, size_t n)
{
    char *b = malloc(n ? n : 1);
    CHECK(b);
    if (n)
        memcpy(b, s, n);
    return b;
}

#endif
