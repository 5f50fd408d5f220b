/* The hot loop of the chunk pipeline for chunk files (DirectoryStore), without the GIL.
 *
 * Two functions, each running a run of chunks of one read or write from start to end in the
 * calling thread with the GIL released (the pipeline calls them from its pool threads):
 *
 *   read_chunks   open, read, check the frame, decode (Blosc) and copy each chunk's region
 *                 into the output; a missing file gets the fill value
 *   write_chunks  gather each whole chunk's region from the value (fill value around edge
 *                 chunks), encode (Blosc) and write it through a temporary file and a rename
 *
 * The pure-Python pipeline stays the reference: anything out of the ordinary for a chunk
 * (a frame that does not check out, an error from the system or the codec, a missing
 * folder, anything but a regular file at its path) gives the status DEFER, and the Python
 * path redoes that chunk and raises its usual error. Blosc is c-blosc as numcodecs ships it: the pipeline passes the addresses of
 * blosc_compress_ctx / blosc_decompress_ctx (checked against numcodecs first), so nothing
 * here links to a codec library.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
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

enum { DONE = 0, FILLED = 1, DEFER = 2 };

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
 * allocations of chunk size are fresh pages, which the kernel zeroes on every call. */
static __thread char *tl_buf[3];
static __thread size_t tl_cap[3];

static char *scratch(int which, size_t need) {
    if (tl_cap[which] < need) {
        /* mapped, not malloc'ed: only the pages used count, and they never grow an arena */
        if (tl_buf[which]) munmap(tl_buf[which], tl_cap[which]);
        void *p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        tl_buf[which] = p == MAP_FAILED ? NULL : (char *)p;
        tl_cap[which] = tl_buf[which] ? need : 0;
    }
    return tl_buf[which];
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

/* the chunk file ``file`` opened for reading: a descriptor, or -1 with errno ENOENT when there
 * is none, or -1 with another errno (the caller leaves it to the Python path) when it cannot
 * be opened or is not a regular file. It is opened without blocking: a FIFO at the path
 * would wait for a writer forever, and a device would be read without end. */
static int open_chunk(const char *file) {
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
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
 * read when the sizes its header records check out against them, else 0 */
static int64_t read_frame(int fd, char *frame, int64_t cap, int64_t nbytes) {
    int64_t got = frame ? read_all(fd, frame, cap) : -1;
    close(fd);
    if (got < BLOSC_OVERHEAD || got >= cap) return 0;
    const unsigned char *h = (const unsigned char *)frame;
    return le32(h + 4) == (uint32_t)nbytes && le32(h + 12) <= (uint64_t)got ? got : 0;
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

/* pointers to the bytes items of ``list`` (borrowed: the list must outlive their use) */
static const char **path_pointers(PyObject *list, Py_ssize_t n) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != n) {
        PyErr_SetString(PyExc_ValueError, "paths: a list of one bytes object per chunk");
        return NULL;
    }
    const char **out = PyMem_Malloc(sizeof(char *) * (size_t)(n ? n : 1));
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyBytes_Check(item)) {
            PyMem_Free(out);
            PyErr_SetString(PyExc_TypeError, "paths: bytes expected");
            return NULL;
        }
        out[i] = PyBytes_AS_STRING(item);
    }
    return out;
}

/* the end of a call: its result, or NULL with MemoryError when a buffer could not be had;
 * ``files`` freed and every buffer of the NULL-terminated ``buffers`` released */
static PyObject *finish(PyObject *result, int failed, const char **files, Py_buffer **buffers) {
    if (failed && result) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
    PyMem_Free(files);
    for (; *buffers; buffers++) PyBuffer_Release(*buffers);
    return result;
}

/* the paths' pointers and the status bytes of a call on ``n`` chunks of ``ndim`` dimensions;
 * false, with an error set, when it cannot run (``bad``: its other arguments do not fit) */
static int start_call(PyObject *paths, Py_ssize_t n, Py_ssize_t ndim, Py_ssize_t itemsize,
                      Py_ssize_t nbytes, int bad, const char ***files, PyObject **result) {
    if (bad || ndim > MAXDIM || itemsize <= 0 || nbytes <= 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "unsupported layout");
        return 0;
    }
    *files = path_pointers(paths, n);
    if (!*files) return 0;
    *result = PyBytes_FromStringAndSize(NULL, n);
    return *result != NULL;
}

static int check_vector(Py_buffer *b, Py_ssize_t n, const char *what) {
    if (b->len != n * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_Format(PyExc_ValueError, "%s: %zd int64 values expected", what, n);
        return -1;
    }
    return 0;
}

