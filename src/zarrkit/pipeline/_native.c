/* The hot loop of the chunk pipeline for chunk files (DirectoryStore), without the GIL.
 *
 * Three functions, each running a run of chunks of one read or write from start to end in the
 * calling thread with the GIL released (the pipeline calls them from its pool threads):
 *
 *   read_chunks   open, read, check the frame, decode (Blosc) and copy each chunk's region
 *                 into the output; a missing file gets the fill value
 *   read_ranges   the same for chunks stored as byte ranges of files (inner chunks of
 *                 shards: offsets and lengths from the shard indexes, read in Python),
 *                 every range checked against its file's size
 *   write_chunks  gather each whole chunk's region from the value (fill value around edge
 *                 chunks), encode (Blosc) and write it through a temporary file and a rename
 *
 * An array's settings (chunk layout, fill value, codec) come once, as a ``Codec``; a call
 * gets buffer objects (the plan's table, the data, the status), and every offset the plan
 * gives is checked against the buffers' lengths before the GIL is released: a wrong plan is a
 * ValueError, never a write out of bounds.
 *
 * The pure-Python pipeline stays the reference: anything out of the ordinary for a chunk
 * (a frame that does not check out, an error from the system or the codec, a missing
 * folder, anything but a regular file at its path) gives it a "deferred" reason code (and
 * errno, for a system error), and the Python path redoes that chunk and raises its usual
 * error. Blosc is c-blosc as numcodecs ships it: the pipeline passes the addresses of
 * blosc_compress_ctx / blosc_decompress_ctx (checked against numcodecs first), so nothing
 * here links to a codec library.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif

#define MAXDIM 64
#define BLOSC_OVERHEAD 16
#define MAX_IOV 1024
#define TEMP_PART_MAX 64 /* the most bytes of each part of a temporary name */

/* What became of each chunk: native.Reason mirrors these (the module's REASONS, checked by
 * the tests). From NOT_REGULAR_FILE on, the chunk is left to the Python path. */
#define REASONS(X)                                                                          \
    X(DONE, 0)               /* read / written */                                           \
    X(MISSING, 1)            /* read: no file (the fill value, if any, is in the output) */ \
    X(REMOVED, 2)            /* write: all fill, the file removed */                        \
    X(NOT_REGULAR_FILE, 3)   /* a FIFO, device, folder, ... at the chunk's path */          \
    X(TOO_LARGE, 4)          /* a file longer than the chunk's largest frame */             \
    X(WRONG_SIZE, 5)         /* a raw chunk file not of the chunk's size */                 \
    X(FRAME_CHECK_FAILED, 6) /* a Blosc frame whose header or structure does not check */   \
    X(CODEC_ERROR, 7)        /* Blosc failed to decode or encode */                         \
    X(OS_ERROR, 8)           /* a system call failed: its errno is kept */                  \
    X(NO_MEMORY, 9)          /* a scratch buffer could not be had */                        \
    X(RANGE_OUT_OF_FILE, 10) /* read_ranges: a range past the end of its file */
#define AS_ENUM(name, value) R_##name = value,
enum { REASONS(AS_ENUM) FIRST_DEFERRED = R_NOT_REGULAR_FILE };

typedef int (*decompress_fn)(const void *src, void *dest, size_t destsize, int nthreads);
typedef int (*getitem_fn)(const void *src, int start, int nitems, void *dest);
typedef int (*compress_fn)(int clevel, int doshuffle, size_t typesize, size_t nbytes,
                           const void *src, void *dest, size_t destsize, const char *compressor,
                           size_t blocksize, int nthreads);

/* A region walked in two layouts at once: ``k`` dimensions (extent-1 ones dropped, neighbours
 * that are contiguous in both merged) of extents ``e``, strides ``a`` and ``b``, and runs of
 * ``block`` bytes contiguous in both. */
typedef struct {
    int k;
    int64_t block;
    int64_t e[MAXDIM], a[MAXDIM], b[MAXDIM];
} walk_t;

/* false for an empty region */
static int walk_init(walk_t *w, int ndim, const int64_t *ext, const int64_t *sa,
                     const int64_t *sb, int64_t itemsize) {
    int k = 0;
    for (int d = 0; d < ndim; d++) {
        if (ext[d] <= 0) return 0;
        if (ext[d] == 1) continue;
        if (k > 0 && w->a[k - 1] == sa[d] * ext[d] && w->b[k - 1] == sb[d] * ext[d]) {
            w->e[k - 1] *= ext[d];
            w->a[k - 1] = sa[d];
            w->b[k - 1] = sb[d];
            continue;
        }
        w->e[k] = ext[d];
        w->a[k] = sa[d];
        w->b[k] = sb[d];
        k++;
    }
    int64_t block = itemsize;
    while (k > 0 && w->a[k - 1] == block && w->b[k - 1] == block) {
        block *= w->e[k - 1];
        k--;
    }
    w->k = k;
    w->block = block;
    return 1;
}

/* the number of runs of the region */
static int64_t walk_runs(const walk_t *w) {
    int64_t n = 1;
    for (int d = 0; d < w->k; d++) n *= w->e[d];
    return n;
}

/* the next row (the last dimension's run) of the walk: the outer index ``idx`` advanced by
 * one and the byte offsets ``oa``, ``ob`` moved with it; false after the last row */
static int walk_next(const walk_t *w, int64_t *idx, int64_t *oa, int64_t *ob) {
    for (int d = w->k - 2; d >= 0; d--) {
        *oa += w->a[d];
        *ob += w->b[d];
        if (++idx[d] < w->e[d]) return 1;
        *oa -= w->a[d] * w->e[d];
        *ob -= w->b[d] * w->e[d];
        idx[d] = 0;
    }
    return 0;
}

/* copy the region from ``b`` (strides b) to ``a`` (strides a); with ``fill`` (a run of
 * ``block`` bytes) every run of ``a`` gets it instead */
static void walk_copy(const walk_t *w, char *a, const char *b, const char *fill) {
    const size_t block = (size_t)w->block;
    const int k = w->k;
    if (k == 0) {
        memcpy(a, fill ? fill : b, block);
        return;
    }
    int64_t idx[MAXDIM] = {0}, oa = 0, ob = 0;
    const int64_t n = w->e[k - 1], da = w->a[k - 1], db = w->b[k - 1];
    do {
        char *ra = a + oa;
        const char *rb = b + ob;
        if (fill) {
            for (int64_t i = 0; i < n; i++) memcpy(ra + i * da, fill, block);
        } else if (block == 4 && da == 4 && db != 4) {
            for (int64_t i = 0; i < n; i++) memcpy(ra + i * da, rb + i * db, 4);
        } else {
            for (int64_t i = 0; i < n; i++) memcpy(ra + i * da, rb + i * db, block);
        }
    } while (walk_next(w, idx, &oa, &ob));
}

/* the runs of the region on the ``b`` side as an iovec list, in the order of the ``a`` side's
 * bytes (which must be one contiguous span: a whole chunk); -1 when the ``a`` side is not
 * walked in its memory order (an F-order chunk) or there are more than ``max`` runs */
