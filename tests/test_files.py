"""User files (issue 16): CSV headers detected or given, encodings named, .npy headers checked
against their bytes before anything is allocated, complex arrays refused."""

import io
import os
import re
import struct
import zipfile

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import cli, cli_flags, datasets, files
from jaxmlp.run.predict import read_inputs


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
    numbers = _write(tmp_path, "n.csv", "1990,2000,label\n1,2,0\n3,4,1\n")
    assert files.read_csv(numbers)[2] == ["1990", "2000"]  # numbers beside a label name
    years = _write(tmp_path, "y.csv", "1990,2000\n1,0\n3,1\n")
    assert files.read_csv(years, header=True)[2:] == (["1990"], "2000")
    assert len(files.read_csv(years)[0]) == 3  # detected as data
    words = _write(tmp_path, "w.csv", "a,b\n1,0\n")
    with pytest.raises(ValueError, match=r"line 1, column 'column_0': cannot read 'a'"):
        files.read_csv(words, header=False)
    with pytest.raises(ValueError, match="header must be True, False or None"):
        files.read_csv(words, header="yes")
    # pandas' header=0 says "row 0 is the header"; here 0 == False read the header as data,
    # silently where its names are numbers (failed before: 1990 an example, 2000 a class)
    for number in (0, 1, 0.0, np.int64(0)):
        with pytest.raises(ValueError, match=r"None \(detect\), got .*pandas' header=0 is"):
            files.read_csv(years, header=number)
        with pytest.raises(ValueError, match=r"header must be True, False or None"):
            datasets.load(years, header=number)
    assert files.read_csv(years, header=np.bool_(True))[2:] == (["1990"], "2000")


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


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-8"])
def test_a_byte_order_mark_left_by_the_codec_does_not_eat_the_first_row(codec, tmp_path):
    # utf-16-le and utf-32-le keep the mark as U+FEFF: '\ufeff1' was no number, so the first
    # row of data was taken for a header, silently: one example fewer, a column named '\ufeff1'
    text = "1,2,0\n3,4,1\n5,6,0\n"
    marked = ("\ufeff" * (2 if codec == "utf-8" else 1) + text).encode(codec)  # a mark twice
    x, labels, names, _ = files.read_csv(_write(tmp_path, "b.csv", marked), encoding=codec)
    assert len(x) == 3 and names == ["column_0", "column_1"]
    named = _write(tmp_path, "h.csv", ("\ufeffa,y\n1,0\n2,1\n").encode(codec))
    assert files.read_csv(named, encoding=codec)[2] == ["a"]


@pytest.mark.parametrize(
    "data, line, codec",
    [
        (b"a,b,y\n1,2,cat\n3,4,ca\x00t\n5,6,dog\n", 3, None),  # before: a third class
        (b"a\x00,b,y\n1,2,0\n3,4,1\n", 1, None),  # a column named 'a\x00'
        ("a,b,y\n1,2,cat\n3,4,dog\n".encode("utf-16-le"), 1, "utf-16-le"),
        ("a,b,y\n1,2,cat\n3,4,dog\n".encode("utf-16-be"), 1, "utf-16-be"),
    ],
    ids=["in-a-label", "in-a-name", "utf-16-le", "utf-16-be"],
)
def test_a_nul_character_is_refused_naming_its_line(data, line, codec, tmp_path):
    # failed before: a label 'ca\x00t', which prints as 'cat', was a class of its own, and a
    # UTF-16 file without a byte-order mark read as UTF-8 was said to want 3 fields on line 4
    path = _write(tmp_path, "n.csv", data)
    said = rf"n.csv, line {line}: holds a NUL character \(byte 0\), which no text holds: .*"
    with pytest.raises(ValueError, match=said + r"encoding='utf-16-le'"):
        files.read_csv(path)
    if codec is not None:  # the file's encoding given, it is read
        assert files.read_csv(path, encoding=codec)[2:] == (["a", "b"], "y")


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_compressed_csv_is_named_not_decoded(encoding, tmp_path):
    # gzip's bytes were said to be latin-1, and as latin-1 made "a header but no data rows"
    import gzip

    text = b"a,b,y\n1,2,0\n3,4,1\n"
    path = _write(tmp_path, "z.csv", gzip.compress(text))
    with pytest.raises(ValueError, match=r"z.csv: is gzip-compressed, not CSV text: .*gunzip"):
        files.read_csv(path, encoding=encoding)
    with zipfile.ZipFile(tmp_path / "x.csv", "w") as z:  # an .xlsx workbook is a zip archive
        z.writestr("a.csv", text)
    with pytest.raises(ValueError, match=r"x.csv: is a zip archive \(an Excel workbook\?\)"):
        files.read_csv(tmp_path / "x.csv", encoding=encoding)


@pytest.mark.parametrize(
    "mark, codec, right",
    [
        (b"\xef\xbb\xbf", "latin-1", "utf-8"),
        (b"\xef\xbb\xbf", "cp1252", "utf-8"),
        (b"\xff\xfe", "latin-1", "utf-16"),
        (b"\xff\xfe", "utf-8", "utf-16"),
        (b"\xfe\xff", "utf-8", "utf-16"),
        (b"\xff\xfe\x00\x00", "utf-16", "utf-32"),
    ],
)
def test_a_byte_order_mark_of_another_encoding_is_named_not_read_as_text(
    mark, codec, right, tmp_path
):
    # read as latin-1, a UTF-8 file's mark was the text 'ï»¿' before the first row: that row,
    # data, became a header; a UTF-16 file read as UTF-8 was said to want latin-1
    path = _write(tmp_path, "m.csv", mark + b"1,2,0\n3,4,1\n5,6,0\n")
    with pytest.raises(ValueError, match=rf"m.csv: starts with the byte-order mark of {right}"):
        files.read_csv(path, encoding=codec)


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


