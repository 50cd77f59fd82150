"""User files (issue 16): CSV headers detected or given, encodings named, .npy headers checked
against their bytes before anything is allocated, complex arrays refused."""

import io
import zipfile

import numpy as np
import pytest

from jaxmlp import datasets, files


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


# -- CSV: the header row ---------------------------------------------------------------------


def test_a_first_row_of_numbers_is_data_not_a_header(tmp_path):
    path = _write(tmp_path, "d.csv", "1,2,0\n3,4,1\n5,6,0\n")
    x, labels, names, label = files.read_csv(path)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [5, 6]])  # all three rows kept
    np.testing.assert_array_equal(labels, [0, 1, 0])
    assert (names, label) == (["column_0", "column_1"], "column_2")
    assert files.read_csv(path, "column_0")[3] == "column_0"


def test_header_true_and_false_override_the_detection(tmp_path):
    numbers = _write(tmp_path, "n.csv", "1990,2000,y\n1,2,0\n3,4,1\n")
    assert files.read_csv(numbers)[2] == ["1990", "2000"]  # not all numbers: a header
    years = _write(tmp_path, "y.csv", "1990,2000\n1,0\n3,1\n")
    assert files.read_csv(years, header=True)[2:] == (["1990"], "2000")
    assert len(files.read_csv(years)[0]) == 3  # detected as data
    words = _write(tmp_path, "w.csv", "a,b\n1,0\n")
    with pytest.raises(ValueError, match=r"line 1, column 'column_0': cannot read 'a'"):
        files.read_csv(words, header=False)
    with pytest.raises(ValueError, match="header must be True, False or None"):
        files.read_csv(words, header="yes")


def test_datasets_load_passes_header_and_encoding(tmp_path):
    path = _write(tmp_path, "d.csv", "".join(f"{i},{i % 2}\n" for i in range(10)))
    assert len(datasets.load(path).x_train) == 10
    latin = _write(tmp_path, "l.csv", "caf\xe9,y\n1,0\n2,1\n3,0\n4,1\n".encode("latin-1"))
    ds = datasets.load(latin, encoding="latin-1")
    assert ds.info["feature_names"] == ["caf\xe9"]
    bare = _write(tmp_path, "b.csv", "1,0\n2,1\n3,0\n4,1\n")
    assert len(datasets.load(bare, header=False).x_train) == 4
    assert len(datasets.load(bare, header=True).x_train) == 3


# -- CSV: encodings -------------------------------------------------------------------------------


def test_non_utf8_bytes_name_the_file_and_line(tmp_path):
    path = _write(tmp_path, "l.csv", "a,y\n1,0\nna\xefve,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"l.csv, line 3: byte 0xef is not valid utf-8.*latin-1"):
        files.read_csv(path)
    x = files.read_csv(
        _write(tmp_path, "m.csv", "a\xe9,y\n1,0\n2,1\n".encode("cp1252")), encoding="cp1252"
    )
    assert x[2] == ["a\xe9"]
    with pytest.raises(ValueError, match="Unknown encoding: 'klingon'"):
        files.read_csv(path, encoding="klingon")


def test_a_utf8_byte_order_mark_is_skipped(tmp_path):
    path = _write(tmp_path, "b.csv", "\ufeffa,y\n1,0\n2,1\n".encode())
    assert files.read_csv(path)[2] == ["a"]


# -- NPY headers that lie -------------------------------------------------------------------------


def _npy_claiming(shape, dtype="<f8", data=b"\0" * 16) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        f, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return f.getvalue() + data


def _npz(path, **members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)
    return path


def _npy_bytes(a) -> bytes:
    f = io.BytesIO()
    np.save(f, a)
    return f.getvalue()


@pytest.mark.parametrize("shape", [(10**15,), (10**8, 10**7), (2, 3)])
def test_an_npy_header_claiming_more_than_its_bytes_is_refused(tmp_path, shape):
    path = _npz(tmp_path / "big.npz", x=_npy_claiming(shape), y=_npy_bytes(np.zeros(2)))
    with pytest.raises(ValueError, match=r"big.npz: .*array 'x': its header claims shape"):
        files.read_npz(path)
    with pytest.raises(ValueError, match="its header claims shape"):
        datasets.load(path)
    with pytest.raises(ValueError, match="its header claims shape"):
        files.read_array(path)


def test_a_lying_npy_file_is_refused(tmp_path):
    path = _write(tmp_path, "x.npy", _npy_claiming((10**15,)))
    with pytest.raises(ValueError, match=r"x.npy: not a readable .npy file \(its header claims"):
        files.read_array(path)
    good = tmp_path / "g.npy"
    np.save(good, np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(files.read_array(good), np.arange(6.0).reshape(3, 2))


def test_an_honest_archive_still_reads(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    np.savez_compressed(tmp_path / "ok.npz", x=x, y=np.arange(6) % 2)
    np.testing.assert_array_equal(files.read_npz(tmp_path / "ok.npz")["x"], x)
    np.testing.assert_array_equal(files.read_array(tmp_path / "ok.npz"), x)


# -- complex numbers ------------------------------------------------------------------------------


def test_complex_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "c.npz", x=np.ones((4, 2), np.complex64), y=np.arange(4) % 2)
    with pytest.raises(ValueError, match="array 'x' is complex \\(complex64\\)"):
        files.read_npz(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="x must be real numbers, got dtype complex128"):
        datasets.from_arrays(np.ones((4, 2)) + 1j, np.arange(4) % 2)
    with pytest.raises(ValueError, match="y must be real numbers"):
        datasets.from_arrays(np.ones((4, 2)), np.ones(4) * 1j)