static int walk_iov(const walk_t *w, char *b, struct iovec *iov, int max) {
    int64_t runs = walk_runs(w);
    if (runs > max) return -1;
    int64_t step = w->block;
    for (int d = w->k - 1; d >= 0; d--) {
        if (w->a[d] != step) return -1;
        step *= w->e[d];
    }
    const int k = w->k;
    if (k == 0) {
        iov[0].iov_base = b;
        iov[0].iov_len = (size_t)w->block;
        return 1;
    }
    int64_t idx[MAXDIM] = {0}, oa = 0, ob = 0;
    int j = 0;
    const int64_t n = w->e[k - 1], db = w->b[k - 1];
    do {
        for (int64_t i = 0; i < n; i++, j++) {
            iov[j].iov_base = b + ob + i * db;
            iov[j].iov_len = (size_t)w->block;
        }
    } while (walk_next(w, idx, &oa, &ob));
    return j;
}

/* Buffers kept by each calling thread (the pipeline's pool threads), grown as needed: fresh
 * allocations of chunk size are fresh pages, which the kernel zeroes on every call. They hang
 * off a pthread key whose destructor unmaps them when the thread ends (a pool replaced by
 * set_num_threads), and ``live_scratch`` counts the mappings (scratch_count()). */
typedef struct {
    char *buf[3];
    size_t cap[3];
} scratch_t;

static pthread_key_t scratch_key;
static int scratch_key_ok;
static int64_t live_scratch;

static void scratch_free(void *p) {
    scratch_t *s = p;
    for (int i = 0; i < 3; i++)
        if (s->buf[i]) {
            munmap(s->buf[i], s->cap[i]);
            __atomic_sub_fetch(&live_scratch, 1, __ATOMIC_RELAXED);
        }
    free(s);
}

/* the calling thread's buffers (NULL: out of memory) */
static scratch_t *thread_scratch(void) {
    if (!scratch_key_ok) return NULL;
    scratch_t *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(scratch_t));
        if (s && pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

static char *scratch(scratch_t *s, int which, size_t need) {
    if (!s) return NULL;
    if (s->cap[which] < need) {
        /* mapped, not malloc'ed: only the pages used count, and they never grow an arena */
        if (s->buf[which]) {
            munmap(s->buf[which], s->cap[which]);
            __atomic_sub_fetch(&live_scratch, 1, __ATOMIC_RELAXED);
        }
        void *p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        s->buf[which] = p == MAP_FAILED ? NULL : (char *)p;
        s->cap[which] = s->buf[which] ? need : 0;
        if (s->buf[which]) __atomic_add_fetch(&live_scratch, 1, __ATOMIC_RELAXED);
    }
    return s->buf[which];
}

/* true when every run of the region on the ``b`` side holds ``fill`` (a run of ``block``
 * bytes) */
static int walk_equal(const walk_t *w, const char *b, const char *fill) {
    const size_t block = (size_t)w->block;
    const int k = w->k;
    if (k == 0) return memcmp(b, fill, block) == 0;
    int64_t idx[MAXDIM] = {0}, oa = 0, ob = 0;
    const int64_t n = w->e[k - 1], db = w->b[k - 1];
    do {
        for (int64_t i = 0; i < n; i++)
            if (memcmp(b + ob + i * db, fill, block) != 0) return 0;
    } while (walk_next(w, idx, &oa, &ob));
    return 1;
}


/* the chunk file ``file`` opened for reading: a descriptor, or -1 with ``*reason`` MISSING
 * (there is none), NOT_REGULAR_FILE or OS_ERROR (``*err``: errno). It is opened without
 * blocking: a FIFO at the path would wait for a writer forever, and a device would be read
 * without end. */
static int open_chunk(const char *file, int32_t *reason, int32_t *err) {
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *reason = errno == ENOENT ? R_MISSING : R_OS_ERROR;
        *err = errno == ENOENT ? 0 : errno;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = errno;
        *reason = R_OS_ERROR;
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *reason = R_NOT_REGULAR_FILE;
        close(fd);
        return -1;
    }
    return fd;
}


