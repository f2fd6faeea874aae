"""c3fs_usrbio — USRBIO for Python: ctypes over libc3fs-usrbio.so (include/c3fs/usrbio.h).

No build step.  The library is found through $C3FS_USRBIO_LIB, then build/release/lib and
build/lib of this checkout, then the system's loader path.  numpy is optional:
Iov.numpy() is an ndarray view of the shared buffer; Iov.view() is a memoryview.

    import c3fs_usrbio as ub
    mp = ub.extract_mount_point("/mnt/c3fs/data")
    iov = ub.Iov(mp, 16 << 20)
    ior = ub.Ior(mp, entries=16, for_read=True)
    with open("/mnt/c3fs/data/f", "rb") as f:
        fd = ub.reg_fd(f.fileno())
        ior.prep(iov, True, 0, fd, 0, 1 << 20, userdata=7)
        ior.submit()
        for index, result, userdata in ior.wait(1):
            data = iov.view()[0:result]
        ub.dereg_fd(fd)
    ior.close(); iov.close()
    ub.hardlink("/mnt/c3fs/data/f", "/mnt/c3fs/data/g")       # 3FS's hardlink
    ub.punch_hole("/mnt/c3fs/data/f", [0], [1 << 20])          # 3FS's punch_hole
Errors raise OSError(errno).
"""
import ctypes
import ctypes.util
import os

__all__ = ["Iov", "Ior", "reg_fd", "dereg_fd", "is_c3fs", "extract_mount_point",
           "hardlink", "punch_hole", "punchhole", "PUNCH_HOLE_MAX",
           "ALLOW_READ_UNCOMMITTED", "FORBID_READ_HOLES"]

ALLOW_READ_UNCOMMITTED = 1
FORBID_READ_HOLES = 2
PUNCH_HOLE_MAX = 1000


def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    cands = [os.environ.get("C3FS_USRBIO_LIB", "")]
    cands += [os.path.join(root, "build", d, "lib", "libc3fs-usrbio.so") for d in ("release", "")]
    cands += [ctypes.util.find_library("c3fs-usrbio") or ""]
    for c in cands:
        if c and (os.path.exists(c) or "/" not in c):
            try:
                return ctypes.CDLL(c, use_errno=True)
            except OSError:
                continue
    raise OSError("libc3fs-usrbio.so not found (set C3FS_USRBIO_LIB)")


class _IovS(ctypes.Structure):
    _fields_ = [("base", ctypes.POINTER(ctypes.c_uint8)), ("iovh", ctypes.c_void_p),
                ("id", ctypes.c_char * 16), ("mount_point", ctypes.c_char * 256),
                ("size", ctypes.c_size_t), ("block_size", ctypes.c_size_t), ("numa", ctypes.c_int)]


class _IorS(ctypes.Structure):
    _fields_ = [("iov", _IovS), ("iorh", ctypes.c_void_p), ("mount_point", ctypes.c_char * 256),
                ("for_read", ctypes.c_bool), ("io_depth", ctypes.c_int), ("priority", ctypes.c_int),
                ("timeout", ctypes.c_int), ("flags", ctypes.c_uint64)]


class _CqeS(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int32), ("reserved", ctypes.c_int32),
                ("result", ctypes.c_int64), ("userdata", ctypes.c_void_p)]


_lib = _load()
_P = ctypes.POINTER
_lib.c3fs_is_c3fs.argtypes = [ctypes.c_int]
_lib.c3fs_is_c3fs.restype = ctypes.c_bool
_lib.c3fs_extract_mount_point.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
_lib.c3fs_iovcreate.argtypes = [_P(_IovS), ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
_lib.c3fs_iovopen.argtypes = [_P(_IovS), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                              ctypes.c_size_t, ctypes.c_int]
_lib.c3fs_iovunlink.argtypes = [_P(_IovS)]
_lib.c3fs_iovunlink.restype = None
_lib.c3fs_iovdestroy.argtypes = [_P(_IovS)]
_lib.c3fs_iovdestroy.restype = None
_lib.c3fs_ior_size.argtypes = [ctypes.c_int]
_lib.c3fs_ior_size.restype = ctypes.c_size_t
_lib.c3fs_iorcreate4.argtypes = [_P(_IorS), ctypes.c_char_p, ctypes.c_int, ctypes.c_bool, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_uint64]
_lib.c3fs_iorcreate3.argtypes = [_P(_IorS), ctypes.c_char_p, ctypes.c_int, ctypes.c_bool, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_int]
_lib.c3fs_iordestroy.argtypes = [_P(_IorS)]
_lib.c3fs_iordestroy.restype = None
_lib.c3fs_reg_fd.argtypes = [ctypes.c_int, ctypes.c_uint64]
_lib.c3fs_dereg_fd.argtypes = [ctypes.c_int]
_lib.c3fs_dereg_fd.restype = None
_lib.c3fs_io_entries.argtypes = [_P(_IorS)]
_lib.c3fs_prep_io.argtypes = [_P(_IorS), _P(_IovS), ctypes.c_bool, ctypes.c_void_p, ctypes.c_int,
                              ctypes.c_size_t, ctypes.c_uint64, ctypes.c_void_p]
_lib.c3fs_submit_ios.argtypes = [_P(_IorS)]
_lib.c3fs_hardlink.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.c3fs_punchhole.argtypes = [ctypes.c_int, ctypes.c_int, _P(ctypes.c_size_t), _P(ctypes.c_size_t),
                                ctypes.c_size_t]
_lib.c3fs_wait_for_ios.argtypes = [_P(_IorS), _P(_CqeS), ctypes.c_int, ctypes.c_int, ctypes.c_void_p]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _check(rc):
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc))
    return rc


