"""The IDX file format of MNIST and Fashion-MNIST, read with every size checked.

Layout (big-endian): two zero bytes, a type code, the number of dimensions ``ndim``; then
``ndim`` sizes as 4-byte unsigned integers; then ``prod(sizes)`` values of the type, row-major.
Files may be gzip-compressed; that is detected from the gzip magic bytes, not the file name.
"""

import gzip
import io
import math
import os
import zlib

import numpy as np

from jaxmlp.npz import read_capped

# type code -> big-endian numpy dtype
DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (raw or gzip); ValueError naming the file
    and the problem if it is corrupt or truncated. A gzip file is unpacked no further than its
    header's size and one byte more, so a gzip bomb is refused before it fills the memory."""
    name = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != _GZIP_MAGIC:
        return parse(data, name)
    try:
        with gzip.open(io.BytesIO(data)) as f:
            head = f.read(4)
            head += f.read(4 * head[3] if len(head) == 4 else 0)
            layout = _, shape, dtype = _header(head, name)
            data = head + read_capped(f, math.prod(shape) * dtype.itemsize + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt gzip data ({error}).") from None
    return parse(data, name, layout=layout)


def parse(data: bytes, name: str = "<bytes>", *, layout=None) -> np.ndarray:
    """The array encoded by the uncompressed IDX bytes ``data``; ``name`` labels errors.
    ``layout``: ``data``'s header, read already (``_header``) to read ``data`` no further than
    one byte past the array."""
    capped = layout is not None
    header, shape, dtype = layout or _header(data, name)
    expected = math.prod(shape) * dtype.itemsize  # Python ints: np.prod's int64 would wrap
    found = len(data) - header
    if found < expected:
        raise ValueError(
            f"{name}: truncated: shape {shape} of {dtype.name} needs {expected} data bytes, "
            f"found {found}."
        )
    if found > expected:
        raise ValueError(
            f"{name}: {'more' if capped else found - expected} bytes beyond the data of shape "
            f"{shape} of {dtype.name}; the sizes in the header are wrong."
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _header(data: bytes, name: str) -> tuple[int, tuple, np.dtype]:
    """The header's length, the array's shape and dtype, from the first bytes of ``data``."""
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the header.")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\0\0" or code not in DTYPES:
        raise ValueError(
            f"{name}: not an IDX file: bad magic number 0x{data[:4].hex()}; expected "
            f"0x0000TTNN with type TT in {[f'{c:02x}' for c in DTYPES]} and NN dimensions."
        )
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: truncated header: {ndim} dimensions need {header} bytes, file has "
            f"{len(data)}."
        )
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    return header, shape, DTYPES[code]