static int64_t read_all(int fd, char *buf, int64_t size) {
    int64_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, (size_t)(size - got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static int write_all(int fd, const char *buf, int64_t size) {
    while (size > 0) {
        ssize_t r = write(fd, buf, (size_t)size);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += r;
        size -= r;
    }
    return 0;
}

/* writev of all of ``iov`` (which it consumes), finishing short writes */
static int writev_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t r = writev(fd, iov, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return 0;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* read the Blosc frame of a chunk of ``nbytes`` from ``fd`` (closed here) into ``frame`` of
 * ``cap`` bytes (the longest frame and one more, to tell a longer file): the number of bytes
 * read when the sizes its header records check out against them, else 0 with ``*reason``
 * (and ``*err``) */
static int64_t read_frame(int fd, char *frame, int64_t cap, int64_t nbytes, int32_t *reason,
                          int32_t *err) {
    int64_t got = frame ? read_all(fd, frame, cap) : -2;
    if (got == -1) *err = errno;
    close(fd);
    if (got < BLOSC_OVERHEAD || got >= cap) {
        *reason = got == -2   ? R_NO_MEMORY
                  : got == -1 ? R_OS_ERROR
                  : got >= cap ? R_TOO_LARGE
                               : R_FRAME_CHECK_FAILED;
        return 0;
    }
    const unsigned char *h = (const unsigned char *)frame;
    if (le32(h + 4) == (uint32_t)nbytes && le32(h + 12) <= (uint64_t)got) return got;
    *reason = R_FRAME_CHECK_FAILED;
    return 0;
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* whether ``f`` (``size`` bytes) is a structurally whole Blosc (1.x format) frame of
 * ``nbytes`` decoded bytes, checked before blosc_getitem decodes a part of it (it trusts the
 * header and the block table). The rule of ``blosc_frame_ok`` in codec_chain.py, which the
 * Python path checks: the two must stay identical. Header: format version 1 or 2, a known
 * compressor code, an item size, nbytes as expected, a block size in 1..nbytes, cbytes at
 * most the bytes present (bytes after the frame are ignored, as by a whole decode); memcpyed (flag 0x02): exactly the data after the header. Else the nblocks
 * int32 block starts, each in [16 + 4 nblocks, cbytes), and each block's streams (its item
 * size of them under c-blosc's split rule, else one), each an int32 size > 0 and that many
 * bytes, ending within the frame and before the next block start above the block's own. */
static int frame_ok(const unsigned char *f, int64_t size, int64_t nbytes) {
    if (size < BLOSC_OVERHEAD) return 0;
    int version = f[0], flags = f[2], typesize = f[3];
    int64_t n = (int32_t)le32(f + 4), bs = (int32_t)le32(f + 8), cb = (int32_t)le32(f + 12);
    if (version < 1 || version > 2 || typesize == 0 || (flags >> 5) > 4) return 0;
    if (n != nbytes || n <= 0 || bs <= 0 || bs > n || cb > size) return 0;
    if (flags & 0x02) return cb == n + BLOSC_OVERHEAD;
    int64_t nblocks = (n + bs - 1) / bs, first = BLOSC_OVERHEAD + 4 * nblocks;
    if (first > cb) return 0;
    int64_t *sorted = malloc(sizeof(int64_t) * (size_t)nblocks);
    if (!sorted) return 0;
    for (int64_t j = 0; j < nblocks; j++) {
        sorted[j] = (int32_t)le32(f + BLOSC_OVERHEAD + 4 * j);
        if (sorted[j] < first || sorted[j] >= cb) {
            free(sorted);
            return 0;
        }
    }
    qsort(sorted, (size_t)nblocks, sizeof(int64_t), cmp_int64);
    int split = !(flags & 0x10) && typesize <= 16 && bs / typesize >= 128;
    int ok = 1;
    for (int64_t j = 0; j < nblocks && ok; j++) {
        int64_t o = (int32_t)le32(f + BLOSC_OVERHEAD + 4 * j);
        /* the first start above o (binary search), or the frame's end */
        int64_t lo = 0, hi = nblocks;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (sorted[mid] <= o) lo = mid + 1;
            else hi = mid;
        }
        int64_t lim = lo < nblocks ? sorted[lo] : cb;
        int last_short = j == nblocks - 1 && n % bs != 0;
        int streams = split && !last_short ? typesize : 1;
        for (int k = 0; k < streams; k++) {
            if (o + 4 > lim) { ok = 0; break; }
            int64_t c = (int32_t)le32(f + o);
            if (c <= 0 || o + 4 + c > lim) { ok = 0; break; }
            o += 4 + c;
        }
    }
    free(sorted);
    return ok;
}

/* a run of ``size`` bytes holding ``pattern`` (``itemsize`` bytes) over and over */
static char *pattern_run(const char *pattern, int64_t itemsize, int64_t size) {
    char *run = malloc((size_t)(size > 0 ? size : 1));
    if (!run) return NULL;
    for (int64_t o = 0; o < size; o += itemsize) memcpy(run + o, pattern, (size_t)itemsize);
    return run;
}

/* ---- an array's settings: the Codec type ------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    int ndim;
    int writes;  /* whether write_chunks may be used (an encoder is set) */
    Py_ssize_t itemsize, nbytes, partial_limit, blocksize;
    int clevel, shuffle;
    int64_t shape[MAXDIM], strides[MAXDIM];
    PyObject *fill;  /* bytes: one item, or empty (reads leave missing chunks, writes pad with
                        zeros) */
    decompress_fn decompress;
    getitem_fn getitem;
    compress_fn compress;
    char cname[33];
} codec_t;

/* an int64 vector or table buffer of exactly ``count`` C-contiguous items */
static int get_int64(PyObject *obj, Py_buffer *b, Py_ssize_t count, const char *what) {
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) return -1;
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (b->itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0)) {
        PyErr_Format(PyExc_TypeError, "%s: int64 items expected, got format %s", what,
                     b->format ? b->format : "B");
        PyBuffer_Release(b);
        return -1;
    }
    if (b->len != count * 8) {
        PyErr_Format(PyExc_ValueError, "%s: %zd int64 items expected, got %zd", what, count,
                     b->len / 8);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

static PyObject *codec_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"shape", "strides", "itemsize", "fill", "decompress", "getitem",
                             "partial_limit", "writes", "compress", "cname", "clevel",
                             "shuffle", "blocksize", NULL};
    PyObject *shape_obj = NULL, *strides_obj = NULL, *fill = NULL;
    Py_ssize_t itemsize = 0, partial_limit = 0, blocksize = 0;
    unsigned long long decompress = 0, getitem = 0, compress = 0;
    int writes = 0, clevel = 0, shuffle = 0;
    const char *cname = "";
    Py_ssize_t cname_len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOnSKKnpKy#iin", kwlist, &shape_obj,
                                     &strides_obj, &itemsize, &fill, &decompress, &getitem,
                                     &partial_limit, &writes, &compress, &cname, &cname_len,
                                     &clevel, &shuffle, &blocksize))
        return NULL;
    if (!shape_obj || !strides_obj || !fill) {
        PyErr_SetString(PyExc_TypeError, "Codec: shape, strides, itemsize and fill are needed");
        return NULL;
    }
    Py_buffer shape, strides;
    Py_ssize_t ndim = PyObject_Length(shape_obj);
    if (ndim < 0) return NULL;
    if (ndim < 1 || ndim > MAXDIM) {
        PyErr_Format(PyExc_ValueError, "shape: 1 to %d dimensions expected", MAXDIM);
        return NULL;
    }
    if (get_int64(shape_obj, &shape, ndim, "shape") != 0) return NULL;
    if (get_int64(strides_obj, &strides, ndim, "strides") != 0) {
        PyBuffer_Release(&shape);
        return NULL;
    }
    codec_t *c = (codec_t *)type->tp_alloc(type, 0);
    if (c) {
        c->ndim = (int)ndim;
        memcpy(c->shape, shape.buf, (size_t)ndim * 8);
        memcpy(c->strides, strides.buf, (size_t)ndim * 8);
    }
    PyBuffer_Release(&shape);
    PyBuffer_Release(&strides);
    if (!c) return NULL;
    c->itemsize = itemsize;
    c->partial_limit = partial_limit;
    c->blocksize = blocksize;
    c->writes = writes;
    c->clevel = clevel;
    c->shuffle = shuffle;
    c->decompress = (decompress_fn)(uintptr_t)decompress;
    c->getitem = (getitem_fn)(uintptr_t)getitem;
    c->compress = (compress_fn)(uintptr_t)compress;
    Py_INCREF(fill);
    c->fill = fill;
    const char *problem = NULL;
    /* the chunk's items: every one inside its nbytes */
    int64_t nbytes = itemsize, span = itemsize;
    if (itemsize <= 0) problem = "itemsize: a positive size expected";
    for (int d = 0; d < c->ndim && !problem; d++) {
        if (c->shape[d] <= 0 || c->strides[d] <= 0)
            problem = "shape and strides: positive values expected";
        else if (__builtin_mul_overflow(nbytes, c->shape[d], &nbytes) || nbytes > INT32_MAX)
            problem = "shape: a chunk of at most 2 GB expected";
        else if (c->strides[d] > INT32_MAX)
            problem = "strides: too large";
        else
            span += (c->shape[d] - 1) * c->strides[d];
    }
    if (!problem && span > nbytes) problem = "strides: they reach past the chunk's bytes";
    if (!problem && PyBytes_GET_SIZE(fill) != 0 && PyBytes_GET_SIZE(fill) != itemsize)
        problem = "fill: one item's bytes, or none";
    if (!problem && (cname_len > 32 || memchr(cname, 0, (size_t)cname_len)))
        problem = "cname: a compressor's name expected";
    if (!problem && partial_limit < 0) problem = "partial_limit: not negative";
    if (problem) {
        Py_DECREF(c);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    c->nbytes = nbytes;
    memcpy(c->cname, cname, (size_t)cname_len);
    c->cname[cname_len] = 0;
    return (PyObject *)c;
}