/* a run of ``size`` bytes holding ``pattern`` (``itemsize`` bytes) over and over */
static char *pattern_run(const char *pattern, int64_t itemsize, int64_t size) {
    char *run = malloc((size_t)(size > 0 ? size : 1));
    if (!run) return NULL;
    for (int64_t o = 0; o < size; o += itemsize) memcpy(run + o, pattern, (size_t)itemsize);
    return run;
}

PyDoc_STRVAR(read_doc,
"read_chunks(dst, paths, dst_off, chunk_off, extents, dst_strides, chunk_strides, chunk_shape,\n"
"            itemsize, chunk_nbytes, fill, decompress, direct, getitem, partial_limit)\n"
"            -> bytes\n\n"
"Read chunk files into the array at address ``dst``: chunk i's region (``extents[i]``,\n"
"starting ``chunk_off[i]`` bytes into the decoded chunk) goes to ``dst + dst_off[i]``.\n"
"``fill``: the fill value's bytes for missing chunks (empty: leave them). ``decompress``: the\n"
"address of blosc_decompress_ctx, 0 for uncompressed chunks. ``direct``: a whole chunk's\n"
"region of ``dst`` has the chunk's own layout. ``getitem``: the address of blosc_getitem,\n"
"to decode only the blocks of a region spanning at most ``partial_limit`` bytes of its chunk\n"
"(0: never), once the whole frame's structure checks out. One status per chunk: 0 read,\n"
"1 missing, 2 not done (the caller reads it: a frame or file that does not check out,\n"
"anything but a regular file).");