def _zip(path, **members):  # members named as given: numpy's archive["x"] opens a plain "x"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "x", [_npy_claiming((2**42, 2)), b"not an array"], ids=["huge-header", "not-npy"]
)
def test_an_npz_member_not_named_npy_is_refused_everywhere(x, tmp_path, capsys):
    # the size check looked at *.npy members only: MemoryError (a 300-byte file claiming 2**43
    # floats) or AttributeError (numpy hands out bytes) tracebacks, exit 1
    from jaxmlp import checkpoint

    path = _zip(tmp_path / "noext.npz", x=x, **{"y.npy": _npy_bytes(np.arange(4) % 2)})
    message = r"noext.npz: .*member 'x' is not an .npy array"
    for read in (files.read_npz, files.read_array, checkpoint.read_meta):
        with pytest.raises(ValueError, match=message):
            read(path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes(path.read_bytes())
    for args in (
        ["train", "--data", str(path)],
        ["train", "--data", "xor", "--init-from", str(run)],
    ):
        assert cli.main([*args, "--no-progress", "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is not an .npy array" in err, err


def test_an_npz_member_with_bytes_beyond_its_array_is_refused(tmp_path):
    path = _npz(tmp_path / "long.npz", x=_npy_bytes(np.zeros((2, 2))) + b"\0" * 8, y=b"")
    with pytest.raises(ValueError, match=r"array 'x': .* but it holds bytes beyond the data"):
        files.read_array(path)


def _patched(path, field, value):
    """The .npz at ``path`` with a 2-byte field of every local and central header set:
    ``method`` (compression) or ``flags`` (general purpose; bit 0: encrypted)."""
    data = bytearray(path.read_bytes())
    local, central = {"method": (8, 10), "flags": (6, 8)}[field]
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset : at + offset + 2] = struct.pack("<H", value)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "field, value, why",
    [("method", 99, "compression method"), ("flags", 1, "encrypted")],
    ids=["method-99", "encrypted"],
)
def test_an_npz_member_zipfile_cannot_open_is_one_line(field, value, why, tmp_path, capsys):
    # NotImplementedError (compression method 99), RuntimeError ("password required")
    # tracebacks, exit 1: files.UNREADABLE held neither
    from jaxmlp import checkpoint

    np.savez(tmp_path / "z.npz", x=np.zeros((4, 2)), y=np.arange(4) % 2)
    path = _patched(tmp_path / "z.npz", field, value)
    for read in (files.read_npz, files.read_array, checkpoint.read_meta):
        with pytest.raises(ValueError, match=rf"z.npz: not a readable .*{why}"):
            read(path)
    assert cli.main(["train", "--no-progress", "--data", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err, err


def test_a_path_that_is_no_regular_file_is_named_so(tmp_path):
    # a FIFO or a link to /dev/zero was "no such file", though the path exists
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    for name in ("fifo.csv", "zero.npz"):
        with pytest.raises(ValueError, match=rf"{name}: not a regular file"):
            datasets.load(tmp_path / name)
        with pytest.raises(ValueError, match=rf"{name}: not a regular file"):
            read_inputs(tmp_path / name, 2)
    with pytest.raises(ValueError, match=r"gone.csv: no such file"):
        datasets.load(tmp_path / "gone.csv")


def test_a_file_that_is_no_zip_is_not_an_npz_archive(tmp_path):
    # a CSV renamed fake.npz was "This file contains pickled (object) data ... allow_pickle="
    path = _write(tmp_path, "fake.npz", "a,b,y\n1,2,0\n3,4,1\n")
    message = r"fake.npz: not an .npz archive \(a zip of .npy files\): it starts with b'a,b,y"
    for read in (files.read_npz, files.read_array, datasets.load):
        with pytest.raises(ValueError, match=message):
            read(path)
    with pytest.raises(ValueError, match=message):
        read_inputs(path, 2)


def test_an_honest_archive_still_reads(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    np.savez_compressed(tmp_path / "ok.npz", x=x, y=np.arange(6) % 2)
    np.testing.assert_array_equal(files.read_npz(tmp_path / "ok.npz")["x"], x)
    np.testing.assert_array_equal(files.read_array(tmp_path / "ok.npz"), x)


@pytest.mark.parametrize("at, width", [(40, 20), (400, 200)])  # in x.npy's header, its data
def test_a_corrupt_compressed_archive_is_one_line(at, width, tmp_path, capsys):
    # a zlib.error escaped as a traceback with exit 1 (train --data, predict --input)
    from jaxmlp import cli

    x = np.random.default_rng(0).normal(size=(200, 3))
    np.savez_compressed(tmp_path / "ok.npz", x=x, y=np.arange(200) % 2)
    data = bytearray((tmp_path / "ok.npz").read_bytes())
    info = zipfile.ZipFile(tmp_path / "ok.npz").getinfo("x.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + at : start + at + width] = b"\xff" * width
    path = _write(tmp_path, "bad.npz", bytes(data))
    with pytest.raises(ValueError, match=r"bad.npz: .*(not a readable|unreadable)"):
        files.read_npz(path)
    with pytest.raises(ValueError, match=r"bad.npz: .*(not a readable|unreadable)"):
        files.read_array(path)
    assert cli.main(["train", "--data", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "bad.npz" in err


def test_an_archive_of_no_features_is_named(tmp_path, capsys):
    # failed before: numpy's "zero-size array to reduction operation minimum which has no
    # identity" (train), naming neither the file nor the problem
    from jaxmlp import cli

    np.savez(tmp_path / "z.npz", x=np.zeros((6, 0)), y=np.arange(6) % 2)
    message = r"z.npz: x has no features: shape \(6, 0\); it must have shape \(n, d\) with d >= 1"
    with pytest.raises(ValueError, match=message):
        datasets.load(tmp_path / "z.npz")
    assert cli.main(["train", "--data", str(tmp_path / "z.npz"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


# -- complex numbers ------------------------------------------------------------------------------


def test_complex_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "c.npz", x=np.ones((4, 2), np.complex64), y=np.arange(4) % 2)
    with pytest.raises(ValueError, match="array 'x' is complex \\(complex64\\)"):
        files.read_npz(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="x must be real numbers, got dtype complex128"):
        datasets.from_arrays(np.ones((4, 2)) + 1j, np.arange(4) % 2)
    with pytest.raises(ValueError, match="y must be real numbers"):
        datasets.from_arrays(np.ones((4, 2)), np.ones(4) * 1j)


# -- CSV: rows the reader must not guess at (each was read wrong with exit 0) ---------------------


def test_a_headerless_first_row_with_a_string_label_is_not_taken_for_a_header(tmp_path):
    # iris.data's form: the first example became the header (5 of 6 rows, features '5.1', '3.5')
    path = _write(tmp_path, "i.csv", "5.1,3.5,a\n4.9,3.0,a\n6.0,2.2,b\n6.1,2.9,b\n")
    with pytest.raises(ValueError, match=r"i.csv: cannot tell whether the first row .* header"):
        files.read_csv(path)
    assert len(files.read_csv(path, header=False)[0]) == 4
    assert files.read_csv(path, header=True)[2] == ["5.1", "3.5"]
    named = _write(tmp_path, "n.csv", "a,b,y\n5.1,3.5,a\n4.9,3.0,b\n")  # names over numbers
    assert files.read_csv(named)[2] == ["a", "b"]


@pytest.mark.parametrize("first", ["1.5,2,O", "1,2,l", "1.5,#N/A,0", "2019,2020,y"])
def test_a_headerless_first_row_with_a_typo_over_numbers_is_asked_about(first, tmp_path):
    # failed before: a word over a column of numbers (a typo'd 0, an Excel error) made the
    # first row of data the header, names '1.5', '2': one example fewer, exit 0
    path = _write(tmp_path, "t.csv", f"{first}\n2.5,3,1\n3.5,4,0\n")
    with pytest.raises(ValueError, match=r"t.csv: cannot tell .* mixes numbers with names"):
        files.read_csv(path)
    assert len(files.read_csv(path, header=True)[0]) == 2
    for label in ("label", "Target", "class"):  # a label column's name: a header of numbers
        path = _write(tmp_path, "h.csv", f"2019,2020,{label}\n2.5,3,1\n3.5,4,0\n")
        assert files.read_csv(path)[2:] == (["2019", "2020"], label)


@pytest.mark.parametrize(
    "first, why",
    [
        ("1,l,O", "mixes numbers with names"),  # names outnumbered its numbers: a header
        ("a,2,y", "mixes numbers with names"),
        ("l,O,1O", "'l' stands over a column of numbers: a number mistyped"),
        ("x,1..5,y", "'1..5' stands over a column of numbers: a number mistyped"),
        ("#N/A,#DIV/0!,cat", "'#N/A' stands over a column of numbers: a spreadsheet's error"),
        ("x,#VALUE!,cat", "'#VALUE!' stands over a column of numbers: a spreadsheet's error"),
        ("NA,?,cat", "every field over a column of numbers is a missing value"),
    ],
)
def test_a_headerless_first_row_of_typos_or_errors_is_asked_about(first, why, tmp_path):
    # failed before: each was taken for a header, silently: the first row of data lost (2
    # examples of 3, columns named 'l', '#N/A'), exit 0
    path = _write(tmp_path, "t.csv", f"{first}\n2.5,3,dog\n3.5,4,cat\n4.5,5,dog\n")
    with pytest.raises(ValueError, match=r"t.csv: cannot tell whether .*" + re.escape(why)):
        files.read_csv(path)
    with pytest.raises(ValueError, match=r"--header, --no-header"):
        read_inputs(path, 2, label_name="y", header=None)
    assert len(files.read_csv(path, header=True)[0]) == 3
    assert cli.main(["train", "--data", str(path), "--out", str(tmp_path / "r")]) == 2


@pytest.mark.parametrize(
    "first",
    [
        "a,b,y",
        "x1,x2,O",
        "label,pixel0,pixel1",
        "Length (cm),#legs,Err",
        "NA,x2,cat",
        "l1_norm,x0,y",
        "0-9,10-19,y",
    ],  # fmt: skip
)
def test_a_first_row_of_names_is_still_a_header(first, tmp_path):
    # a name over a column of names ('O', a class?) is not asked about; nor a name with a
    # digit in it, a '#' that is no error, or a missing-value word beside a name over numbers
    path = _write(tmp_path, "h.csv", f"{first}\n2.5,3,dog\n3.5,4,cat\n4.5,5,dog\n")
    names = first.split(",")
    label = "label" if "label" in names else names[-1]
    assert files.read_table(path).header
    assert len(files.read_table(path).rows) == 3
    if label == "label":
        return
    assert files.read_csv(path)[2:] == (names[:-1], label)


def test_predict_takes_a_first_row_of_the_runs_own_names_for_its_header(tmp_path):
    # a run trained with --header on columns 'I', 'O' (a current, a mistyped 1 and 0?): its
    # inputs' header names them, so predict needs no --header for it
    path = _write(tmp_path, "io.csv", "O,I\n2.5,3\n3.5,4\n")
    np.testing.assert_array_equal(read_inputs(path, 2, None, ["I", "O"]), [[3, 2.5], [4, 3.5]])
    with pytest.raises(ValueError, match=r"'O' stands over a column of numbers"):
        read_inputs(path, 2, None, ["I", "V"])


def test_a_missing_value_in_a_headerless_first_row_is_named(tmp_path):
    # the row became the header (names '1', ''), with exit 0
    path = _write(tmp_path, "m.csv", "1,,0\n2,3,1\n3,4,0\n")
    with pytest.raises(ValueError, match=r"m.csv, line 1, column 'column_1': missing value"):
        files.read_csv(path)


@pytest.mark.parametrize("word", ["NA", "n/a", "?", "null", "None", "missing"])
def test_a_missing_value_word_in_a_headerless_first_row_is_no_name(word, tmp_path):
    # the row became the header (names 'NA', '2.5'): one row fewer, exit 0
    path = _write(tmp_path, "w.csv", f"{word},2.5,0\n1.0,2.0,1\n3.0,4.0,0\n")
    message = f"w.csv, line 1, column 'column_0': cannot read {word!r} as a number"
    with pytest.raises(ValueError, match=re.escape(message)):
        files.read_csv(path)
    with pytest.raises(ValueError, match=r"the first row must be a header .* got numbers"):
        read_inputs(path, 3, header=None)  # predict's: a header is required, not the NA row
    with pytest.raises(ValueError, match=r"line 1, column 'column_0'"):
        read_inputs(path, 3, header=False)
    named = _write(tmp_path, "n.csv", f"a,{word},y\n1,2,0\n3,4,1\n")  # a name among names
    assert files.read_csv(named)[2] == ["a", word]


@pytest.mark.parametrize("mark", [".", "-", "--", "*", "\u2014"])
def test_a_missing_value_mark_in_a_headerless_first_row_is_no_name(mark, tmp_path):
    # SAS and Stata write a missing number as '.', others '-': the row became the header
    # (names '1.5', '.', label column '0'), one row fewer, exit 0 (failed before: no error)
    path = _write(tmp_path, "m.csv", f"1.5,{mark},0\n2.5,3.1,1\n3.5,4.1,0\n")
    message = f"m.csv, line 1, column 'column_1': cannot read {mark!r} as a number"
    with pytest.raises(ValueError, match=re.escape(message)):
        files.read_csv(path)
    named = _write(tmp_path, "n.csv", f"a,{mark},y\n1,2,0\n3,4,1\n")  # a mark among names
    assert files.read_csv(named)[2] == ["a", mark]


def test_a_first_row_of_column_positions_as_pandas_writes_them_is_asked_about(tmp_path):
    # DataFrame(x).to_csv(index=False) writes '0,1,2': it was read as data, one example and
    # one class (2) more
    path = _write(tmp_path, "p.csv", "0,1,2\n0.5,1.5,1\n-0.5,2.5,0\n1.5,0.5,1\n")
    with pytest.raises(ValueError, match=r"p.csv: cannot tell .* column positions 0\.\.2"):
        files.read_csv(path)
    with pytest.raises(ValueError, match=r"--header, --no-header"):
        read_inputs(path, 3, header=None)
    assert len(files.read_csv(path, header=True)[0]) == 3
    assert len(files.read_csv(path, header=False)[0]) == 4
    data = _write(tmp_path, "d.csv", "0,2,1\n0.5,1.5,1\n-0.5,2.5,0\n")  # not the positions
    assert len(files.read_csv(data)[0]) == 3


@pytest.mark.parametrize("row", [",,", "  ,  , "])
def test_a_row_of_empty_fields_is_a_row_of_missing_values(row, tmp_path):
    # the row was skipped: predictions no longer matched the input rows one to one
    path = _write(tmp_path, "e.csv", f"a,b,c\n1,2,3\n{row}\n-1,0.5,2\n")
    with pytest.raises(ValueError, match=r"e.csv, line 3, column 'a': missing value"):
        read_inputs(path, 3, feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"line 3, column 'a': missing value"):
        files.read_csv(path)
    blank = _write(tmp_path, "b.csv", "a,b,c\n1,2,3\n\n   \n-1,0.5,2\n")  # blank lines: no rows
    assert len(read_inputs(blank, 3, feature_names=["a", "b", "c"])) == 2


def test_a_quoted_empty_field_alone_on_its_line_is_a_missing_value_not_a_blank_line(tmp_path):
    # failed before: pandas writes a one-column frame's NaN as '""', which was skipped as a
    # blank line: predict gave 3 predictions for 4 rows, those after it one row off, exit 0
    import pandas as pd

    path = tmp_path / "one.csv"
    pd.DataFrame({"a": [1.0, np.nan, 2.0, 3.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"one.csv, line 3, column 'a': missing value"):
        read_inputs(path, 1, feature_names=["a"])
    blank = _write(tmp_path, "b.csv", "a\n1\n\n  \n2\n\n")  # unquoted blank lines: no rows
    assert len(read_inputs(blank, 1, feature_names=["a"])) == 2


def test_a_field_spanning_lines_is_refused(tmp_path):
    # a stray quote made the rest of the file one class '0\n2,3,1\n...'
    path = _write(tmp_path, "q.csv", 'a,b,y\n1,2,0\n3,4,1\n9,1,"0\n2,3,1\n4,5,0\n')
    with pytest.raises(ValueError, match=r"q.csv, line 4, column 'y': .*line break.*quote"):
        files.read_csv(path)
    # a stray quote before the last column also changes the row's count of fields: the line
    # break is named, not the count (whose message pasted the rest of the file)
    middle = _write(tmp_path, "m.csv", 'a,b,y\n1,2,0\n3,"4,1\n5,6,0\n')
    with pytest.raises(ValueError, match=r"m.csv, line 3, column 'b': .*line break.*quote"):
        files.read_csv(middle)


def test_a_label_column_index_that_is_also_a_column_name_is_refused(tmp_path):
    path = _write(tmp_path, "h.csv", "a,2,y\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"label_column 2 is the index of 'y' and the name of"):
        files.read_csv(path, 2, header=True)
    assert files.read_csv(path, "2", header=True)[3] == "2"


@pytest.mark.parametrize("name", ["label", "Target", "CLASS"])
def test_the_default_label_column_is_refused_where_another_column_is_named_for_labels(
    name, tmp_path, capsys
):
    """A file whose labels stand first (Kaggle's MNIST and Fashion-MNIST CSVs: label, pixel1,
    ...) trained on the last pixel as the labels and on the labels as a feature, exit 0
    (failed before: no error). The default, the last column, is refused where another column
    is named label, labels, target or class; a label column given by name or index is read."""
    path = _write(tmp_path, "k.csv", f"{name},pixel1,pixel2\n3,0,1\n5,2,0\n3,1,1\n")
    said = (
        rf"k.csv: label_column -1 \(the default\) reads the labels from the last column, "
        rf"'pixel2', but column 0 is named '{name}': name the label column \(label_column='{name}'"
    )
    with pytest.raises(ValueError, match=said):
        files.read_csv(path)
    with pytest.raises(ValueError, match=said):
        datasets.load(path)
    assert files.read_csv(path, name)[1].tolist() == [3, 5, 3]
    assert files.read_csv(path, 0)[1].tolist() == [3, 5, 3]
    assert files.read_csv(path, "pixel2")[3] == "pixel2" == files.read_csv(path, 2)[3]
    for last in (f"x,y,{name}\n", "x,labelled,y\n"):  # a label's name last
        kept = _write(tmp_path, "l.csv", last + "1,2,0\n3,4,1\n")  # or no column of one
        assert files.read_csv(kept)[3] == last.strip().split(",")[-1]
    assert cli.main(["train", "--data", str(path), "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "column 0 is named" in capsys.readouterr().err


def test_the_default_label_column_is_refused_beside_a_second_column_named_for_labels(
    tmp_path, capsys
):
    """``label,a,target``: the default read the labels from ``target`` and took ``label``, a
    column named for labels (the same classes, say), for a feature, exit 0: a model that
    learned its answer from an input. Refused, naming both; either, named, is the label column
    (the other a feature, as asked)."""
    rows = "".join(f"{i % 3},{i * 0.1},{i % 3}\n" for i in range(9))
    path = _write(tmp_path, "two.csv", "label,a,target\n" + rows)
    said = (
        r"two.csv: label_column -1 \(the default\) reads the labels from the last column, "
        r"'target', but column 0 is named 'label' too: name the label column"
    )
    with pytest.raises(ValueError, match=said):
        files.read_csv(path)
    assert cli.main(["train", "--data", str(path), "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "column 0 is named 'label' too" in capsys.readouterr().err
    assert files.read_csv(path, "target")[2] == ["label", "a"]
    assert files.read_csv(path, "label")[2] == ["a", "target"]


@pytest.mark.slow
def test_a_run_from_before_the_label_name_rule_resumes_and_evaluates(tmp_path, monkeypatch):
    """A run trained, by the default, on the last column of a file with a feature named
    'label' (before that default was refused there) reads its labels again from the column it
    recorded, by name: resume and evaluate refused it (failed before: 'label_column -1 (the
    default) ... column 0 is named 'label'', and a resume takes no --label-column)."""
    path = _write(tmp_path, "f.csv", "label,a,y\n1,0.5,0\n2,0.1,1\n3,0.3,0\n4,0.9,1\n")
    run = str(tmp_path / "run")
    with monkeypatch.context() as before:
        before.setattr(files, "LABEL_NAMES", ())
        assert cli.main(["train", "--data", str(path), "--epochs", "1", "--out", run]) == 0
    assert cli.main(["train", "--out", run, "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert cli.main(["evaluate", run]) == 0
    assert cli.main(["train", "--data", str(path), "--out", str(tmp_path / "new")]) == 2


@pytest.mark.parametrize("sep", [";", "\t"])
@pytest.mark.parametrize("head", ["a{0}b{0}y\n", ""])
def test_a_file_of_another_separator_is_named(sep, head, tmp_path):
    # was "needs at least two columns, got ['a;b;y']", or with decimal commas "expected 1
    # fields as in the header, got 2"; predict: "lacks the columns ['a', 'b']"
    text = head.format(sep) + "".join(f"{i},5{sep}{i}{sep}{i % 2}\n" for i in range(4))
    path = _write(tmp_path, "s.csv", text)
    said = rf"s.csv.*\. Is it separated by {re.escape(repr(sep))}\? .*sep={re.escape(repr(sep))}"
    with pytest.raises(ValueError, match=said):
        files.read_csv(path)
    with pytest.raises(ValueError, match=said):
        read_inputs(path, 2, "y", ["a", "b"])
    plain = _write(tmp_path, "p.csv", "".join(f"{i}{sep}{i}{sep}{i % 2}\n" for i in range(4)))
    with pytest.raises(
        ValueError, match=rf"p.csv: one column, .*: is it separated by {re.escape(repr(sep))}\?"
    ):
        files.read_csv(plain)


def test_a_column_named_by_a_number_is_reached_by_its_index(tmp_path):
    # --label-column 3 is always an index: "use ... a name" led nowhere for the column named 3
    path = _write(tmp_path, "n.csv", "3,a,y\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"out of range .*; the column named '3' is index 0\."):
        files.read_csv(path, 3, header=True)
    clash = _write(tmp_path, "h.csv", "a,2,y\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"column 1: give 'y' by its name, '2' by its index 1\."):
        files.read_csv(clash, 2, header=True)
    assert files.read_csv(path, np.int64(0), header=True)[3] == "3"  # a numpy integer: an index


def test_a_label_column_given_as_a_0_d_integer_array_is_its_index(tmp_path):
    # refused before ("label_column must be a column index or name, got array(0)"), as every
    # integer setting refused them while real-valued ones took them (numeric.as_int)
    path = _write(tmp_path, "n.csv", "3,a,y\n1,2,0\n3,4,1\n")
    assert files.read_csv(path, np.array(0), header=True)[3] == "3"
    assert files.read_csv(path, jnp.array(-2), header=True)[3] == "a"
    for bad in (np.array(0.0), np.array(True), np.zeros(1, int)):
        with pytest.raises(ValueError, match="label_column must be a column index or name"):
            files.read_csv(path, bad, header=True)


@pytest.mark.parametrize("text", ["02", "+1", "1_0", "\u0662", "-0"])
def test_a_label_column_flag_that_is_not_a_plain_index_is_a_name(text, tmp_path):
    # int(text) read '02' as index 2, so column '03' became the label and '02' a feature
    assert cli_flags.column(text) == text
    path = _write(tmp_path, "pad.csv", f"01,{text},03\n0.1,0,5\n0.2,1,6\n")
    assert files.read_csv(path, cli_flags.column(text), header=True)[3] == text
    assert cli_flags.column("2") == 2 and cli_flags.column("-1") == -1


@pytest.mark.parametrize("text", ["+1", " 2", "1_0"])
def test_a_label_column_flag_that_is_no_name_and_no_plain_index_is_refused(text, tmp_path, capsys):
    path = _write(tmp_path, "pad.csv", "01,02,03\n0.1,0,5\n0.2,1,6\n0.3,0,7\n0.4,1,8\n")
    args = ["--data", str(path), "--header", "--label-column", text, "--out", str(tmp_path / "r")]
    assert cli.main(["train", "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no column named {text!r}" in err and "such as 2 or -1" in err


def test_integer_labels_past_2_to_the_53_keep_their_classes(tmp_path):
    # read as float64 they merged: 9007199254740993 and ...992 were one class
    path = _write(tmp_path, "big.csv", "a,y\n1,9007199254740993\n2,9007199254740992\n3,7\n")
    np.testing.assert_array_equal(files.read_csv(path)[1], [9007199254740993, 9007199254740992, 7])
    too_big = _write(tmp_path, "huge.csv", "a,y\n1,99999999999999999999\n2,7\n")
    with pytest.raises(ValueError, match=r"line 2, column 'y': the integer label .* int64"):
        files.read_csv(too_big)
    # of 4,301 digits and more, Python's int() refused it in words of its own, no file or line
    # (failed before: "Exceeds the limit (4300 digits) ... use sys.set_int_max_str_digits()")
    for digits in ("1" * 5000, "-" + "9" * 4301, "0" * 5000 + "7"):
        huge = _write(tmp_path, "digits.csv", f"a,y\n1,7\n2,{digits}\n")
        if digits.endswith("07"):  # leading zeros: 7, and a second spelling of it
            with pytest.raises(ValueError, match=r"are one number, 7, written two ways"):
                files.read_csv(huge)
            continue
        with pytest.raises(ValueError, match=r"line 3, column 'y': the integer label .* int64"):
            files.read_csv(huge)


@pytest.mark.parametrize("one", ["9007199254740993.0", "+9007199254740993.00"])
def test_integer_labels_past_2_to_the_53_written_with_a_point_are_not_merged(one, tmp_path):
    # failed before: read as float64 (for the point), the two integers were one class, silently
    path = _write(tmp_path, "f.csv", f"a,y\n1,{one}\n2,9007199254740992\n3,7\n")
    said = f"the labels {one!r} (line 2) and '9007199254740992' (line 3) are two integers"
    with pytest.raises(ValueError, match=re.escape(f"column 'y': {said} but one float64")):
        files.read_csv(path)
    same = _write(tmp_path, "s.csv", "a,y\n1,9007199254740992.0\n2,9007199254740992\n3,7\n")
    assert len(set(files.read_csv(same)[1].tolist())) == 2  # one integer, written two ways
    for other in ("1.5", "1e3"):  # a fraction or an exponent: measurements, rounded as floats
        wide = _write(tmp_path, "w.csv", f"a,y\n1,{one}\n2,9007199254740992\n3,{other}\n")
        assert len(set(files.read_csv(wide)[1].tolist())) == 2


def test_one_integer_label_past_2_to_the_53_written_with_a_point_is_not_rounded(tmp_path):
    # failed before: alone in its column, 9007199254740993.0 was read as the float64
    # 9007199254740992.0, silently: the class was recorded under another number, and evaluated
    # against a run's integer classes it was the class 9007199254740992 (a wrong accuracy)
    path = _write(tmp_path, "f.csv", "a,y\n1,7\n2,9007199254740993.0\n3,7\n")
    said = "line 3, column 'y': the label '9007199254740993.0' is an integer that float64"
    with pytest.raises(ValueError, match=re.escape(said)):
        files.read_csv(path)
    with pytest.raises(ValueError, match=re.escape(said)):
        datasets.load(path, classes=[7, 9007199254740992, 9007199254740993], min_examples=1)
    exact = _write(tmp_path, "e.csv", "a,y\n1,7\n2,9007199254740992.0\n3,-2.0e0\n4,1e17\n")
    assert files.read_csv(exact)[1].tolist() == [7, 2**53, -2, 1e17]  # float64 holds each


@pytest.mark.parametrize("one, other", [("007", "7"), ("07", "007"), ("+7", "7"), ("-0", "0")])
def test_one_integer_label_written_two_ways_is_refused(one, other, tmp_path, capsys):
    # they merged silently: labels 007, 07 and 7 (codes, as names three classes) were class 7
    path = _write(tmp_path, "codes.csv", f"a,y\n1,{one}\n2,8\n3,{other}\n4,8\n5,{one}\n")
    said = f"codes.csv, column 'y': the labels {one!r} (line 2) and {other!r} (line 4) are one"
    with pytest.raises(ValueError, match=re.escape(said)):
        files.read_csv(path)
    args = ["train", "--no-progress", "--data", str(path), "--out", str(tmp_path / "r")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "written two ways" in err and "Traceback" not in err, err
    padded = _write(tmp_path, "padded.csv", "a,y\n1,007\n2,008\n3,007\n")  # one way each: numbers
    np.testing.assert_array_equal(files.read_csv(padded)[1], [7, 8, 7])


@pytest.mark.parametrize("one, other", [("TRUE", "True"), ("true", "True"), ("FALSE", "false")])
def test_one_boolean_label_written_in_two_cases_is_refused(one, other, tmp_path):
    # they were classes apart: TRUE (a spreadsheet's), True (pandas') and false, 3 classes of a
    # 2-class column, exit 0 (a warning only where few rows per class)
    path = _write(tmp_path, "b.csv", f"a,y\n1,{one}\n2,maybe\n3,{other}\n4,maybe\n")
    said = f"b.csv, column 'y': the labels {one!r} (line 2) and {other!r} (line 4) are one truth"
    with pytest.raises(ValueError, match=re.escape(said) + ".*Write each class one way"):
        files.read_csv(path)
    one_way = _write(tmp_path, "one.csv", "a,y\n1,TRUE\n2,FALSE\n3,TRUE\n4,true_ish\n")
    assert sorted(set(files.read_csv(one_way)[1].tolist())) == ["FALSE", "TRUE", "true_ish"]


@pytest.mark.parametrize(
    "one, other",
    [("Z\u00fcrich", "Zu\u0308rich"), ("cat", "cat\u200b"), ("\u00c5sa", "\u212bsa")],
    ids=["combining-diaeresis", "zero-width-space", "angstrom-sign"],
)
def test_one_name_in_two_unicode_spellings_is_refused(one, other, tmp_path):
    # they were two classes that print alike: 'Zürich' as one character or as u and a
    # combining diaeresis (macOS writes the second), a zero-width space pasted in; exit 0
    path = _write(tmp_path, "u.csv", f"a,y\n1,{one}\n2,Bern\n3,{other}\n4,Bern\n")
    said = f"u.csv, column 'y': the labels {one!r} (line 2) and {other!r} (line 4) are one name"
    with pytest.raises(ValueError, match=re.escape(said) + ".*Write each class one way"):
        files.read_csv(path)
    apart = _write(tmp_path, "a.csv", f"a,y\n1,{one}\n2,Bern\n3,{one}\n4,zurich\n")
    assert sorted(set(files.read_csv(apart)[1].tolist())) == sorted({one, "Bern", "zurich"})


def test_a_label_that_reads_as_missing_warns(tmp_path):
    path = _write(tmp_path, "na.csv", "a,y\n1,cat\n2,dog\n3,NA\n4,cat\n")
    with pytest.warns(UserWarning, match=r"na.csv: label 'NA' \(1 row, first line 4\) .*missing"):
        labels = files.read_csv(path)[1]
    assert "NA" in labels  # a class, as written, but not without a word


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib"])
def test_an_encoding_that_is_not_text_is_named(codec, tmp_path):
    path = _write(tmp_path, "d.csv", "a,y\n1,0\n2,1\n")
    with pytest.raises(ValueError, match=f"{codec!r} is not a text encoding"):
        files.read_csv(path, encoding=codec)


@pytest.mark.parametrize("kind", ["timedelta64[s]", "datetime64[s]"])
def test_time_arrays_are_not_numbers(kind, tmp_path):
    x = np.arange(8).reshape(4, 2)
    np.savez(tmp_path / "t.npz", x=x.astype(kind), y=np.arange(4) % 2)
    with pytest.raises(ValueError, match=re.escape(f"array 'x' must be numeric, got dtype {kind}")):
        files.read_npz(tmp_path / "t.npz")
    with pytest.raises(
        ValueError, match=re.escape(f"y must hold numbers or class names, got dtype {kind}")
    ):
        datasets.from_arrays(x, (np.arange(4) % 2).astype(kind))


@pytest.mark.slow
def test_the_command_line_says_header_or_no_header(tmp_path, capsys):
    from jaxmlp import cli

    path = _write(
        tmp_path, "i.csv", "".join(f"{i % 5}.5,{i % 3},{'ab'[i % 2]}\n" for i in range(12))
    )
    args = ["train", "--data", str(path), "--hidden", "2", "--epochs", "1", "--no-progress"]
    assert cli.main([*args, "--out", str(tmp_path / "A")]) == 2
    assert "cannot tell whether the first row" in capsys.readouterr().err
    assert cli.main([*args, "--no-header", "--out", str(tmp_path / "B")]) == 0
    assert cli.main([*args, "--header", "--out", str(tmp_path / "C")]) == 0
    assert "11 train" in capsys.readouterr().out
    assert cli.main([*args, "--header", "--no-header", "--out", str(tmp_path / "D")]) == 2
    sweep = ["sweep", "--data", str(path), "--hidden", "2", "--epochs", "1", "--seeds", "2"]
    assert cli.main([*sweep, "--no-header", "--out", str(tmp_path / "S")]) == 0


@pytest.mark.parametrize(
    "one, other",
    [("caf\u00e9", "cafe\u0301"), ("cat", "cat\u200b"), ("TRUE", "True")],
    ids=["combining-acute", "zero-width-space", "truth-value-cases"],
)
def test_from_arrays_refuses_one_name_in_two_spellings_as_a_csv_does(one, other):
    # failed before: from_arrays (the Python API, an sklearn estimator's labels) made them two
    # classes that print alike, 3 classes of a 2-class problem, silently
    x = np.arange(12.0).reshape(6, 2)
    y = np.array([one, "tea", other, "tea", one, "tea"])
    said = f"y: the labels {one!r} (index 0) and {other!r} (index 2) are one"
    with pytest.raises(ValueError, match=re.escape(said) + ".*Write each class one way"):
        datasets.from_arrays(x, y)
    test = np.array([other, "tea"])  # the second spelling in the test labels alone
    with pytest.raises(ValueError, match=re.escape(f"(index 0) and {other!r} (y_test index 0)")):
        datasets.from_arrays(x, np.array([one, "tea"] * 3), x[:2], test)
    said = f"the first, {other!r}, at index 0 ({other!r} is the class {one!r} written another"
    with pytest.raises(ValueError, match=re.escape(said)):  # a trained model's classes
        datasets.from_arrays(x[:2], test, classes=[one, "tea"], task="binary", min_examples=1)
    apart = datasets.from_arrays(np.ones((9, 2)), np.array([one, "tea", "Tea"] * 3))
    assert apart.info["classes"] == sorted([one, "Tea", "tea"])


@pytest.mark.slow
def test_a_run_whose_header_the_old_rule_detected_is_evaluated_and_resumed_on_its_data(
    tmp_path, monkeypatch, capsys
):
    # a run trained on '1990,2000,y' (a header by the rule before: a name over numbers) would
    # be refused its own data by the rule since (evaluate and --resume take no --header): the
    # run's recorded feature names say the file had a header
    rows = "".join(f"{i},{-i},{i % 2}\n" for i in range(8))
    path = _write(tmp_path, "d.csv", "1990,2000,y\n" + rows)
    with monkeypatch.context() as old:
        old.setattr(files, "is_header", lambda path, rows, known=(): True)
        argv = ["train", "--no-progress", "--data", str(path), "--epochs", "1", "--hidden", "2"]
        assert cli.main([*argv, "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    with pytest.raises(ValueError, match="cannot tell whether the first row"):
        files.read_csv(path)  # the rule of today asks
    assert cli.main(["evaluate", str(tmp_path / "r"), "--json"]) == 0
    assert '"n": 8' in capsys.readouterr().out
    argv[argv.index("1")] = "2"
    assert cli.main([*argv, "--out", str(tmp_path / "r"), "--resume"]) == 0


def test_evaluate_takes_a_first_row_of_the_runs_own_names_for_its_header(tmp_path):
    # as predict does: a run whose columns are 'I' and 'O' evaluated on a file headed by them
    # was asked for --header (its 'O' over numbers reads as a zero mistyped)
    from jaxmlp import MLP, save_run
    from jaxmlp.run.predict import evaluate_run

    net = MLP((2, 2, 1), "tanh", "sigmoid", "bce")
    params = net.init(__import__("jax").random.PRNGKey(0))
    run = save_run(tmp_path / "r", net, params, classes=["a", "b"], feature_names=["I", "O"],
                   label_name="y")  # fmt: skip
    path = _write(tmp_path, "e.csv", "O,I,y\n2.5,3,a\n3.5,4,b\n")
    assert evaluate_run(run, str(path))["data"]["n"] == 2
    other = _write(tmp_path, "o.csv", "O,V,y\n2.5,3,a\n3.5,4,b\n")
    with pytest.raises(ValueError, match=r"'O' stands over a column of numbers"):
        evaluate_run(run, str(other))


@pytest.mark.parametrize("label", [0, 1])
def test_a_run_of_a_headerless_file_whose_label_is_not_last_reads_it_headerless_again(
    label, tmp_path
):
    # failed before: a run trained on a headerless file with --label-column 0 records its
    # features as column_1, column_2, which are not column_0, column_1: evaluate and --resume
    # took the file for one with a header, lost its first row and said the data "differ"
    from jaxmlp.run import DEFAULTS, data

    rows = "".join(f"{i % 2},{i}.5,{-i}.25\n" if label == 0 else f"{i}.5,{i % 2},{-i}.25\n"
                   for i in range(12))  # fmt: skip
    path = _write(tmp_path, "h.csv", rows)
    features = [n for n in files.column_names(3) if n != f"column_{label}"]
    record = {"feature_names": features, "label_name": f"column_{label}", "x_dtype": "float64",
              "t_dtype": "float64"}  # fmt: skip
    settings = DEFAULTS | {"data": str(path), "label_column": label}
    ds, _ = data.load_data(settings, record)
    assert len(ds.x_train) == 12 and ds.info["feature_names"] == features


@pytest.mark.parametrize(
    "row, error",
    [('"1"2,3,0', "',' expected after '\"'"), ('4,5,"1', "unexpected end of data")],
    ids=["text-after-a-closing-quote", "unterminated-quote-at-the-end"],
)
def test_a_quoted_field_that_does_not_end_at_its_closing_quote_is_refused(row, error, tmp_path):
    # failed before: csv read '"1"2' as 12, a number the file does not hold, silently (and
    # an unterminated quote at the end of the file as if it were closed)
    path = _write(tmp_path, "q.csv", f"a,b,y\n4,5,1\n{row}")
    with pytest.raises(ValueError, match=re.escape(f"q.csv, line 3: not valid CSV ({error})")):
        files.read_csv(path)
    fine = _write(tmp_path, "f.csv", 'a,b,y\n"1","2",0\n4,5,"1"\n')  # quoted fields as such
    np.testing.assert_array_equal(files.read_csv(fine)[0], [[1, 2], [4, 5]])