static void codec_dealloc(codec_t *c) {
    Py_XDECREF(c->fill);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMemberDef codec_members[] = {
    {"ndim", T_INT, offsetof(codec_t, ndim), READONLY, "dimensions of a chunk"},
    {"writes", T_BOOL, offsetof(codec_t, writes), READONLY, "whether write_chunks applies"},
    {"itemsize", T_PYSSIZET, offsetof(codec_t, itemsize), READONLY, "bytes of an item"},
    {"nbytes", T_PYSSIZET, offsetof(codec_t, nbytes), READONLY, "bytes of a chunk"},
    {"partial_limit", T_PYSSIZET, offsetof(codec_t, partial_limit), READONLY,
     "the most bytes of a chunk a region decoded alone may span (0: never)"},
    {"fill", T_OBJECT, offsetof(codec_t, fill), READONLY, "the fill value's bytes"},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(codec_doc,
"Codec(*, shape, strides, itemsize, fill, decompress=0, getitem=0, partial_limit=0,\n"
"      writes=False, compress=0, cname=b'', clevel=0, shuffle=0, blocksize=0)\n\n"
"An array's chunk layout (``shape``, byte ``strides`` of a chunk: int64 buffers), the fill\n"
"value's bytes (one item, or empty), and its codec: ``decompress`` / ``getitem`` /\n"
"``compress`` the addresses of blosc_decompress_ctx / blosc_getitem / blosc_compress_ctx\n"
"(0: raw items; no partial decodes; raw writes), ``partial_limit`` the most bytes a region\n"
"decoded alone may span, Blosc's ``cname``, ``clevel``, ``shuffle``, ``blocksize``;\n"
"``writes``: whether write_chunks may be used.");

static PyTypeObject codec_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zarrkit.pipeline._native.Codec",
    .tp_basicsize = sizeof(codec_t),
    .tp_dealloc = (destructor)codec_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = codec_doc,
    .tp_members = codec_members,
    .tp_new = codec_new,
};

/* ---- one call: its buffers, checked --------------------------------------------------------- */

typedef struct {
    Py_ssize_t n, start, stop;  /* chunks of the plan; this call's run of them */
    int ndim;
    Py_buffer table, strides, data, status, merge;
    int have[5];
    const int64_t *first, *extent, *at, *dstr;
    int64_t *doff, *coff;      /* per chunk of the run: byte offsets in the data, in a chunk */
    const char **files;        /* per chunk of the run */
    int32_t *reason, *err;     /* per chunk of the plan */
    char *base;                /* the data's first item */
} call_t;

static void call_release(call_t *c) {
    Py_buffer *b[5] = {&c->table, &c->strides, &c->data, &c->status, &c->merge};
    for (int i = 0; i < 5; i++)
        if (c->have[i]) PyBuffer_Release(b[i]);
    PyMem_Free(c->doff);
    PyMem_Free(c->files);
}

/* the lowest and one past the highest byte of a strided buffer, relative to its first item */
static void data_span(const Py_buffer *b, int64_t *lo, int64_t *hi) {
    *lo = 0;
    *hi = b->itemsize;
    for (int d = 0; d < b->ndim; d++) {
        if (b->shape[d] == 0) {
            *hi = 0;
            return;
        }
        int64_t step = (int64_t)(b->shape[d] - 1) * b->strides[d];
        if (step < 0) *lo += step;
        else *hi += step;
    }
}

/* The buffers of a call on ``codec`` checked: ``table`` (int64 [3][n][ndim]: where each
 * chunk's region starts in the chunk, its extent, where it starts in the data, n the number
 * of ``paths``), ``data`` (written: the output of a read), ``strides`` (int64 [ndim]: the
 * data's byte strides per array dimension, 0 where an integer selects), ``status`` (int32
 * [2][n]: reason, errno), ``merge`` (writes: one byte per chunk, or NULL), ``start`` and
 * ``stop`` (this call's chunks); every chunk's region inside the chunk and inside ``data``.
 * False with an exception set, before any work, when something does not fit. */
static int call_start(call_t *c, codec_t *codec, PyObject *table, PyObject *paths,
                      PyObject *data, int writable, PyObject *strides, PyObject *status,
                      PyObject *merge, Py_ssize_t start, Py_ssize_t stop) {
    memset(c, 0, sizeof(*c));
    const int ndim = c->ndim = codec->ndim;
    if (!PyList_Check(paths)) {
        PyErr_SetString(PyExc_TypeError, "paths: a list of one bytes object per chunk");
        return 0;
    }
    const Py_ssize_t n = c->n = PyList_GET_SIZE(paths);
    if (start < 0 || start > stop || stop > n) {
        PyErr_Format(PyExc_ValueError, "chunks %zd to %zd: not a run of the plan's %zd", start,
                     stop, n);
        return 0;
    }
    c->start = start;
    c->stop = stop;
    if (get_int64(table, &c->table, 3 * n * ndim, "table (3 x chunks x ndim)") != 0) return 0;
    c->have[0] = 1;
    if (get_int64(strides, &c->strides, ndim, "strides") != 0) return 0;
    c->have[1] = 1;
    if (PyObject_GetBuffer(data, &c->data, PyBUF_STRIDES) != 0) return 0;
    c->have[2] = 1;
    if (writable && c->data.readonly) {
        PyErr_SetString(PyExc_ValueError, "out: a read-only buffer");
        return 0;
    }
    if (c->data.itemsize != codec->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: items of %zd bytes expected, got %zd",
                     writable ? "out" : "value", codec->itemsize, c->data.itemsize);
        return 0;
    }
    if (PyObject_GetBuffer(status, &c->status, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0)
        return 0;
    c->have[3] = 1;
    if (c->status.itemsize != 4 || c->status.len != 2 * n * 4) {
        PyErr_Format(PyExc_ValueError, "status: 2 x %zd int32 items expected", n);
        return 0;
    }
    if (merge) {
        if (PyObject_GetBuffer(merge, &c->merge, PyBUF_C_CONTIGUOUS) != 0) return 0;
        c->have[4] = 1;
        if (c->merge.itemsize != 1 || c->merge.len != n) {
            PyErr_Format(PyExc_ValueError, "merge: %zd bytes expected, got %zd", n,
                         c->merge.len);
            return 0;
        }
    }
    const Py_ssize_t k = stop - start;
    c->doff = PyMem_Malloc(sizeof(int64_t) * 2 * (size_t)(k ? k : 1));
    c->files = PyMem_Malloc(sizeof(char *) * (size_t)(k ? k : 1));
    if (!c->doff || !c->files) {
        PyErr_NoMemory();
        return 0;
    }
    c->coff = c->doff + k;
    c->first = c->table.buf;
    c->extent = c->first + n * ndim;
    c->at = c->extent + n * ndim;
    c->dstr = c->strides.buf;
    c->reason = c->status.buf;
    c->err = c->reason + n;
    c->base = c->data.buf;
    int64_t lo_bound, hi_bound;
    data_span(&c->data, &lo_bound, &hi_bound);
    const char *side = writable ? "out" : "value";
    for (Py_ssize_t i = start; i < stop; i++) {
        PyObject *item = PyList_GET_ITEM(paths, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "paths[%zd]: bytes expected", i);
            return 0;
        }
        c->files[i - start] = PyBytes_AS_STRING(item);
        const int64_t *f = c->first + i * ndim, *e = c->extent + i * ndim, *a = c->at + i * ndim;
        int64_t doff = 0, coff = 0, lo = 0, hi = codec->itemsize;
        for (int d = 0; d < ndim; d++) {
            if (f[d] < 0 || e[d] < 1 || e[d] > codec->shape[d] - f[d]) {
                PyErr_Format(PyExc_ValueError,
                             "chunk %zd: its region (dimension %d: from %lld, %lld items) is "
                             "not inside the chunk (%lld items)",
                             i, d, (long long)f[d], (long long)e[d], (long long)codec->shape[d]);
                return 0;
            }
            coff += f[d] * codec->strides[d];
            int64_t t, u;
            if (a[d] < 0 || __builtin_mul_overflow(a[d], c->dstr[d], &t) ||
                __builtin_add_overflow(doff, t, &doff) ||
                __builtin_mul_overflow(e[d] - 1, c->dstr[d], &u) ||
                __builtin_add_overflow(u < 0 ? lo : hi, u, u < 0 ? &lo : &hi)) {
                PyErr_Format(PyExc_ValueError,
                             "chunk %zd: its region's place in %s (dimension %d: from %lld) "
                             "is out of range",
                             i, side, d, (long long)a[d]);
                return 0;
            }
        }
        int64_t from, to;
        if (__builtin_add_overflow(doff, lo, &from) || __builtin_add_overflow(doff, hi, &to) ||
            from < lo_bound || to > hi_bound) {
            PyErr_Format(PyExc_ValueError,
                         "chunk %zd: its region in %s (bytes %lld to %lld from the first item) "
                         "is not inside its buffer (bytes %lld to %lld)",
                         i, side, (long long)(doff + lo), (long long)(doff + hi),
                         (long long)lo_bound, (long long)hi_bound);
            return 0;
        }
        c->doff[i - start] = doff;
        c->coff[i - start] = coff;
    }
    return 1;
}