static PyObject *read_chunks(PyObject *self, PyObject *args) {
    unsigned long long dst_addr, decompress_addr, getitem_addr;
    PyObject *paths;
    Py_buffer dst_off, chunk_off, ext, dst_str, chunk_str, shape, fill;
    Py_ssize_t itemsize, nbytes, partial_limit;
    int direct;
    if (!PyArg_ParseTuple(args, "KOy*y*y*y*y*y*nny*KpKn", &dst_addr, &paths, &dst_off,
                          &chunk_off, &ext, &dst_str, &chunk_str, &shape, &itemsize, &nbytes,
                          &fill, &decompress_addr, &direct, &getitem_addr, &partial_limit))
        return NULL;
    PyObject *result = NULL;
    const char **files = NULL;
    int failed = 0;
    Py_ssize_t n = dst_off.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t ndim = shape.len / (Py_ssize_t)sizeof(int64_t);
    int bad = check_vector(&chunk_off, n, "chunk_off") ||
              check_vector(&ext, n * ndim, "extents") ||
              check_vector(&dst_str, ndim, "dst_strides") ||
              check_vector(&chunk_str, ndim, "chunk_strides") ||
              (fill.len != 0 && fill.len != itemsize);
    if (!start_call(paths, n, ndim, itemsize, nbytes, bad, &files, &result)) goto done;
    {
        unsigned char *status = (unsigned char *)PyBytes_AS_STRING(result);
        char *base = (char *)(uintptr_t)dst_addr;
        const int64_t *doff = dst_off.buf, *coff = chunk_off.buf, *ex = ext.buf;
        const int64_t *dstr = dst_str.buf, *cstr = chunk_str.buf, *cshape = shape.buf;
        decompress_fn decompress = (decompress_fn)(uintptr_t)decompress_addr;
        getitem_fn getitem = (getitem_fn)(uintptr_t)getitem_addr;
        /* a Blosc frame is at most 16 bytes longer than its data; one byte more tells a
         * longer file */
        int64_t cap = nbytes + (decompress ? BLOSC_OVERHEAD : 0) + 1;
        Py_BEGIN_ALLOW_THREADS
        char *frame = scratch(0, (size_t)cap);
        char *fill_run = NULL;
        struct iovec *iov = malloc(sizeof(struct iovec) * (MAX_IOV + 1));
        if (!frame || !iov) failed = 1;
        for (Py_ssize_t i = 0; i < n && !failed; i++) {
            const int64_t *e = ex + i * ndim;
            char *dest = base + doff[i];
            int whole = 1;
            for (Py_ssize_t d = 0; d < ndim; d++) whole &= e[d] == cshape[d];
            status[i] = DEFER;
            int fd = open_chunk(files[i]);
            if (fd < 0) {
                if (errno != ENOENT) continue;
                if (fill.len) {
                    walk_t w;
                    if (walk_init(&w, (int)ndim, e, dstr, dstr, itemsize)) {
                        if (!fill_run) fill_run = pattern_run(fill.buf, itemsize, nbytes);
                        if (!fill_run) continue;
                        walk_copy(&w, dest, NULL, fill_run);
                    }
                }
                status[i] = FILLED;
                continue;
            }
            walk_t w;
            int nonempty = walk_init(&w, (int)ndim, e, dstr, cstr, itemsize);
            if (!decompress) {
                /* uncompressed: a whole chunk is read straight into the output (one read when
                 * the output region has the chunk's layout, else readv into its runs); one
                 * byte more is asked for, to tell a longer file */
                int64_t got = -1;
                walk_t o;
                int nio = -1;
                if (whole && nonempty && !direct) {
                    walk_init(&o, (int)ndim, e, cstr, dstr, itemsize);
                    nio = walk_iov(&o, dest, iov, MAX_IOV);  /* -1: read and copy */
                }
                if (whole && nonempty && direct) {
                    got = read_all(fd, dest, nbytes);
                    if (got == nbytes) got += read_all(fd, frame, 1);
                } else if (nio > 0) {
                    iov[nio].iov_base = frame;
                    iov[nio].iov_len = 1;
                    ssize_t r;
                    do {
                        r = readv(fd, iov, nio + 1);
                    } while (r < 0 && errno == EINTR);
                    got = r;  /* a short read leaves it to the caller */
                } else {
                    got = read_all(fd, frame, cap);
                    if (got == nbytes && nonempty) walk_copy(&w, dest, frame + coff[i], NULL);
                }
                close(fd);
                if (got == nbytes) status[i] = DONE;
                continue;
            }
            int64_t size = read_frame(fd, frame, cap, nbytes);
            if (!size) continue;
            if (whole && direct) {
                if (decompress(frame, dest, (size_t)nbytes, 1) == nbytes) status[i] = DONE;
                continue;
            }
            if (!nonempty) {
                status[i] = DONE;
                continue;
            }
            /* a small region: only the blocks holding it (blosc_getitem), once the whole
             * frame's structure checks out; the Python path takes the same decision (the
             * same span, the same limit) and raises for a frame refused here */
            int64_t span = itemsize;
            for (Py_ssize_t d = 0; d < ndim; d++) span += (e[d] - 1) * cstr[d];
            if (getitem && span <= partial_limit) {
                if (!frame_ok((const unsigned char *)frame, size, nbytes)) continue;
                int64_t t = (unsigned char)frame[3];  /* the frame's item size */
                if (coff[i] % t == 0 && span % t == 0) {
                    char *part = scratch(1, (size_t)nbytes);
                    if (!part ||
                        getitem(frame, (int)(coff[i] / t), (int)(span / t), part) != span)
                        continue;
                    walk_copy(&w, dest, part, NULL);
                    status[i] = DONE;
                    continue;
                }
            }
            char *chunk = scratch(1, (size_t)nbytes);
            if (!chunk || decompress(frame, chunk, (size_t)nbytes, 1) != nbytes) continue;
            walk_copy(&w, dest, chunk + coff[i], NULL);
            status[i] = DONE;
        }
        free(fill_run);
        free(iov);
        Py_END_ALLOW_THREADS
    }
done:
    return finish(result, failed, files,
                  (Py_buffer *[]){&dst_off, &chunk_off, &ext, &dst_str, &chunk_str, &shape,
                                  &fill, NULL});
}

/* the chunk stored in ``file`` decoded into ``chunk`` (``fill_chunk`` when there is none);
 * false when it cannot be (a frame that does not check out, a system or codec error) */
static int load_chunk(const char *file, char *chunk, int64_t nbytes, decompress_fn decompress,
                      const char *fill_chunk) {
    int fd = open_chunk(file);
    if (fd < 0) {
        if (errno != ENOENT) return 0;
        memcpy(chunk, fill_chunk, (size_t)nbytes);
        return 1;
    }
    int64_t got;
    if (!decompress) {
        char extra;
        got = read_all(fd, chunk, nbytes);
        if (got == nbytes) got += read_all(fd, &extra, 1);
        close(fd);
        return got == nbytes;
    }
    int64_t cap = nbytes + BLOSC_OVERHEAD + 1;
    char *frame = scratch(0, (size_t)cap);
    return read_frame(fd, frame, cap, nbytes) &&
           decompress(frame, chunk, (size_t)nbytes, 1) == nbytes;
}

