"""c3fs_ffrecord — FFRecord datasets through libc3fs-ffrecord.so (ctypes, no build step).

Drop-in for the names of HFAiLab's ``ffrecord`` package::

    from c3fs_ffrecord import FileReader, FileWriter, PackedFolder
    r = FileReader("train.ffr", check_data=True)      # a file, a directory, or a list
    r.n, r.read_one(3), r.read([7, 1, 7])              # memoryviews (.tobytes() works)
    w = FileWriter("out.ffr", 2); w.write_one(b"a"); w.write_one(b"b"); w.close()

The library is looked up as: $C3FS_LIB_DIR/libc3fs-ffrecord.so, next to this package,
then build/lib and build/bin of the source tree this package sits in.  Errors raise
FFRecordError (a ValueError subclass for corrupt data, as ffrecord raised ValueError/
RuntimeError) carrying the library's message, which names the file and sample.
"""
import ctypes
import errno
import os
import pickle
from collections import OrderedDict
from pathlib import Path

__all__ = ["Dataset", "FFRecordError", "FileReader", "FileWriter", "PackedFolder",
           "load_library", "restricted_loads"]

MAGIC_BYTES = b"piouhjgbr"
_LIBNAME = "libc3fs-ffrecord.so"
_lib = None


class FFRecordError(ValueError):
    """A failed libc3fs-ffrecord call: .code is the errno, str() the library's message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _candidates():
    env = os.environ.get("C3FS_LIB_DIR")
    if env:
        yield Path(env) / _LIBNAME
    here = Path(__file__).resolve().parent
    yield here / _LIBNAME
    root = here.parent.parent
    for sub in ("build/lib", "build/bin"):
        yield root / sub / _LIBNAME


def load_library():
    """The loaded library (ctypes.CDLL), found as the module docstring says."""
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for p in _candidates():
        tried.append(str(p))
        if p.is_file():
            lib = ctypes.CDLL(str(p))
            break
    else:
        raise OSError(f"{_LIBNAME} not found (tried {', '.join(tried)}); "
                      "build it with `make programs` or set C3FS_LIB_DIR")
    I64, U64, P = ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p
    sig = {
        "c3fs_ffr_errmsg": (ctypes.c_char_p, []),
        "c3fs_ffr_writer_open": (ctypes.c_int, [ctypes.c_char_p, I64, ctypes.POINTER(P)]),
        "c3fs_ffr_writer_append": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t]),
        "c3fs_ffr_writer_close": (ctypes.c_int, [P]),
        "c3fs_ffr_writer_abort": (None, [P]),
        "c3fs_ffr_writer_count": (I64, [P]),
        "c3fs_ffr_reader_open_files": (ctypes.c_int, [ctypes.POINTER(ctypes.c_char_p),
                                                      ctypes.c_size_t, P,
                                                      ctypes.POINTER(P)]),
        "c3fs_ffr_reader_free": (None, [P]),
        "c3fs_ffr_reader_count": (I64, [P]),
        "c3fs_ffr_reader_io": (ctypes.c_char_p, [P]),
        "c3fs_ffr_reader_sizes": (ctypes.c_int, [P, ctypes.POINTER(I64), ctypes.c_size_t,
                                                 ctypes.POINTER(U64)]),
        "c3fs_ffr_read_batch": (ctypes.c_int, [P, ctypes.POINTER(I64), ctypes.c_size_t,
                                               ctypes.POINTER(P), ctypes.POINTER(U64),
                                               ctypes.POINTER(U64)]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    _lib = lib
    return lib


def _check(rc):
    if rc < 0:
        msg = load_library().c3fs_ffr_errmsg().decode("utf-8", "replace")
        raise FFRecordError(-rc, msg or os.strerror(-rc))
    return rc


class _Opts(ctypes.Structure):
    _fields_ = [("check_data", ctypes.c_int), ("io", ctypes.c_int),
                ("queue_depth", ctypes.c_uint)]


_IO = {"auto": 0, "pread": 1, "io_uring": 2, "uring": 2, "usrbio": 3}


def _expand(fname):
    """A path, a directory (its *.ffr sorted by name) or a list, as ffrecord does."""
    if isinstance(fname, (str, os.PathLike)):
        fname = os.fspath(fname)
        if os.path.isdir(fname):
            names = sorted(str(p) for p in Path(fname).glob("*.ffr"))
            if not names:
                raise FFRecordError(errno.ENOENT, f"{fname}: no .ffr files in this directory")
            return names
        return [fname]
    if isinstance(fname, (list, tuple)):
        if not fname:
            raise FFRecordError(errno.EINVAL, "empty dataset: no files given")
        return [os.fspath(p) for p in fname]
    raise TypeError("fname must be str, os.PathLike or list")


class FileReader:
    """Read samples of one FFRecord file, a directory of them, or a list of files.

    read_one(i) and read(indices) return memoryviews over fresh buffers (bytes-like:
    .tobytes(), bytes(), pickle.loads and numpy.frombuffer take them).  io is "auto"
    (USRBIO on a c3fs mount, else io_uring, else pread; the environment's C3FS_FFR_IO
    may choose), "usrbio", "io_uring" (or "uring") or "pread"; .io tells which is used."""

    def __init__(self, fname, check_data=True, io="auto", queue_depth=0):
        lib = load_library()
        self.fnames = _expand(fname)
        self.check_data = bool(check_data)
        arr = (ctypes.c_char_p * len(self.fnames))(*[os.fsencode(p) for p in self.fnames])
        if io not in _IO:
            raise FFRecordError(errno.EINVAL, f"io={io!r}: not one of {', '.join(_IO)}")
        opts = _Opts(1 if check_data else 0, _IO[io], queue_depth)
        h = ctypes.c_void_p()
        _check(lib.c3fs_ffr_reader_open_files(arr, len(self.fnames), ctypes.byref(opts),
                                              ctypes.byref(h)))
        self._h = h
        self.n = lib.c3fs_ffr_reader_count(h)

    @property
    def io(self):
        return _lib.c3fs_ffr_reader_io(self._h).decode()

    def __len__(self):
        return self.n

    def _handle(self):
        if self._h is None:
            raise ValueError("reader is closed")
        return self._h

    def sizes(self, indices):
        idx = (ctypes.c_int64 * len(indices))(*[int(i) for i in indices])
        out = (ctypes.c_uint64 * len(indices))()
        _check(_lib.c3fs_ffr_reader_sizes(self._handle(), idx, len(indices), out))
        return list(out)

    def read(self, indices):
        """A list of memoryviews, one per index (duplicates and any order allowed)."""
        h = self._handle()
        n = len(indices)
        if n == 0:
            return []
        idx = (ctypes.c_int64 * n)(*[int(i) for i in indices])
        sizes = (ctypes.c_uint64 * n)()
        _check(_lib.c3fs_ffr_reader_sizes(h, idx, n, sizes))
        total = sum(sizes)
        buf = bytearray(max(total, 1))
        base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        ptrs = (ctypes.c_void_p * n)()
        offs = []
        o = 0
        for i in range(n):
            ptrs[i] = base + o
            offs.append(o)
            o += sizes[i]
        _check(_lib.c3fs_ffr_read_batch(h, idx, n, ptrs, sizes, None))
        mv = memoryview(buf)
        return [mv[offs[i]:offs[i] + sizes[i]] for i in range(n)]

    def read_one(self, index):
        return self.read([index])[0]

    def close(self):
        if getattr(self, "_h", None) is not None:
            _lib.c3fs_ffr_reader_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class FileWriter:
    """Write n samples (n=None: counted, header written at close)."""

    def __init__(self, fname, n=None):
        lib = load_library()
        self.fname = os.fspath(fname)
        self.n = -1 if n is None else int(n)
        h = ctypes.c_void_p()
        _check(lib.c3fs_ffr_writer_open(os.fsencode(self.fname), self.n, ctypes.byref(h)))
        self._h = h

    def write_one(self, data):
        if self._h is None:
            raise ValueError("writer is closed")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes, bytearray or memoryview")
        data = bytes(data)
        rc = _lib.c3fs_ffr_writer_append(self._h, data, len(data))
        _check(rc)

    @property
    def count(self):
        return _lib.c3fs_ffr_writer_count(self._h) if self._h is not None else None

    def close(self):
        if getattr(self, "_h", None) is not None:
            h, self._h = self._h, None
            _check(_lib.c3fs_ffr_writer_close(h))

    finish = close

    def abort(self):
        if getattr(self, "_h", None) is not None:
            _lib.c3fs_ffr_writer_abort(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self):
        # an unclosed writer is an unfinished file: remove it rather than guess
        self.abort()


class _OnlyOrderedDict(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"class {module}.{name} not allowed in a packed-folder index")


def restricted_loads(data):
    """pickle.loads that can only build collections.OrderedDict (and plain types)."""
    import io
    return _OnlyOrderedDict(io.BytesIO(bytes(data))).load()


class PackedFolder:
    """A directory tree packed by `c3fs-ffrecord pack` or ffrecord's pack_folder."""

    def __init__(self, ffr_file, check_data=True):
        self.reader = FileReader(ffr_file, check_data)
        if self.reader.n == 0:
            raise ValueError(f"{ffr_file} is not a packed folder (empty)")
        meta = self.reader.read_one(self.reader.n - 1).tobytes()
        if len(meta) <= len(MAGIC_BYTES) or meta[:len(MAGIC_BYTES)] != MAGIC_BYTES:
            raise ValueError(f"{ffr_file} is not a packed folder")
        self.structure = restricted_loads(meta[len(MAGIC_BYTES):])
        if not isinstance(self.structure, dict):
            raise ValueError(f"{ffr_file}: packed-folder index is not a dict")

    def num_files(self):
        return self.reader.n - 1

    def _node(self, path):
        s = self.structure
        for part in Path(path).parts:
            if not isinstance(s, dict) or part not in s:
                raise FileNotFoundError(f"{path} does not exist")
            s = s[part]
        return s

    def _fname_to_index(self, fname):
        s = self._node(fname)
        if not isinstance(s, int):
            raise IsADirectoryError(f"{fname} is not a file but a directory")
        return s

    def read_one(self, fname):
        return self.reader.read_one(self._fname_to_index(fname))

    def read(self, fnames):
        return self.reader.read([self._fname_to_index(p) for p in fnames])

    def exists(self, path):
        try:
            self._node(path)
            return True
        except FileNotFoundError:
            return False

    def is_file(self, path):
        return self.exists(path) and isinstance(self._node(path), int)

    def is_dir(self, path):
        return self.exists(path) and isinstance(self._node(path), dict)

    def list(self, path=None, list_file=True, list_dir=True, recursive=False):
        s = self.structure if path is None else self._node(path)
        if not isinstance(s, dict):
            raise NotADirectoryError(f"{path} is not a directory but a file")
        return self._list(s, list_file, list_dir, recursive)

    def _list(self, s, list_file, list_dir, recursive):
        out = []
        for name, v in s.items():
            is_file = isinstance(v, int)
            if (is_file and list_file) or (not is_file and list_dir):
                out.append(name)
            if recursive and not is_file:
                out += [Path(name) / p for p in self._list(v, list_file, list_dir, True)]
        return out


class Dataset:
    """Like ffrecord.torch.Dataset: __getitem__ takes a list of indices and returns
    process(indices, data) for the batch read in one call.  Subclasses define process().
    A map-style dataset for torch.utils.data.DataLoader (with a batch sampler), without
    importing torch: DataLoader needs only __getitem__ and __len__."""

    def __init__(self, fnames, check_data=True):
        self.fnames = fnames
        self.reader = FileReader(fnames, check_data)

    def __len__(self):
        return self.reader.n

    def __getitem__(self, indices):
        if not isinstance(indices, (list, tuple)):
            raise TypeError("indices must be a list of index")
        return self.process(indices, self.reader.read(indices))

    def process(self, indices, data):
        raise NotImplementedError
