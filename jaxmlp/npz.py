"""Numpy's .npy arrays and .npz archives, read with nothing in them trusted: the user's data
files, ``predict`` inputs, checkpoints and a sweep's chunks all go through ``read`` (or
``read_npy``).

The rule, one for every array: an .npz archive is a zip file (its bytes start ``PK\\x03\\x04``,
or ``PK\\x05\\x06`` when empty) whose every member is named ``NAME.npy`` and holds one .npy
array (format 1.0 or 2.0) of numbers, not encrypted, stored or deflated as numpy writes them
(bzip2 and lzma, whose members unpack to 10^5 times their size and more, are refused). An
array's header declares its shape and dtype, so its size (shape x itemsize); that size is
checked against the member's declared uncompressed size before anything is read, and then the
data is read through a stream capped at the declared size plus one byte: fewer bytes (a
truncated or forged member) or more (data beyond the array) are refused. Neither the zip's
sizes nor the header's are trusted alone, so a 300-byte file cannot make us allocate 2**42
elements, nor a deflate stream unpack more than its array's bytes. A member that is no .npy
array (numpy would hand it out as bytes), an object array (it needs pickle) and a name
given twice are refused. Every error is a ValueError; the callers name the file.
"""

import io
import math
import zipfile
import zlib

import numpy as np

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip's directory
NPY_MAGIC = b"\x93NUMPY"
# what zipfile and zlib raise on a truncated, corrupt or forged archive (unsupported
# compression: NotImplementedError); encryption is refused before reading (RuntimeError)
UNREADABLE = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError)
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what numpy writes
COMPRESSIONS_REFUSED = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}  # for messages
_CHUNK = 1 << 24  # bytes read at a time (read_capped)


def read(data: bytes) -> dict[str, np.ndarray]:
    """Every array of the .npz archive ``data`` (its bytes), by name (``x`` for ``x.npy``)."""
    if data[:6] == NPY_MAGIC:
        raise ValueError(
            "holds a single array, not an .npz archive; save one with np.savez(path, x=x, y=y)"
        )
    if data[:4] not in ZIP_MAGIC:
        raise ValueError(f"not an .npz archive (a zip of .npy files): it starts with {data[:8]!r}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UNREADABLE as error:
        raise ValueError(f"not a readable .npz archive ({error})") from None
    arrays = {}
    with archive:
        for info in archive.infolist():
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in arrays:
                why = "is named twice" if name[:-4] in arrays else "is not an .npy array"
                raise ValueError(
                    f"not a readable .npz archive: its member {name!r} {why}; an .npz archive "
                    "holds one NAME.npy member per array (np.savez)"
                )
            if info.flag_bits & 0x1:
                raise ValueError(f"not a readable .npz archive: array {name[:-4]!r} is encrypted")
            if info.compress_type not in COMPRESSIONS:
                method = COMPRESSIONS_REFUSED.get(info.compress_type, "unknown")
                raise ValueError(
                    f"not a readable .npz archive: array {name[:-4]!r} uses compression method "
                    f"{info.compress_type} ({method}); an .npz archive's are stored or deflated "
                    "(np.savez, np.savez_compressed)"
                )
            try:
                with archive.open(info) as member:
                    arrays[name[:-4]] = _array(member, info.file_size)
            except ObjectArray as error:
                raise ValueError(f"array {name[:-4]!r} is {error}") from None
            except UNREADABLE as error:
                raise ValueError(
                    f"not a readable .npz archive: array {name[:-4]!r}: {error}"
                ) from None
    return arrays


def read_npy(data: bytes) -> np.ndarray:
    """The array of the .npy file ``data`` (its bytes), by the rule of ``read``."""
    try:
        return _array(io.BytesIO(data), len(data))
    except ObjectArray as error:
        raise ValueError(f"the array is {error}") from None
    except UNREADABLE as error:
        raise ValueError(f"not a readable .npy file ({error})") from None


class ObjectArray(ValueError):
    """An array of Python objects: loading one runs pickle, which is refused."""


def _array(stream, size: int) -> np.ndarray:
    """The .npy array in the binary ``stream`` that declares ``size`` bytes in all."""
    fmt = np.lib.format
    version = fmt.read_magic(stream)
    read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    if version not in read_header:
        raise ValueError(f".npy format version {version} is not supported (1.0 or 2.0 are)")
    shape, fortran, dtype = read_header[version](stream)
    if dtype.hasobject:
        raise ObjectArray(
            "an object array, which cannot be loaded safely (it needs pickle); save numeric "
            "arrays, for example x.astype(np.float32)"
        )
    need = math.prod(shape) * dtype.itemsize  # Python ints: no wrap-around
    have = size - stream.tell()
    if need > have:
        raise ValueError(
            f"its header claims shape {shape} of {dtype} ({need} bytes) but only {have} bytes "
            "follow: corrupt or forged"
        )
    data = read_capped(stream, need + 1)
    if len(data) != need:
        found = "bytes beyond the data" if len(data) > need else f"only {len(data)} bytes"
        raise ValueError(
            f"its header claims shape {shape} of {dtype} ({need} bytes) but it holds {found}: "
            "corrupt or forged"
        )
    array = np.frombuffer(data, dtype, count=math.prod(shape))
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_capped(stream, limit: int) -> bytearray:
    """At most ``limit`` bytes of the binary ``stream``, fewer where it ends: read a chunk at a
    time, so memory grows with the bytes there, not with a ``limit`` a header made up (a
    buffered ``read(limit)`` allocates ``limit`` bytes first)."""
    data = bytearray()
    while len(data) < limit:
        chunk = stream.read(min(_CHUNK, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return data