/* ---- reads ------------------------------------------------------------------------------ */

/* decode the Blosc ``frame`` (``size`` bytes, its header's sizes checked) of a chunk into
 * its region at ``dest`` (``w``: the region's walk, empty unless ``nonempty``; ``direct``: a
 * whole chunk whose region has the chunk's layout; ``coff``: the region's first byte in the
 * chunk; ``e``: its extent): the chunk's reason. */
static int32_t decode_region(const codec_t *codec, const char *frame, int64_t size, char *dest,
                             const walk_t *w, int nonempty, int direct, int64_t coff,
                             const int64_t *e, scratch_t *tls) {
    const int64_t nbytes = codec->nbytes, itemsize = codec->itemsize;
    const int ndim = codec->ndim;
    const int64_t *cstr = codec->strides;
    if (direct)
        return codec->decompress(frame, dest, (size_t)nbytes, 1) == nbytes ? R_DONE
                                                                            : R_CODEC_ERROR;
    if (!nonempty) return R_DONE;
    /* a small region: only the blocks holding it (blosc_getitem), once the whole frame's
     * structure checks out; the Python path takes the same decision (the same span, the same
     * limit) and raises for a frame refused here */
    int64_t span = itemsize;
    for (int d = 0; d < ndim; d++) span += (e[d] - 1) * cstr[d];
    if (codec->getitem && span <= codec->partial_limit) {
        if (!frame_ok((const unsigned char *)frame, size, nbytes)) return R_FRAME_CHECK_FAILED;
        int64_t t = (unsigned char)frame[3]; /* the frame's item size */
        if (coff % t == 0 && span % t == 0) {
            char *part = scratch(tls, 1, (size_t)nbytes);
            if (!part) return R_NO_MEMORY;
            if (codec->getitem(frame, (int)(coff / t), (int)(span / t), part) != span)
                return R_CODEC_ERROR;
            walk_copy(w, dest, part, NULL);
            return R_DONE;
        }
    }
    char *chunk = scratch(tls, 1, (size_t)nbytes);
    if (!chunk) return R_NO_MEMORY;
    if (codec->decompress(frame, chunk, (size_t)nbytes, 1) != nbytes) return R_CODEC_ERROR;
    walk_copy(w, dest, chunk + coff, NULL);
    return R_DONE;
}



/* the chunk's reason, and on to the next chunk (a block, not do/while: it continues the loop) */
#define DEFER_AS(r)      \
    {                    \
        reason[i] = (r); \
        continue;        \
    }

PyDoc_STRVAR(read_doc,
"read_chunks(codec, table, paths, out, strides, status, start, stop)\n\n"
"Read chunks ``start`` to ``stop`` of a plan into ``out`` (a buffer of the codec's items,\n"
"written): ``table`` is int64 [3][n][ndim], per chunk where its region starts in the chunk,\n"
"its extent, and where it starts in ``out`` (``strides``: ``out``'s byte strides per array\n"
"dimension, 0 where an integer selects); ``paths`` the n chunk files (bytes). A missing\n"
"chunk gets the codec's fill value (none: it is left as it is). ``status`` (int32 [2][n])\n"
"gets each chunk's reason code (REASONS) and errno. A plan that does not fit the buffers is\n"
"a ValueError before any work.");

static PyObject *read_chunks(PyObject *self, PyObject *args) {
    codec_t *codec;
    PyObject *table, *paths, *out, *strides, *status;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "O!OO!OOOnn", &codec_type, &codec, &table, &PyList_Type,
                          &paths, &out, &strides, &status, &start, &stop))
        return NULL;
    call_t c;
    if (!call_start(&c, codec, table, paths, out, 1, strides, status, NULL, start, stop)) {
        call_release(&c);
        return NULL;
    }
    const int ndim = c.ndim;
    const int64_t itemsize = codec->itemsize, nbytes = codec->nbytes;
    const int64_t *cstr = codec->strides, *cshape = codec->shape, *dstr = c.dstr;
    const char *fill = PyBytes_AS_STRING(codec->fill);
    const int has_fill = PyBytes_GET_SIZE(codec->fill) != 0;
    const decompress_fn decompress = codec->decompress;
    /* whole chunks' regions of the output have the chunk's own layout */
    int direct = 1;
    for (int d = 0; d < ndim; d++) direct &= cshape[d] == 1 || dstr[d] == cstr[d];
    /* a Blosc frame is at most 16 bytes longer than its data; one byte more tells a longer
     * file */
    const int64_t cap = nbytes + (decompress ? BLOSC_OVERHEAD : 0) + 1;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    scratch_t *tls = thread_scratch();
    char *frame = scratch(tls, 0, (size_t)cap);
    char *fill_run = NULL;
    struct iovec *iov = malloc(sizeof(struct iovec) * (MAX_IOV + 1));
    int32_t *reason = c.reason, *err = c.err;
    if (!frame || !iov) failed = 1;
    for (Py_ssize_t i = c.start; i < c.stop && !failed; i++) {
        const int64_t *e = c.extent + i * ndim;
        const int64_t coff = c.coff[i - c.start];
        char *dest = c.base + c.doff[i - c.start];
        int whole = 1;
        for (int d = 0; d < ndim; d++) whole &= e[d] == cshape[d];
        err[i] = 0;
        int fd = open_chunk(c.files[i - c.start], &reason[i], &err[i]);
        if (fd < 0) {
            if (reason[i] != R_MISSING || !has_fill) continue;
            walk_t w;
            if (walk_init(&w, ndim, e, dstr, dstr, itemsize)) {
                if (!fill_run) fill_run = pattern_run(fill, itemsize, nbytes);
                if (!fill_run) DEFER_AS(R_NO_MEMORY);
                walk_copy(&w, dest, NULL, fill_run);
            }
            continue;
        }
        walk_t w;
        int nonempty = walk_init(&w, ndim, e, dstr, cstr, itemsize);
        if (!decompress) {
            /* uncompressed: a whole chunk is read straight into the output (one read when
             * the output region has the chunk's layout, else readv into its runs); one
             * byte more is asked for, to tell a longer file */
            int64_t got = -1;
            walk_t o;
            int nio = -1;
            if (whole && nonempty && !direct) {
                walk_init(&o, ndim, e, cstr, dstr, itemsize);
                nio = walk_iov(&o, dest, iov, MAX_IOV); /* -1: read and copy */
            }
            if (whole && nonempty && direct) {
                got = read_all(fd, dest, nbytes);
                if (got == nbytes) {
                    int64_t more = read_all(fd, frame, 1);
                    got = more < 0 ? -1 : got + more;
                }
            } else if (nio > 0) {
                iov[nio].iov_base = frame;
                iov[nio].iov_len = 1;
                ssize_t r;
                do {
                    r = readv(fd, iov, nio + 1);
                } while (r < 0 && errno == EINTR);
                got = r; /* a short read leaves it to the caller */
            } else {
                got = read_all(fd, frame, cap);
                if (got == nbytes && nonempty) walk_copy(&w, dest, frame + coff, NULL);
            }
            if (got < 0) err[i] = errno;
            close(fd);
            reason[i] = got == nbytes ? R_DONE
                        : got < 0     ? R_OS_ERROR
                        : got > nbytes ? R_TOO_LARGE
                                       : R_WRONG_SIZE;
            continue;
        }
        int64_t size = read_frame(fd, frame, cap, nbytes, &reason[i], &err[i]);
        if (!size) continue;
        reason[i] = decode_region(codec, frame, size, dest, &w, nonempty, whole && direct, coff,
                                  e, tls);
    }
    free(fill_run);
    free(iov);
    Py_END_ALLOW_THREADS
    call_release(&c);
    if (failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ---- reads of byte ranges (the inner chunks of shards) ---------------------------------- */

/* ``ranges`` (int64 [2][n]: per chunk its offset and length in its file, -1 and -1 for a chunk
 * that is not stored) checked: false with a ValueError when a row is neither absent nor a
 * byte range (a negative offset or length, an end past INT64_MAX) */
static int ranges_start(Py_buffer *b, PyObject *ranges, Py_ssize_t n) {
    if (get_int64(ranges, b, 2 * n, "ranges (2 x chunks)") != 0) return 0;
    const int64_t *off = b->buf, *len = off + n;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t end;
        if (off[i] == -1 && len[i] == -1) continue;
        if (off[i] < 0 || len[i] < 0 || __builtin_add_overflow(off[i], len[i], &end)) {
            PyErr_Format(PyExc_ValueError,
                         "chunk %zd: range (offset %lld, %lld bytes) is not a byte range", i,
                         (long long)off[i], (long long)len[i]);
            PyBuffer_Release(b);
            return 0;
        }
    }
    return 1;
}

