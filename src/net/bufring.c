/*
 * A reactor's provided buffer ring: buf_count buffers of buf_size bytes that the kernel
 * picks from for multishot receives (zero copy into the buffer, handed to the task as
 * a borrowed roost_buf). One ring, buffer group 0, per reactor; only the reactor thread
 * adds to it.
 *
 * The kernel takes buffers in ring order, so a ring holding every free buffer cycles
 * through all of them: with 1024 buffers each receive lands in a page and a cache line
 * untouched for a thousand receives, and the kernel's copy into it misses (docs/net.md
 * has the figures). So the ring holds only a window of the free buffers; the others
 * wait in a stack (spare), and each buffer the kernel takes is replaced by the one given
 * back last. Receives then cycle through about the window plus what is in flight.
 *
 * The window starts small and widens at the end of a tick in which receives found the
 * ring empty while spare buffers were held back: a burst of ready connections needed more
 * than it holds. It doubles until it covers them too, and they take the ENOBUFS round trip
 * (parked, re-armed in the next enter). It halves after an epoch of ticks in which no tick
 * took more than a quarter of it, so a burst (512 clients connecting at once) does not
 * leave it wide for good, and a load that needs it does not see it shrink under its feet.
 *
 * liburing 2.3 has io_uring_register_buf_ring and the ring-add helpers but not
 * io_uring_setup_buf_ring / io_uring_free_buf_ring (2.4): those are written here over
 * IORING_REGISTER_PBUF_RING, and the library's own are used when the header has them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "net/net.h"

#if defined(IO_URING_VERSION_MAJOR) && defined(IO_URING_VERSION_MINOR)
#if IO_URING_VERSION_MAJOR > 2 || (IO_URING_VERSION_MAJOR == 2 && IO_URING_VERSION_MINOR >= 4)
#define NET_HAVE_SETUP_BUF_RING 1
#endif
#endif

#define NET_BGID 0

/* The ring's first and narrowest window, in buffers (at most buf_count). */
#define NET_RING_WINDOW_START 32u
/* Ticks over which the most buffers one tick took decides whether the window halves. */
#define NET_RING_EPOCH_TICKS 1024u

#ifndef NET_HAVE_SETUP_BUF_RING
/* liburing 2.4's io_uring_setup_buf_ring: map the ring, register it, return it. */
static struct io_uring_buf_ring *setup_buf_ring(struct io_uring *ring, unsigned nentries, int bgid,
                                                int *err)
{
    size_t len = (size_t)nentries * sizeof(struct io_uring_buf);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (p == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *br = p;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)p;
    reg.ring_entries = nentries;
    reg.bgid = (uint16_t)bgid;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        munmap(p, len);
        *err = rc;
        return NULL;
    }
    return br;
}
#else
static struct io_uring_buf_ring *setup_buf_ring(struct io_uring *ring, unsigned nentries, int bgid,
                                                int *err)
{
    return io_uring_setup_buf_ring(ring, nentries, bgid, 0, err);
}
#endif

