/*
 * A reactor's provided buffer ring: buf_count buffers of buf_size bytes that the kernel
 * picks from for multishot receives (zero copy into the buffer, handed to the task as
 * a borrowed roost_buf). One ring, buffer group 0, per reactor; only the reactor thread
 * adds to it.
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
    if (!b->bufs)
        return -ENOMEM;
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
    for (unsigned i = 0; i < count; i++) {
        b->bufs[i].next = -1;
        b->bufs[i].net = net;
        io_uring_buf_ring_add(b->br, net_buf_data(net, i), size, (unsigned short)i, (int)b->mask,
                              (int)i);
    }
    io_uring_buf_ring_advance(b->br, (int)count);
    b->avail = count;
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
    free(b->bufs);
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
    free(b->bufs);
    memset(b, 0, sizeof(*b));
}

void net_bufring_put(struct roost_net *net, unsigned bid)
{
    struct net_bufring *b = &net->ring;
    io_uring_buf_ring_add(b->br, net_buf_data(net, bid), b->size, (unsigned short)bid, (int)b->mask,
                          0);
    io_uring_buf_ring_advance(b->br, 1);
    b->avail++;
    /*
     * ENOBUFS flow control: a connection whose multishot receive ran out of buffers is
     * parked, not closed; each buffer that comes back re-arms one of them (FIFO), so a
     * tiny ring under load makes connections take turns instead of losing any.
     */
    if (net->parked_head)
        net_unpark_some(net, 1);
}