PyDoc_STRVAR(write_doc,
"write_chunks(src, paths, src_off, chunk_off, merge, extents, src_strides, chunk_strides,\n"
"             chunk_shape, itemsize, chunk_nbytes, fill, skip_fill, temp_lead, temp_middle,\n"
"             temp_end, compress, cname,\n"
"             clevel, shuffle, blocksize, decompress) -> bytes\n\n"
"Write chunks from the array at address ``src``: chunk i gets the region ``extents[i]`` at\n"
"``src + src_off[i]``, ``chunk_off[i]`` bytes into the chunk. With ``merge[i]`` the chunk\n"
"stored is read first (``decompress``: blosc_decompress_ctx's address, 0: raw items) and the\n"
"region written over it; otherwise the region is the whole chunk and the rest of an edge\n"
"chunk holds ``fill`` (the fill value's bytes), as does a chunk not stored yet.\n"
"With ``skip_fill`` a chunk that is all fill is removed instead. Each file is written to\n"
"``<temp_lead><name><temp_middle><i as 16 hex digits><temp_end>`` in its folder (the temporary\n"
"name rule of storage/files.py, LocalFiles.native_temp_rule), then renamed. ``compress``:\n"
"the address of blosc_compress_ctx, 0 to store the items as they are. One status per\n"
"chunk: 0 written, 1 removed, 2 not done (the caller writes it).");

