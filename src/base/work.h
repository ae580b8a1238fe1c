/* Internal: a work item's link, as the atomic it is. */
#ifndef ROOST_BASE_WORK_H
#define ROOST_BASE_WORK_H

#include <stdatomic.h>

#include <roost/work.h>

/*
 * The public struct declares its link as a plain pointer so that C++ can include the
 * header; the runtime reads and writes it as an atomic pointer of the same size and
 * alignment (the inbox's producers and consumer race on it).
 */
_Static_assert(sizeof(struct roost_work *_Atomic) == sizeof(struct roost_work *) &&
                   _Alignof(struct roost_work * _Atomic) == _Alignof(struct roost_work *),
               "an atomic pointer must be laid out as a plain one");

static inline struct roost_work *_Atomic *roost__work_link(struct roost_work *w)
{
    return (struct roost_work * _Atomic *)&w->_next;
}

#endif