int net_bufring_init(struct roost_net *net, unsigned count, unsigned size)
{
    struct net_bufring *b = &net->ring;
    int rc = 0;
    memset(b, 0, sizeof(*b));
    b->count = count;
    b->size = size;
    b->mask = (unsigned)io_uring_buf_ring_mask(count);
    b->bufs = calloc(count, sizeof(*b->bufs));
    b->spare = calloc(count, sizeof(*b->spare));
    if (!b->bufs || !b->spare) {
        rc = -ENOMEM;
        goto free_bufs;
    }
    b->mem_bytes = (size_t)count * size;
    b->mem = mmap(NULL, b->mem_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (b->mem == MAP_FAILED) {
        rc = -errno;
        b->mem = NULL;
        goto free_bufs;
    }
    b->br_bytes = (size_t)count * sizeof(struct io_uring_buf);
    b->br = setup_buf_ring(&net->r->ring, count, NET_BGID, &rc);
    if (!b->br)
        goto unmap_mem;
    b->window = count < NET_RING_WINDOW_START ? count : NET_RING_WINDOW_START;
    for (unsigned i = 0; i < count; i++) {
        b->bufs[i].next = -1;
        b->bufs[i].net = net;
    }
    /* Buffers 0..window-1 in the ring, the rest spare with the lowest ids on top. */
    for (unsigned i = count; i-- > b->window;)
        b->spare[b->nspare++] = (uint16_t)i;
    for (unsigned i = 0; i < b->window; i++)
        io_uring_buf_ring_add(b->br, net_buf_data(net, i), size, (unsigned short)i, (int)b->mask,
                              (int)i);
    io_uring_buf_ring_advance(b->br, (int)b->window);
    b->avail = b->window;
    /*
     * One connection may hold at most a sixteenth of the ring (2..64 buffers) queued and
     * not yet taken by its task: a peer that keeps sending to a task that sleeps or waits
     * in a send cannot drain the ring and park every other connection of the reactor.
     */
    b->conn_cap = count / 16;
    if (b->conn_cap < 2)
        b->conn_cap = 2;
    if (b->conn_cap > 64)
        b->conn_cap = 64;
    return 0;

unmap_mem:
    munmap(b->mem, b->mem_bytes);
    b->mem = NULL;
free_bufs:
    free(b->spare);
    free(b->bufs);
    b->spare = NULL;
    b->bufs = NULL;
    return rc;
}

void net_bufring_destroy(struct roost_net *net)
{
    struct net_bufring *b = &net->ring;
    /*
     * Called after the ring was torn down with its thread: the registration went with
     * it (the kernel pinned the pages while it held them), so unmapping is all that is left.
     */
    if (b->br)
        munmap(b->br, b->br_bytes);
    if (b->mem)
        munmap(b->mem, b->mem_bytes);
    free(b->spare);
    free(b->bufs);
    memset(b, 0, sizeof(*b));
}

static void ring_add(struct net_bufring *b, unsigned bid)
{
    io_uring_buf_ring_add(b->br, b->mem + (size_t)bid * b->size, b->size, (unsigned short)bid,
                          (int)b->mask, 0);
    io_uring_buf_ring_advance(b->br, 1);
    b->avail++;
}

/* Moves spare buffers into the ring, the last given back first, up to the window. */
static void ring_top_up(struct net_bufring *b)
{
    while (b->avail < b->window && b->nspare > 0)
        ring_add(b, b->spare[--b->nspare]);
}

void net_bufring_taken(struct roost_net *net)
{
    struct net_bufring *b = &net->ring;
    b->avail--;
    b->tick_taken++;
    ring_top_up(b);
}

void net_bufring_ran_dry(struct roost_net *net)
{
    struct net_bufring *b = &net->ring;
    if (b->nspare > 0)
        b->tick_dry++; /* else truly dry: every buffer is out, flow control parks it */
}

void net_bufring_tick(struct roost_net *net)
{
    struct net_bufring *b = &net->ring;
    if (b->tick_dry > 0) {
        /*
         * The receives that found the ring empty this tick each wanted a buffer more than
         * the window held: widen it to cover them (a power of two, as the ring is), before
         * the enter that re-arms them.
         */
        unsigned want = b->window + b->tick_dry;
        while (b->window < want && b->window < b->count) {
            b->window *= 2;
            ROOST_STAT_INC(net, ring_window_grows);
        }
        b->tick_dry = 0;
        ring_top_up(b);
    }
    if (b->tick_taken > b->epoch_peak)
        b->epoch_peak = b->tick_taken;
    b->tick_taken = 0;
    if (++b->epoch_ticks < NET_RING_EPOCH_TICKS)
        return;
    if (b->window > NET_RING_WINDOW_START && b->epoch_peak * 4 <= b->window) {
        /* The ring may hold more than the window now: buffers given back go spare until not. */
        b->window /= 2;
        ROOST_STAT_INC(net, ring_window_shrinks);
    }
    b->epoch_peak = 0;
    b->epoch_ticks = 0;
}

void net_bufring_put(struct roost_net *net, unsigned bid)
{
    struct net_bufring *b = &net->ring;
    if (b->avail < b->window)
        ring_add(b, bid);
    else
        b->spare[b->nspare++] = (uint16_t)bid;
    /*
     * ENOBUFS flow control: a connection whose multishot receive ran out of buffers is
     * parked, not closed; each buffer that comes back re-arms one of them (FIFO), so a
     * tiny ring under load makes connections take turns instead of losing any.
     */
    if (net->parked_head)
        net_unpark_some(net, 1);
}