def is_c3fs(fd):
    return bool(_lib.c3fs_is_c3fs(fd))


def extract_mount_point(path):
    buf = ctypes.create_string_buffer(4096)
    if _lib.c3fs_extract_mount_point(buf, len(buf), os.fsencode(path)) < 0:
        raise OSError(2, "not in a c3fs mount: %s" % path)
    return buf.value.decode()


def reg_fd(fd, flags=0):
    """Register fd; returns the value to pass to Ior.prep (<= 0)."""
    rc = _lib.c3fs_reg_fd(fd, flags)
    if rc > 0:
        raise OSError(rc, os.strerror(rc))
    return rc


def dereg_fd(fd):
    _lib.c3fs_dereg_fd(fd)


def hardlink(target, link_name):
    """A new entry link_name for the file target (link(2) rules, same mount)."""
    rc = _lib.c3fs_hardlink(os.fsencode(target), os.fsencode(link_name))
    if rc:
        raise OSError(rc, os.strerror(rc), link_name)


def punch_hole(file, start, end, flags=0):
    """Punch the holes [start[i], end[i]) (at most PUNCH_HOLE_MAX) in file: an fd open for
    writing, or a path (opened read-write for the call).  Size unchanged; the ranges read
    as zeros.  3FS's hf3fs_fuse.io.punch_hole shape."""
    if len(start) != len(end) or len(start) > PUNCH_HOLE_MAX:
        raise ValueError("start and end: same length, at most %d ranges" % PUNCH_HOLE_MAX)
    n = len(start)
    s = (ctypes.c_size_t * max(n, 1))(*start)
    e = (ctypes.c_size_t * max(n, 1))(*end)
    fd = file if isinstance(file, int) else os.open(file, os.O_RDWR | os.O_CLOEXEC)
    try:
        rc = _lib.c3fs_punchhole(fd, n, s, e, flags)
    finally:
        if fd is not file:
            os.close(fd)
    if rc:
        raise OSError(rc, os.strerror(rc))


punchhole = punch_hole


class Iov:
    """A shared-memory buffer: Iov(mp, size) creates, Iov(mp, size, id=bytes16) opens."""

    def __init__(self, mount_point, size, block_size=0, numa=-1, id=None):
        self._s = _IovS()
        mp = os.fsencode(mount_point)
        if id is None:
            _check(_lib.c3fs_iovcreate(ctypes.byref(self._s), mp, size, block_size, numa))
        else:
            _check(_lib.c3fs_iovopen(ctypes.byref(self._s), bytes(id), mp, size, block_size, numa))
        self.size = size

    @property
    def id(self):
        return bytes(self._s.id)

    def addr(self, off=0):
        return ctypes.addressof(self._s.base.contents) + off

    def view(self):
        """memoryview of the whole buffer (valid until close)."""
        return memoryview((ctypes.c_uint8 * self.size).from_address(self.addr())).cast("B")

    def numpy(self):
        import numpy
        return numpy.frombuffer(self.view(), dtype=numpy.uint8)

    def unlink(self):
        _lib.c3fs_iovunlink(ctypes.byref(self._s))

    def close(self):
        if self._s.iovh:
            _lib.c3fs_iovdestroy(ctypes.byref(self._s))


class Ior:
    """A ring: Ior(mp, entries, for_read, io_depth=0, priority=0, timeout=0, flags=0)."""

    def __init__(self, mount_point, entries, for_read, io_depth=0, priority=0, timeout=0, flags=0,
                 numa=-1):
        self._s = _IorS()
        mp = os.fsencode(mount_point)
        if flags:
            _check(_lib.c3fs_iorcreate4(ctypes.byref(self._s), mp, entries, for_read, io_depth,
                                        timeout, numa, flags))
        else:
            _check(_lib.c3fs_iorcreate3(ctypes.byref(self._s), mp, entries, for_read, io_depth,
                                        priority, timeout, numa))
        self.entries = entries
        self._cqes = (_CqeS * entries)()

    def prep(self, iov, read, iov_off, fd, off, length, userdata=0):
        """Queue one I/O of length bytes at iov[iov_off:]; returns its index."""
        return _check(_lib.c3fs_prep_io(ctypes.byref(self._s), ctypes.byref(iov._s), read,
                                        ctypes.c_void_p(iov.addr(iov_off)), fd, off, length,
                                        ctypes.c_void_p(userdata)))

    def submit(self):
        _check(_lib.c3fs_submit_ios(ctypes.byref(self._s)))

    def wait(self, min_results, timeout=None):
        """Reap completions: list of (index, result, userdata); result < 0 is -errno."""
        ts = None
        if timeout is not None:
            import time
            t = time.time() + timeout
            ts = ctypes.byref(_Timespec(int(t), int((t % 1) * 1e9)))
        n = _check(_lib.c3fs_wait_for_ios(ctypes.byref(self._s), self._cqes, self.entries,
                                          min_results, ts))
        return [(c.index, c.result, c.userdata or 0) for c in self._cqes[:n]]

    def close(self):
        if self._s.iorh:
            _lib.c3fs_iordestroy(ctypes.byref(self._s))
