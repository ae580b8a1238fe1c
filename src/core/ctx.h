/* Internal: what every scheduling context implements. */
#ifndef ROOST_CORE_CTX_H
#define ROOST_CORE_CTX_H

#include <roost/ctx.h>

struct roost_ctx_ops {
    /* Queue work to run later; never runs it inline. 0, -ESHUTDOWN, ... */
    int (*post)(roost_ctx *ctx, struct roost_work *work);
    /* Is the calling thread one of ctx's threads? */
    bool (*on_thread)(const roost_ctx *ctx);
    /* Has ctx stopped taking work? (NULL: never stops.) */
    bool (*closed)(const roost_ctx *ctx);
    /* Tasks spawned on ctx: +1 at spawn, -1 when one finishes (NULL: not counted). */
    void (*task_delta)(roost_ctx *ctx, int delta);
};

/*
 * Hands the items of roost_ctx_post that this consumer thread ran back to their producers'
 * caches. Every context that runs posted work calls it after each batch it ran.
 */
void roost__work_returns_flush(void);

struct roost_ctx {
    const struct roost_ctx_ops *ops;
    bool exclusive;
};

#endif