static PyObject *write_chunks(PyObject *self, PyObject *args) {
    unsigned long long src_addr, compress_addr, decompress_addr;
    PyObject *paths;
    Py_buffer src_off, chunk_off, merge, ext, src_str, chunk_str, shape, fill, cname;
    Py_buffer t_lead, t_mid, t_end; /* the temporary files' name around the name and index */
    Py_ssize_t itemsize, nbytes, blocksize;
    int skip_fill, clevel, shuffle;
    if (!PyArg_ParseTuple(args, "KOy*y*y*y*y*y*y*nny*py*y*y*Ky*iinK", &src_addr, &paths,
                          &src_off, &chunk_off, &merge, &ext, &src_str, &chunk_str, &shape,
                          &itemsize, &nbytes, &fill, &skip_fill, &t_lead, &t_mid, &t_end,
                          &compress_addr, &cname, &clevel, &shuffle, &blocksize,
                          &decompress_addr))
        return NULL;
    PyObject *result = NULL;
    const char **files = NULL;
    int failed = 0;
    Py_ssize_t n = src_off.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t ndim = shape.len / (Py_ssize_t)sizeof(int64_t);
    int bad = fill.len != itemsize || t_lead.len > 64 || t_mid.len > 64 || t_end.len > 64 ||
              memchr(t_lead.buf, 0, (size_t)t_lead.len) || memchr(t_mid.buf, 0, (size_t)t_mid.len) ||
              memchr(t_end.buf, 0, (size_t)t_end.len) || cname.len > 32 ||
              memchr(cname.buf, 0, (size_t)cname.len) || merge.len != n ||
              check_vector(&chunk_off, n, "chunk_off") || check_vector(&ext, n * ndim, "extents") ||
              check_vector(&src_str, ndim, "src_strides") ||
              check_vector(&chunk_str, ndim, "chunk_strides");
    if (!start_call(paths, n, ndim, itemsize, nbytes, bad, &files, &result)) goto done;
    {
        unsigned char *status = (unsigned char *)PyBytes_AS_STRING(result);
        const char *base = (const char *)(uintptr_t)src_addr;
        const int64_t *soff = src_off.buf, *coff = chunk_off.buf, *ex = ext.buf;
        const unsigned char *merges = merge.buf;
        decompress_fn decompress = (decompress_fn)(uintptr_t)decompress_addr;
        const int64_t *sstr = src_str.buf, *cstr = chunk_str.buf, *cshape = shape.buf;
        compress_fn compress = (compress_fn)(uintptr_t)compress_addr;
        char name_of_codec[33];
        memcpy(name_of_codec, cname.buf, (size_t)cname.len);
        name_of_codec[cname.len] = 0;
        char lead_text[65], mid_text[65], end_text[65];
        memcpy(lead_text, t_lead.buf, (size_t)t_lead.len);
        lead_text[t_lead.len] = 0;
        memcpy(mid_text, t_mid.buf, (size_t)t_mid.len);
        mid_text[t_mid.len] = 0;
        memcpy(end_text, t_end.buf, (size_t)t_end.len);
        end_text[t_end.len] = 0;
        Py_BEGIN_ALLOW_THREADS
        char *chunk = scratch(1, (size_t)nbytes);
        char *packed = compress ? scratch(2, (size_t)nbytes + BLOSC_OVERHEAD) : NULL;
        char *fill_chunk = pattern_run(fill.buf, itemsize, nbytes);
        struct iovec *iov = malloc(sizeof(struct iovec) * MAX_IOV);
        size_t temp_cap = 0;
        char *temp = NULL;
        /* a scalar value (strides 0): whole chunks of it are made once */
        int scalar = ndim > 0;
        for (Py_ssize_t d = 0; d < ndim; d++) scalar &= sstr[d] == 0;
        char *value_chunk = scalar ? pattern_run(base, itemsize, nbytes) : NULL;
        int scalar_fill = scalar && memcmp(base, fill.buf, (size_t)itemsize) == 0;
        if (!chunk || (compress && !packed) || !fill_chunk || !iov || (scalar && !value_chunk))
            failed = 1;
        for (Py_ssize_t i = 0; i < n && !failed; i++) {
            const int64_t *e = ex + i * ndim;
            const char *from = base + soff[i];
            const char *file = files[i];
            status[i] = DEFER;
            int whole = 1;
            for (Py_ssize_t d = 0; d < ndim; d++) whole &= e[d] == cshape[d];
            walk_t w;  /* (for a scalar: the chunk's side only) */
            int nonempty = walk_init(&w, (int)ndim, e, cstr, scalar ? cstr : sstr, itemsize);
            int nio = -1, merged = merges[i];
            if (!merged && !compress && whole && !skip_fill && nonempty && !scalar)
                nio = walk_iov(&w, (char *)from, iov, MAX_IOV);  /* raw: write from the value */
            if (!merged && skip_fill &&
                (!nonempty || (scalar ? scalar_fill : walk_equal(&w, from, fill_chunk)))) {
                /* the value's part is all fill (the rest of an edge chunk is fill anyway) */
                if (unlink(file) == 0 || errno == ENOENT) status[i] = FILLED;
                continue;
            }
            const char *data = chunk;
            int64_t size = nbytes;
            if (nio < 0) {
                if (scalar && whole && !merged) {
                    data = value_chunk;
                } else {
                    if (merged) {
                        if (!load_chunk(file, chunk, nbytes, decompress, fill_chunk)) continue;
                    } else if (!whole) {
                        memcpy(chunk, fill_chunk, (size_t)nbytes);
                    }
                    if (nonempty)
                        walk_copy(&w, chunk + coff[i], scalar ? NULL : from,
                                  scalar ? value_chunk : NULL);
                    if (merged && skip_fill && memcmp(chunk, fill_chunk, (size_t)nbytes) == 0) {
                        if (unlink(file) == 0 || errno == ENOENT) status[i] = FILLED;
                        continue;
                    }
                }
                if (compress) {
                    int r = compress(clevel, shuffle, (size_t)itemsize, (size_t)nbytes, data,
                                     packed, (size_t)nbytes + BLOSC_OVERHEAD, name_of_codec,
                                     (size_t)blocksize, 1);
                    if (r <= 0) continue;
                    data = packed;
                    size = r;
                }
            }
            /* the temporary file: "<folder>/<lead><name><middle><16 hex><end>" */
            const char *slash = strrchr(file, '/');
            size_t folder_len = slash ? (size_t)(slash - file) + 1 : 0;
            size_t need = strlen(file) + (size_t)(t_lead.len + t_mid.len + t_end.len) + 32;
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
            snprintf(temp + folder_len, temp_cap - folder_len, "%s%s%s%016llx%s", lead_text,
                     file + folder_len, mid_text, (unsigned long long)i, end_text);
            int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd < 0) continue;  /* e.g. no folder yet: the caller makes it */
            int bad = nio >= 0 ? writev_all(fd, iov, nio) : write_all(fd, data, size);
            bad |= close(fd);
            if (bad || rename(temp, file) != 0) {
                unlink(temp);
                continue;
            }
            status[i] = DONE;
        }
        free(fill_chunk);
        free(value_chunk);
        free(iov);
        free(temp);
        Py_END_ALLOW_THREADS
    }
done:
    return finish(result, failed, files,
                  (Py_buffer *[]){&src_off, &chunk_off, &merge, &ext, &src_str, &chunk_str,
                                  &shape, &fill, &t_lead, &t_mid, &t_end, &cname, NULL});
}

static PyMethodDef methods[] = {
    {"read_chunks", read_chunks, METH_VARARGS, read_doc},
    {"write_chunks", write_chunks, METH_VARARGS, write_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The chunk pipeline's loop over chunk files, without the GIL (see pipeline/native.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
