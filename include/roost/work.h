/* roost — work items: what contexts run. */
#ifndef ROOST_WORK_H
#define ROOST_WORK_H

#include <roost/common.h>

ROOST_BEGIN_DECLS

/* Posted work: returns >= 0 on success, -errno to report a failure (counted, hooked). */
typedef int (*roost_work_fn)(void *arg);

/*
 * An intrusive work item, for posting without allocation. The caller owns it; it must
 * stay valid until fn has started running, and fn may free it. Fields are the runtime's
 * while posted (`_next` is a link the runtime reads and writes atomically; never touch it).
 */
struct roost_work {
    struct roost_work *_next;
    roost_work_fn fn;
    void *arg;
};

ROOST_END_DECLS

#endif