static int64_t pread_all(int fd, char *buf, int64_t size, int64_t offset) {
    int64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, (size_t)(size - got), (off_t)(offset + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

PyDoc_STRVAR(read_ranges_doc,
"read_ranges(codec, table, paths, ranges, out, strides, status, start, stop)\n\n"
"read_chunks for chunks stored as byte ranges of files (the inner chunks of shards): chunk i\n"
"is ``ranges[1][i]`` bytes at offset ``ranges[0][i]`` of the file ``paths[i]`` (-1, -1: not\n"
"stored, the fill value). Consecutive chunks of the same bytes object share one open file.\n"
"Every range is checked against its file's size (past the end: RANGE_OUT_OF_FILE, left to\n"
"the Python path); a ``ranges`` row that is not a byte range is a ValueError before any work.");

static PyObject *read_ranges(PyObject *self, PyObject *args) {
    codec_t *codec;
    PyObject *table, *paths, *ranges, *out, *strides, *status;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "O!OO!OOOOnn", &codec_type, &codec, &table, &PyList_Type,
                          &paths, &ranges, &out, &strides, &status, &start, &stop))
        return NULL;
    call_t c;
    if (!call_start(&c, codec, table, paths, out, 1, strides, status, NULL, start, stop)) {
        call_release(&c);
        return NULL;
    }
    Py_buffer rb;
    if (!ranges_start(&rb, ranges, c.n)) {
        call_release(&c);
        return NULL;
    }
    const int64_t *roff = rb.buf, *rlen = roff + c.n;
    const int ndim = c.ndim;
    const int64_t itemsize = codec->itemsize, nbytes = codec->nbytes;
    const int64_t *cstr = codec->strides, *cshape = codec->shape, *dstr = c.dstr;
    const char *fill = PyBytes_AS_STRING(codec->fill);
    const int has_fill = PyBytes_GET_SIZE(codec->fill) != 0;
    const int blosc = codec->decompress != NULL;
    int direct = 1;
    for (int d = 0; d < ndim; d++) direct &= cshape[d] == 1 || dstr[d] == cstr[d];
    /* the longest range read: a Blosc frame is at most 16 bytes longer than its data */
    const int64_t cap = nbytes + (blosc ? BLOSC_OVERHEAD : 0);
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    scratch_t *tls = thread_scratch();
    char *frame = scratch(tls, 0, (size_t)cap);
    char *fill_run = NULL;
    int32_t *reason = c.reason, *err = c.err;
    const char *open_file = NULL; /* the file ``fd`` is open on (a path's buffer) */
    int fd = -1;
    int32_t open_reason = R_DONE, open_err = 0;
    int64_t file_size = 0;
    if (!frame) failed = 1;
    for (Py_ssize_t i = c.start; i < c.stop && !failed; i++) {
        const int64_t *e = c.extent + i * ndim;
        const int64_t coff = c.coff[i - c.start];
        char *dest = c.base + c.doff[i - c.start];
        int whole = 1;
        for (int d = 0; d < ndim; d++) whole &= e[d] == cshape[d];
        err[i] = 0;
        walk_t w;
        int nonempty = walk_init(&w, ndim, e, dstr, cstr, itemsize);
        const char *file = c.files[i - c.start];
        if (roff[i] >= 0 && file != open_file) {
            if (fd >= 0) close(fd);
            open_file = file;
            open_reason = R_DONE;
            open_err = 0;
            fd = open_chunk(file, &open_reason, &open_err);
            struct stat st;
            if (fd >= 0) {
                if (fstat(fd, &st) != 0) {
                    open_reason = R_OS_ERROR;
                    open_err = errno;
                    close(fd);
                    fd = -1;
                } else {
                    file_size = (int64_t)st.st_size;
                }
            }
        }
        if (roff[i] < 0 || fd < 0) {
            reason[i] = roff[i] < 0 ? R_MISSING : open_reason;
            err[i] = roff[i] < 0 ? 0 : open_err;
            if (reason[i] != R_MISSING || !has_fill) continue;
            walk_t f;
            if (walk_init(&f, ndim, e, dstr, dstr, itemsize)) {
                if (!fill_run) fill_run = pattern_run(fill, itemsize, nbytes);
                if (!fill_run) DEFER_AS(R_NO_MEMORY);
                walk_copy(&f, dest, NULL, fill_run);
            }
            continue;
        }
        const int64_t at = roff[i], len = rlen[i];
        if (len > file_size || at > file_size - len) DEFER_AS(R_RANGE_OUT_OF_FILE);
        if (!blosc) {
            if (len != nbytes) DEFER_AS(len > nbytes ? R_TOO_LARGE : R_WRONG_SIZE);
            char *into = whole && direct ? dest : frame;
            int64_t got = pread_all(fd, into, nbytes, at);
            if (got != nbytes) {
                err[i] = got < 0 ? errno : 0;
                DEFER_AS(got < 0 ? R_OS_ERROR : R_RANGE_OUT_OF_FILE);
            }
            if (into == frame && nonempty) walk_copy(&w, dest, frame + coff, NULL);
            DEFER_AS(R_DONE);
        }
        if (len > cap) DEFER_AS(R_TOO_LARGE);
        if (len < BLOSC_OVERHEAD) DEFER_AS(R_FRAME_CHECK_FAILED);
        int64_t got = pread_all(fd, frame, len, at);
        if (got != len) {
            err[i] = got < 0 ? errno : 0;
            DEFER_AS(got < 0 ? R_OS_ERROR : R_RANGE_OUT_OF_FILE);
        }
        const unsigned char *h = (const unsigned char *)frame;
        if (le32(h + 4) != (uint32_t)nbytes || le32(h + 12) > (uint64_t)len)
            DEFER_AS(R_FRAME_CHECK_FAILED);
        reason[i] = decode_region(codec, frame, len, dest, &w, nonempty, whole && direct, coff,
                                  e, tls);
    }
    if (fd >= 0) close(fd);
    free(fill_run);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&rb);
    call_release(&c);
    if (failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ---- writes ----------------------------------------------------------------------------- */

/* the chunk stored in ``file`` decoded into ``chunk`` (``fill_chunk`` when there is none);
 * false, with ``*reason`` and ``*err``, when it cannot be (a frame that does not check out, a
 * system or codec error) */
static int load_chunk(const char *file, char *chunk, int64_t nbytes, decompress_fn decompress,
                      const char *fill_chunk, scratch_t *tls, int32_t *reason, int32_t *err) {
    int fd = open_chunk(file, reason, err);
    if (fd < 0) {
        if (*reason != R_MISSING) return 0;
        memcpy(chunk, fill_chunk, (size_t)nbytes);
        return 1;
    }
    if (!decompress) {
        char extra;
        int64_t got = read_all(fd, chunk, nbytes);
        if (got == nbytes) {
            int64_t more = read_all(fd, &extra, 1);
            got = more < 0 ? -1 : got + more;
        }
        if (got < 0) *err = errno;
        close(fd);
        *reason = got < 0 ? R_OS_ERROR : got > nbytes ? R_TOO_LARGE : R_WRONG_SIZE;
        return got == nbytes;
    }
    int64_t cap = nbytes + BLOSC_OVERHEAD + 1;
    char *frame = scratch(tls, 0, (size_t)cap);
    if (!read_frame(fd, frame, cap, nbytes, reason, err)) return 0;
    *reason = R_CODEC_ERROR;
    return decompress(frame, chunk, (size_t)nbytes, 1) == nbytes;
}

PyDoc_STRVAR(write_doc,
"write_chunks(codec, table, paths, value, strides, merge, status, start, stop, skip_fill,\n"
"             lead, middle, end)\n"
"\n"
"Write chunks ``start`` to ``stop`` of a plan from ``value`` (a buffer of the codec's items;\n"
"``table``, ``paths``, ``strides``, ``status``: as for read_chunks, ``strides`` all 0 for a\n"
"scalar ``value``). With ``merge[i]`` the chunk stored is read first and the region written\n"
"over it; otherwise the region is the whole chunk and the rest of an edge chunk holds the\n"
"fill value (zeros without one), as does a chunk not stored yet. With ``skip_fill`` a chunk\n"
"that is all fill is removed instead. Each file is written to\n"
"``<lead><name><middle><i as 16 hex digits><end>`` in its folder (the temporary-name rule of\n"
"storage/files.py, LocalFiles.native_temp_rule: each part at most 64 bytes, no NUL or '/'),\n"
"then renamed.");

static PyObject *write_chunks(PyObject *self, PyObject *args) {
    codec_t *codec;
    PyObject *table, *paths, *value, *strides, *merge, *status;
    Py_ssize_t start, stop;
    int skip_fill;
    const char *part[3]; /* the temporary names' text before, between and after */
    Py_ssize_t part_len[3];
    if (!PyArg_ParseTuple(args, "O!OO!OOOOnnpy#y#y#", &codec_type, &codec, &table, &PyList_Type,
                          &paths, &value, &strides, &merge, &status, &start, &stop, &skip_fill,
                          &part[0], &part_len[0], &part[1], &part_len[1], &part[2],
                          &part_len[2]))
        return NULL;
    if (!codec->writes) {
        PyErr_SetString(PyExc_ValueError, "codec: it has no encoder");
        return NULL;
    }
    for (int k = 0; k < 3; k++) {
        if (part_len[k] > TEMP_PART_MAX || (Py_ssize_t)strlen(part[k]) != part_len[k] ||
            strchr(part[k], '/')) {
            PyErr_Format(PyExc_ValueError,
                         "temporary name parts: at most %d bytes each, without NUL or '/'",
                         TEMP_PART_MAX);
            return NULL;
        }
    }
    call_t c;
    if (!call_start(&c, codec, table, paths, value, 0, strides, status, merge, start, stop)) {
        call_release(&c);
        return NULL;
    }
    const int ndim = c.ndim;
    const int64_t itemsize = codec->itemsize, nbytes = codec->nbytes;
    const int64_t *cstr = codec->strides, *cshape = codec->shape, *sstr = c.dstr;
    const unsigned char *merges = c.merge.buf;
    const decompress_fn decompress = codec->decompress;
    const compress_fn compress = codec->compress;
    const char *base = c.base;
    /* a fill item: the codec's, else zeros */
    char *fill_item = PyMem_Calloc(1, (size_t)itemsize);
    if (!fill_item) {
        call_release(&c);
        return PyErr_NoMemory();
    }
    if (PyBytes_GET_SIZE(codec->fill))
        memcpy(fill_item, PyBytes_AS_STRING(codec->fill), (size_t)itemsize);
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    scratch_t *tls = thread_scratch();
    char *chunk = scratch(tls, 1, (size_t)nbytes);
    char *packed = compress ? scratch(tls, 2, (size_t)nbytes + BLOSC_OVERHEAD) : NULL;
    char *fill_chunk = pattern_run(fill_item, itemsize, nbytes);
    struct iovec *iov = malloc(sizeof(struct iovec) * MAX_IOV);
    size_t temp_cap = 0;
    char *temp = NULL;
    int32_t *reason = c.reason, *err = c.err;
    /* a scalar value (strides 0): whole chunks of it are made once */
    int scalar = 1;
    for (int d = 0; d < ndim; d++) scalar &= sstr[d] == 0;
    char *value_chunk = scalar ? pattern_run(base, itemsize, nbytes) : NULL;
    int scalar_fill = scalar && memcmp(base, fill_item, (size_t)itemsize) == 0;
    if (!chunk || (compress && !packed) || !fill_chunk || !iov || (scalar && !value_chunk))
        failed = 1;
    for (Py_ssize_t i = c.start; i < c.stop && !failed; i++) {
        const int64_t *e = c.extent + i * ndim;
        const int64_t coff = c.coff[i - c.start];
        const char *from = base + c.doff[i - c.start];
        const char *file = c.files[i - c.start];
        err[i] = 0;
        int whole = 1;
        for (int d = 0; d < ndim; d++) whole &= e[d] == cshape[d];
        walk_t w; /* (for a scalar: the chunk's side only) */
        int nonempty = walk_init(&w, ndim, e, cstr, scalar ? cstr : sstr, itemsize);
        int nio = -1, merged = merges[i];
        if (!merged && !compress && whole && !skip_fill && nonempty && !scalar)
            nio = walk_iov(&w, (char *)from, iov, MAX_IOV); /* raw: write from the value */
        if (!merged && skip_fill &&
            (!nonempty || (scalar ? scalar_fill : walk_equal(&w, from, fill_chunk)))) {
            /* the value's part is all fill (the rest of an edge chunk is fill anyway) */
            if (unlink(file) == 0 || errno == ENOENT) DEFER_AS(R_REMOVED);
            err[i] = errno;
            DEFER_AS(R_OS_ERROR);
        }
        const char *data = chunk;
        int64_t size = nbytes;
        if (nio < 0) {
            if (scalar && whole && !merged) {
                data = value_chunk;
            } else {
                if (merged) {
                    if (!load_chunk(file, chunk, nbytes, decompress, fill_chunk, tls, &reason[i],
                                    &err[i]))
                        continue;
                } else if (!whole) {
                    memcpy(chunk, fill_chunk, (size_t)nbytes);
                }
                if (nonempty)
                    walk_copy(&w, chunk + coff, scalar ? NULL : from, scalar ? value_chunk : NULL);
                if (merged && skip_fill && memcmp(chunk, fill_chunk, (size_t)nbytes) == 0) {
                    if (unlink(file) == 0 || errno == ENOENT) DEFER_AS(R_REMOVED);
                    err[i] = errno;
                    DEFER_AS(R_OS_ERROR);
                }
            }
            if (compress) {
                int r = compress(codec->clevel, codec->shuffle, (size_t)itemsize, (size_t)nbytes,
                                 data, packed, (size_t)nbytes + BLOSC_OVERHEAD, codec->cname,
                                 (size_t)codec->blocksize, 1);
                if (r <= 0) DEFER_AS(R_CODEC_ERROR);
                data = packed;
                size = r;
            }
        }
        /* the temporary file: "<folder>/<lead><name><middle><16 hex><end>" */
        const char *slash = strrchr(file, '/');
        size_t folder_len = slash ? (size_t)(slash - file) + 1 : 0;
        size_t need = strlen(file) + (size_t)(part_len[0] + part_len[1] + part_len[2]) + 32;
        if (need > temp_cap) {
            free(temp);
            temp_cap = need * 2;
            temp = malloc(temp_cap);
            if (!temp) {
                failed = 1;
                break;
            }
        }
        memcpy(temp, file, folder_len);
        snprintf(temp + folder_len, temp_cap - folder_len, "%s%s%s%016llx%s", part[0],
                 file + folder_len, part[1], (unsigned long long)i, part[2]);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) { /* e.g. no folder yet: the caller makes it */
            err[i] = errno;
            DEFER_AS(R_OS_ERROR);
        }
        int bad = nio >= 0 ? writev_all(fd, iov, nio) : write_all(fd, data, size);
        if (bad) err[i] = errno;
        if (close(fd) != 0 && !bad) {
            bad = 1;
            err[i] = errno;
        }
        if (!bad && rename(temp, file) != 0) {
            bad = 1;
            err[i] = errno;
        }
        if (bad) {
            unlink(temp);
            DEFER_AS(R_OS_ERROR);
        }
        reason[i] = R_DONE;
    }
    free(fill_chunk);
    free(value_chunk);
    free(iov);
    free(temp);
    Py_END_ALLOW_THREADS
    PyMem_Free(fill_item);
    call_release(&c);
    if (failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ---- the module ------------------------------------------------------------------------- */

PyDoc_STRVAR(check_doc,
"check_plan(codec, table, paths, data, strides, status, merge) -> None\n\n"
"The checks read_chunks (``merge`` None) or write_chunks make of their buffers, for the whole\n"
"plan at once: the pipeline calls it before a plan's runs start in parallel, so that a plan\n"
"that does not fit is refused before any of its chunks is touched.");

static PyObject *check_plan(PyObject *self, PyObject *args) {
    codec_t *codec;
    PyObject *table, *paths, *data, *strides, *status, *merge;
    if (!PyArg_ParseTuple(args, "O!OO!OOOO", &codec_type, &codec, &table, &PyList_Type, &paths,
                          &data, &strides, &status, &merge))
        return NULL;
    call_t c;
    int ok = call_start(&c, codec, table, paths, data, merge == Py_None, strides, status,
                        merge == Py_None ? NULL : merge, 0, PyList_GET_SIZE(paths));
    call_release(&c);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_frame_ok(PyObject *self, PyObject *args) {
    Py_buffer view;
    long long nbytes;
    if (!PyArg_ParseTuple(args, "y*L", &view, &nbytes)) return NULL;
    int ok = nbytes >= 0 && frame_ok((const unsigned char *)view.buf, (int64_t)view.len,
                                     (int64_t)nbytes);
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

static PyObject *scratch_count(PyObject *self, PyObject *unused) {
    return PyLong_FromLongLong((long long)__atomic_load_n(&live_scratch, __ATOMIC_RELAXED));
}

static PyMethodDef methods[] = {
    {"read_chunks", read_chunks, METH_VARARGS, read_doc},
    {"read_ranges", read_ranges, METH_VARARGS, read_ranges_doc},
    {"write_chunks", write_chunks, METH_VARARGS, write_doc},
    {"check_plan", check_plan, METH_VARARGS, check_doc},
    {"frame_ok", py_frame_ok, METH_VARARGS,
     "frame_ok(frame, nbytes) -> bool\n\nWhether the bytes-like ``frame`` is a structurally\n"
     "whole Blosc frame of ``nbytes`` decoded bytes (the loop's check, for the Python path)."},
    {"scratch_count", scratch_count, METH_NOARGS,
     "scratch_count() -> int\n\nThe scratch buffers mapped by live threads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The chunk pipeline's loop over chunk files, without the GIL (see pipeline/native.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (!scratch_key_ok) {
        if (pthread_key_create(&scratch_key, scratch_free) != 0) {
            PyErr_SetString(PyExc_OSError, "no thread key for the scratch buffers");
            return NULL;
        }
        scratch_key_ok = 1;
    }
    if (PyType_Ready(&codec_type) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    PyObject *reasons = PyDict_New();
    if (!reasons) goto fail;
#define AS_ITEM(name, value)                                            \
    {                                                                   \
        PyObject *v = PyLong_FromLong(value);                           \
        if (!v || PyDict_SetItemString(reasons, #name, v) < 0) {        \
            Py_XDECREF(v);                                              \
            Py_DECREF(reasons);                                         \
            goto fail;                                                  \
        }                                                               \
        Py_DECREF(v);                                                   \
    }
    REASONS(AS_ITEM)
#undef AS_ITEM
    if (PyModule_AddObject(m, "REASONS", reasons) < 0) {
        Py_DECREF(reasons);
        goto fail;
    }
    Py_INCREF(&codec_type);
    if (PyModule_AddObject(m, "Codec", (PyObject *)&codec_type) < 0) {
        Py_DECREF(&codec_type);
        goto fail;
    }
    if (PyModule_AddIntConstant(m, "MAXDIM", MAXDIM) < 0 ||
        PyModule_AddIntConstant(m, "BLOSC_OVERHEAD", BLOSC_OVERHEAD) < 0 ||
        PyModule_AddIntConstant(m, "FIRST_DEFERRED", FIRST_DEFERRED) < 0 ||
        PyModule_AddIntConstant(m, "TEMP_PART_MAX", TEMP_PART_MAX) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
