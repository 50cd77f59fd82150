"""Data sets: every loader's shapes, task and encoding; seeded determinism; the seeds' geometry and
the true posterior; IDX parsing on files written here; the real Fashion-MNIST from its Debian
package; user files, and a clear ValueError for each kind of bad input."""

import gzip
import json
import os
import pathlib
import re
import struct
import subprocess
import sys
import warnings

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp import MLP, TrainConfig, datasets, fit, idx

SYNTHETIC = ("xor", "rings", "gaussians", "spirals", "moons", "sine", "surface", "outliers")
SYNTHETIC += ("multilabel",)
CHEAP = (*SYNTHETIC, "digits")
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def _assert_stratified(part, whole):
    """Each class's count in ``part`` is within 1 of its share of ``whole``."""
    counts, total = np.bincount(part), np.bincount(whole)
    np.testing.assert_array_less(np.abs(counts - len(part) * total / len(whole)), 1)


def _entry(name):
    return next(d for d in datasets.describe() if d["name"] == name)


# -- every named set ------------------------------------------------------------------------------


def test_names_list_every_loader():
    assert set(datasets.names()) == {*CHEAP, "fashion-mnist", "mnist1d"}
    assert [d["name"] for d in datasets.describe()] == list(datasets.names())


@pytest.mark.parametrize("name", CHEAP)
def test_loaded_shapes_and_encoding_match_describe(name):
    ds, entry = datasets.load(name), _entry(name)
    assert (ds.name, ds.task, ds.n_classes) == (name, entry["task"], entry["n_classes"])
    assert (
        ds.x_train.shape
        == (entry["n_train"], entry["n_features"])
        == (
            len(ds.t_train),
            ds.n_features,
        )
    )
    if entry["n_test"]:
        assert ds.x_test.shape == (entry["n_test"], entry["n_features"])
        assert len(ds.t_test) == entry["n_test"]
    else:
        assert ds.x_test is None and ds.t_test is None
    assert ds.x_val is None and ds.t_val is None
    assert ds.x_train.dtype == np.float32
    if ds.task == "multiclass":
        assert ds.t_train.dtype == np.int32 and ds.t_train.ndim == 1
        assert set(np.unique(ds.t_train)) == set(range(ds.n_classes))
    else:
        assert ds.t_train.dtype == np.float32 and ds.t_train.ndim == 2
    if ds.task in ("binary", "multilabel"):
        assert set(np.unique(ds.t_train)) == {0.0, 1.0}
    outputs = {"binary": 1, "multiclass": ds.n_classes, "multilabel": ds.n_classes}
    assert ds.n_outputs == outputs.get(ds.task, ds.t_train.shape[-1])


@pytest.mark.parametrize("name", CHEAP)
def test_targets_are_what_the_network_takes_with_the_default_output_and_loss(name):
    ds = datasets.load(name)
    output, loss = datasets.default_output_and_loss(ds.task)
    net = jaxmlp.MLP((ds.n_features, 4, ds.n_outputs), output=output, loss=loss)
    t = np.asarray(net.targets(ds.t_train, len(ds.x_train)))  # the MLP's own target check
    assert t.shape == (len(ds.x_train), ds.n_outputs)
    if ds.task == "multiclass":
        np.testing.assert_array_equal(t, datasets.one_hot(ds.t_train, ds.n_classes))


def test_default_output_and_loss_per_task():
    assert datasets.default_output_and_loss("multiclass") == ("softmax", "cross_entropy")
    assert datasets.default_output_and_loss("binary") == ("sigmoid", "bce")
    assert datasets.default_output_and_loss("multilabel") == ("sigmoid", "bce")
    assert datasets.default_output_and_loss("regression") == ("identity", "sse")
    with pytest.raises(ValueError, match=r"Unknown task: 'ranking'.*'regression'"):
        datasets.default_output_and_loss("ranking")


@pytest.mark.parametrize("name", SYNTHETIC[1:])
def test_synthetic_sets_are_determined_by_the_seed(name):
    a, b, c = (datasets.load(name, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.t_test, b.t_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_n_draws_the_training_set_and_leaves_the_test_set_alone():
    full, small = (
        datasets.load("moons", standardize=False),
        datasets.load("moons", n=100, standardize=False),
    )
    assert small.x_train.shape == (100, 2) and small.t_train.mean() == 0.5
    np.testing.assert_array_equal(full.x_test, small.x_test)


def test_xor_is_the_seed_003_truth_table_and_is_not_standardised():
    ds = datasets.load("xor", standardize=True)
    np.testing.assert_array_equal(ds.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.t_train, [[0], [1], [1], [0]])
    assert ds.info["standardizer"] is None
    with pytest.raises(ValueError, match="xor is the 4-row truth table.*got 8"):
        datasets.load("xor", n=8)


def test_rings_lie_in_the_seed_004_sets_uniformly():
    ds = datasets.load("rings", n=4000, standardize=False)
    d = np.hypot(*ds.x_train.T)
    a, b = ds.t_train[:, 0] == 0, ds.t_train[:, 0] == 1
    assert a.sum() == b.sum() == 2000
    assert d[a].max() < 1 / 3 and d[b].min() > 2 / 3 and d[b].max() < 1
    # uniform in area: a quarter of A lies within d < 1/6; the annulus splits at d^2 = 13/18
    assert abs(np.mean(d[a] < 1 / 6) - 0.25) < 0.03
    assert abs(np.mean(d[b] ** 2 < 13 / 18) - 0.5) < 0.03
    angles = np.arctan2(ds.x_train[:, 1], ds.x_train[:, 0])
    assert abs(np.mean(angles > 0) - 0.5) < 0.03


def _bayes_posterior(x, info):
    """P(C1|x) by Bayes' rule from the two Gaussian densities, written out independently."""

    def density(m):
        r = x - m
        s_inv = np.linalg.inv(info["cov"])
        norm = 2 * np.pi * np.sqrt(np.linalg.det(info["cov"]))
        return np.exp(-0.5 * np.einsum("ni,ij,nj->n", r, s_inv, r)) / norm

    p1, p2 = (density(m) * prior for m, prior in zip(info["means"], info["priors"]))
    return p1 / (p1 + p2)


def test_gaussians_posterior_is_bayes_rule_in_the_data_sets_own_space():
    raw = datasets.load("gaussians", standardize=False)
    std = datasets.load("gaussians")  # same seed: the same points, standardised
    truth = _bayes_posterior(raw.x_test.astype(np.float64), raw.info)
    for ds in (raw, std):
        p = datasets.posterior(ds, ds.x_test)
        assert p.shape == (1000,) and np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p, truth, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(datasets.posterior(std.info, std.x_test), truth, rtol=1e-5)
    # the labels follow the posterior: calibrated on average, prior P(C1) = 0.6
    assert abs(raw.t_test.mean() - truth.mean()) < 0.04
    assert abs(raw.t_train.mean() - 0.6) < 0.04
    assert np.all(datasets.posterior(raw, np.array([[1e4, 1e4], [-1e4, -1e4]])) == [1, 0])


def test_posterior_is_only_known_for_gaussians():
    with pytest.raises(ValueError, match="only for the 'gaussians'"):
        datasets.posterior(datasets.load("moons"), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        datasets.posterior(datasets.load("gaussians"), np.zeros((3,)))


def test_function_regression_sets_hold_their_functions():
    sine = datasets.load("sine", standardize=False)
    assert np.all(np.abs(sine.x_train) <= np.pi)
    np.testing.assert_allclose(sine.t_train, np.sin(sine.x_train), atol=1e-6)
    surface = datasets.load("surface", standardize=False)
    x1, x2 = surface.x_test.T
    assert surface.x_test.min() >= 0 and surface.x_test.max() <= 1
    want = np.sin(2 * np.pi * x1) * np.cos(2 * np.pi * x2)
    np.testing.assert_allclose(surface.t_test[:, 0], want, atol=1e-5)


def test_outliers_are_in_the_training_set_only():
    ds = datasets.load("outliers", standardize=False)
    line = lambda d: d.t_train[:, 0] - (2 * d.x_train[:, 0] + 1)  # noqa: E731
    residual_test = ds.t_test[:, 0] - (2 * ds.x_test[:, 0] + 1)
    assert np.sum(np.abs(line(ds)) > 4) == 20  # 10% of 200, each moved by 5 to 10
    assert np.abs(residual_test).max() < 0.5


def test_multilabel_has_two_independent_balanced_labels():
    ds = datasets.load("multilabel", n=4000)
    spam, urgent = ds.t_train.T
    assert ds.info["labels"] == ["spam", "urgent"]
    assert abs(spam.mean() - 0.5) < 0.03 and abs(urgent.mean() - 0.5) < 0.03
    assert abs(np.corrcoef(spam, urgent)[0, 1]) < 0.05


def test_spirals_and_moons_are_balanced_two_class_sets():
    for name in ("spirals", "moons"):
        ds = datasets.load(name, standardize=False)
        assert ds.t_train.mean() == 0.5
    spirals = datasets.load("spirals", standardize=False)
    assert np.hypot(*spirals.x_train.T).max() < 1.1


# -- preprocessing and splits ---------------------------------------------------------------------


def test_standardizer_is_fitted_on_the_training_split_only():
    raw = datasets.load("digits", standardize=False, val_fraction=0.25, seed=1)
    ds = datasets.load("digits", val_fraction=0.25, seed=1)
    scaler = ds.info["standardizer"]
    np.testing.assert_allclose(scaler.mean, raw.x_train.mean(0), atol=1e-6)
    np.testing.assert_allclose(ds.x_val, scaler.apply(raw.x_val), atol=1e-6)
    np.testing.assert_allclose(ds.x_test, scaler.apply(raw.x_test), atol=1e-6)
    np.testing.assert_allclose(ds.x_train.mean(0), 0, atol=1e-5)
    varying = raw.x_train.std(0) > 0
    np.testing.assert_allclose(ds.x_train.std(0)[varying], 1, atol=1e-4)
    np.testing.assert_array_equal(ds.x_train[:, ~varying], 0)  # constant pixels map to 0
    np.testing.assert_allclose(scaler.invert(ds.x_test), raw.x_test, atol=1e-5)
    assert abs(ds.x_val.mean()) > 1e-4  # fitted on train, not refitted on val


def test_validation_split_is_stratified_seeded_and_disjoint():
    a, b, c = (datasets.load("digits", val_fraction=0.2, seed=s) for s in (0, 0, 1))
    assert len(a.x_val) == int(0.2 * 1438) and len(a.x_train) == 1438 - len(a.x_val)
    _assert_stratified(a.t_val, np.concatenate([a.t_train, a.t_val]))
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    np.testing.assert_array_equal(a.t_test, c.t_test)  # the test split of a real set is fixed
    unscale = lambda d: d.info["standardizer"].invert(d.x_test)  # noqa: E731
    np.testing.assert_allclose(unscale(a), unscale(c), atol=1e-5)
    rows = lambda x: {r.tobytes() for r in x}  # noqa: E731
    assert not rows(a.x_train) & rows(a.x_val)


@pytest.mark.parametrize(
    "key_or_seed",
    [7, np.random.default_rng(7), jax.random.key(7), jax.random.PRNGKey(7)],
    ids=["int", "generator", "typed-key", "raw-key"],
)
def test_stratified_split_keeps_class_proportions(key_or_seed):
    t = np.repeat(np.arange(3), [50, 30, 20]).astype(np.int32)
    x = np.arange(100.0)[:, None]
    x_a, t_a, x_b, t_b = datasets.stratified_split(x, t, 0.3, key_or_seed)
    assert len(x_b) == 30 and len(x_a) == 70
    np.testing.assert_array_equal(np.bincount(t_b), [15, 9, 6])
    np.testing.assert_array_equal(np.sort(np.concatenate([x_a, x_b])[:, 0]), x[:, 0])
    assert np.all(np.diff(x_b[:, 0]) > 0)  # the original order is kept


def test_stratified_split_of_label_rows_and_of_regression_targets():
    t = np.repeat([[0, 0], [0, 1], [1, 1], [1, 0]], 25, axis=0).astype(np.float32)
    _, _, _, t_b = datasets.stratified_split(np.zeros((100, 1)), t, 0.2, 0)
    np.testing.assert_array_equal(np.unique(t_b, axis=0, return_counts=True)[1], [5, 5, 5, 5])
    y = np.linspace(0, 1, 50)[:, None]
    parts = [datasets.stratified_split(y, y, 0.5, s)[2] for s in (0, 0, 1)]
    assert len(parts[0]) == 25 and np.array_equal(parts[0], parts[1])
    assert not np.array_equal(parts[0], parts[2])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((4, 1)), np.zeros(3), 0.5, 0), "x has 4 examples but t has 3"),
        ((np.zeros((4, 1)), np.zeros(4), 1.0, 0), r"fraction must be in \(0, 1\), got 1.0"),
        ((np.zeros((4, 1)), np.zeros(4), 0.1, 0), "puts 0 in one part"),
        ((np.zeros((4, 1)), np.zeros(4), 0.5, "seven"), "key_or_seed must be an int seed"),
        ((np.zeros((4, 1)), np.zeros(4), 0.5, -1), "non-negative, got -1"),
    ],
)
def test_stratified_split_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        datasets.stratified_split(*args)


def test_one_hot():
    np.testing.assert_array_equal(datasets.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert datasets.one_hot(np.array([1]), 2).dtype == np.float32
    with pytest.raises(ValueError, match=r"lie in \[0, 2\] for k = 3, got 3"):
        datasets.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        datasets.one_hot([0.5], 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(seed=-1), r"seed must be an integer in \[0, 2\*\*32 - 1\], got -1"),
        (dict(seed=1.5), "seed must be an integer in"),
        (dict(seed=2**32), "seed must be an integer in .*, got 4294967296"),
        (dict(val_fraction=1.0), r"val_fraction must be in \[0, 1\), got 1.0"),
        (dict(n=0), r"n must be an integer >= 2 \(two examples to train on\) or None, got 0"),
        (dict(n=1), "n must be an integer >= 2 .*, got 1"),  # was a data set of one example
        (dict(standardize="yes"), "standardize must be True or False"),
        (dict(n=5000), "n = 5000 is more than the 1438 training examples"),
        (dict(task="regression"), "'digits' is a multiclass data set, got task='regression'"),
    ],
)
def test_load_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        datasets.load("digits", **options)


def test_n_of_one_is_no_data_set_to_train_on_whatever_the_source(tmp_path):
    """``from_arrays`` refuses one example to train on, but ``n=1`` drew one: a data set of a
    single example, from a named set or from the user's arrays alike."""
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        datasets.from_arrays(x, y, n=1)
    assert len(datasets.from_arrays(x, y, n=2).x_train) == 2


READ = "data_dir applies to the sets that read files (fashion-mnist)"


@pytest.mark.parametrize(
    ("source", "options", "applies"),
    [
        ("xor", dict(label_column=0), "label_column applies to .csv files"),
        ("xor", dict(header=True), "header applies to .csv files"),
        ("digits", dict(encoding="latin-1"), "encoding applies to .csv files"),
        ("moons", dict(min_examples=1), "min_examples applies to files and arrays"),
        ("xor", dict(classes=[0, 1]), "classes applies to files and arrays"),
        ("digits", dict(data_dir="."), READ),
        ("d.npz", dict(label_column=0), "label_column applies to .csv files"),
        ("d.npz", dict(header=False), "header applies to .csv files"),
        ("d.npz", dict(encoding="latin-1"), "encoding applies to .csv files"),
        ("d.npz", dict(data_dir="."), READ),
        ("d.csv", dict(data_dir="."), READ),
    ],
)
def test_load_refuses_an_option_its_source_would_ignore(source, options, applies, tmp_path):
    """``load("xor", label_column=0)`` (or an .npz file's) was taken and ignored: the user's
    choice of label column, header or folder silently did nothing."""
    x = np.arange(20.0).reshape(10, 2)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10) % 2)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{a},{b},{i % 2}\n" for i, (a, b) in
                                                         enumerate(x)))  # fmt: skip
    name = source if source in datasets.names() else tmp_path / source
    where = repr(source) if source in datasets.names() else f"{tmp_path / source}"
    takes = "seed, val_fraction, standardize, n, task, dtype" + (", classes, min_examples" * (
        source == "d.npz") or ", label_column, header, encoding, classes, min_examples" * (
        source == "d.csv"))  # fmt: skip
    said = f"would be ignored: {applies}, not to {where}, which takes {takes}."
    with pytest.raises(ValueError, match=re.escape(said)):
        datasets.load(name, **options)
    defaults = dict(label_column=-1, header=None, encoding="utf-8", min_examples=2, data_dir=None)
    datasets.load(name, **{k: defaults[k] for k in options if k in defaults})  # as if not given


def test_unknown_names_list_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown dataset: 'mnist'.*'xor'.*'fashion-mnist'"):
        datasets.load("mnist")
    with pytest.raises(ValueError, match=r"Unknown dataset: .*data.txt.*\.csv or \.npz"):
        datasets.load(str(tmp_path / "data.txt"))
    with pytest.raises(ValueError, match="no such file"):
        datasets.load(tmp_path / "absent.csv")


def test_a_path_that_spells_a_data_sets_name_is_read_as_a_file(tmp_path, monkeypatch):
    # failed before: load(Path("xor")) said "Unknown dataset: 'xor'. It needs to be one of
    # ['xor', ...]", contradicting itself
    monkeypatch.chdir(tmp_path)
    said = r"xor: a Path is read as a data file \(.csv or .npz\), and no file is there"
    with pytest.raises(ValueError, match=said + r"; the data set 'xor' is named by the string"):
        datasets.load(pathlib.Path("xor"))
    (tmp_path / "data.txt").write_text("a,y\n1,0\n")
    with pytest.raises(ValueError, match=r"data.txt: a Path .*, and it is not a .csv or .npz"):
        datasets.load(pathlib.Path("data.txt"))


# -- digits (embedded) ----------------------------------------------------------------------------


def test_digits_are_the_1797_embedded_uci_images():
    ds = datasets.load("digits", standardize=False)
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert (ds.n_features, ds.n_classes) == (64, 10)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    np.testing.assert_array_equal(ds.x_train * 16, np.round(ds.x_train * 16))  # 0..16 / 16
    _assert_stratified(ds.t_test, np.concatenate([ds.t_train, ds.t_test]))
    small = datasets.load("digits", n=100)
    assert len(small.t_train) == 100
    _assert_stratified(small.t_train, ds.t_train)


@pytest.mark.slow
def test_digits_load_without_scikit_learn():
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None  # any import of it now fails\n"
        "from jaxmlp import datasets\n"
        "ds = datasets.load('digits')\n"
        "print(len(ds.x_train) + len(ds.x_test), ds.n_features)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1797", "64"]


# -- IDX files ------------------------------------------------------------------------------------


def _idx_bytes(array, code=0x08, dtype=">u1"):
    array = np.asarray(array)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize(
    ("code", "dtype"), [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4")]
)
def test_idx_round_trip(tmp_path, compress, code, dtype):
    array = np.arange(24).reshape(2, 3, 4) - (0 if dtype == ">u1" else 12)
    data = _idx_bytes(array, code, dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = idx.read(path)
    assert got.shape == (2, 3, 4) and got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "0 bytes, shorter than the header"),
        (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number 0x01020801"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number 0x00000701"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated header: 3 dimensions need 16"),
        (_idx_bytes(np.zeros((4, 3)))[:-2], r"truncated: shape \(4, 3\) of uint8 needs 12 .*10"),
        (_idx_bytes(np.zeros((4, 3))) + b"\x00", r"1 bytes beyond the data of shape \(4, 3\)"),
        (  # the sizes' product wrapped to 0 in int64: numpy's "cannot reshape", no file named
            b"\x00\x00\x08\x04" + struct.pack(">4I", *[65536] * 4),
            r"truncated: shape \(65536, 65536, 65536, 65536\) of uint8 needs "
            f"{2**64} data bytes, found 0",
        ),
    ],
    ids=["empty", "magic", "type", "no-dims", "header", "truncated", "wrong-dims", "overflow"],
)
def test_idx_rejects_corrupt_files_naming_them(tmp_path, data, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as error:
        idx.read(path)
    assert "bad-idx1-ubyte" in str(error.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_an_idx_header_is_read_once(tmp_path, monkeypatch, compress):
    """A gzip file's header was parsed twice: to size the read, then again by ``parse``."""
    data = _idx_bytes(np.zeros((4, 3)))
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    seen = []
    header = idx._header
    monkeypatch.setattr(idx, "_header", lambda *args: seen.append(1) or header(*args))
    assert idx.read(path).shape == (4, 3) and len(seen) == 1


def test_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((100, 3))))[:-20])
    with pytest.raises(ValueError, match="bad.gz: corrupt gzip data"):
        idx.read(path)


def test_a_gzip_idx_bomb_is_refused_without_unpacking_it(tmp_path, monkeypatch):
    # the whole file was decompressed before any size was checked: a 3 MB .gz of 3 GB ended in
    # a MemoryError traceback (or the OOM killer); now at most the header's size + 1 is read
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros(4)) + bytes(40 << 20), compresslevel=1))
    read, real = [], gzip.open

    def spy(*args, **kwargs):
        f = real(*args, **kwargs)
        whole = f.read
        f.read = lambda n=-1: read.append(len(data := whole(n))) or data
        return f

    monkeypatch.setattr(idx.gzip, "open", spy)
    with pytest.raises(ValueError, match=r"bomb-idx1-ubyte.gz: more bytes beyond the data"):
        idx.read(path)
    assert 0 < sum(read) <= 4 + 4 + 4 + 1, read


# -- Fashion-MNIST ------------------------------------------------------------------------------


def _write_fashion(folder, n_train=20, n_test=10, images_shape=(28, 28), n_labels=None):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, *images_shape))
        labels = np.arange(n if n_labels is None else n_labels) % 10
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    return folder


def test_fashion_mnist_reads_idx_files_from_data_dir(tmp_path):
    folder = _write_fashion(tmp_path / "fm")
    ds = datasets.load("fashion-mnist", data_dir=folder, standardize=False)
    assert ds.x_train.shape == (20, 784) and ds.x_test.shape == (10, 784)
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    np.testing.assert_array_equal(ds.t_train, np.arange(20) % 10)
    assert ds.info["folder"] == str(folder) and ds.info["classes"][9] == "Ankle boot"


def test_fashion_mnist_search_order_data_dir_alone_else_env_then_debian(tmp_path, monkeypatch):
    """A given data_dir is the only place looked: one that is not there, or lacks the files,
    fell back silently to $JAXMLP_DATA (this test asserted that) or the Debian copy."""
    first = _write_fashion(tmp_path / "first")
    env = _write_fashion(tmp_path / "data" / "fashion-mnist", n_train=30)  # a subfolder counts
    monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / "data"))
    assert datasets.load("fashion-mnist", data_dir=first).info["folder"] == str(first)
    found = datasets.load("fashion-mnist")
    assert found.info["folder"] == str(env) and len(found.x_train) == 30
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("")
    for name, problem in [("gone", "does not exist"), ("empty", "holds no Fashion-MNIST IDX"),
                          ("file", "is not a folder")]:  # fmt: skip
        message = rf"data_dir '{tmp_path / name}' {problem}.*train-images-idx3-ubyte\[\.gz\]"
        with pytest.raises(ValueError, match=message):
            datasets.load("fashion-mnist", data_dir=tmp_path / name)


def test_a_folder_and_its_fashion_mnist_subfolder_both_with_files_is_refused(tmp_path, monkeypatch):
    """data_dir (or $JAXMLP_DATA) holding IDX files of its own (MNIST's have the same names)
    and a fashion-mnist subfolder with Fashion-MNIST's: the folder's were read, silently, as
    Fashion-MNIST (failed before: 30 training images from the top). Which is meant is not
    known: refused, naming both."""
    top = _write_fashion(tmp_path / "data", n_train=30)
    _write_fashion(tmp_path / "data" / "fashion-mnist")
    message = rf"both {top} and {top / 'fashion-mnist'} hold .*name the one"
    with pytest.raises(ValueError, match=message):
        datasets.load("fashion-mnist", data_dir=top)
    monkeypatch.setenv("JAXMLP_DATA", str(top))
    with pytest.raises(ValueError, match=message):
        datasets.load("fashion-mnist")
    assert len(datasets.load("fashion-mnist", data_dir=top / "fashion-mnist").x_train) == 20


def test_an_idx_file_beside_its_gz_of_other_content_is_refused(tmp_path):
    """train-images-idx3-ubyte beside train-images-idx3-ubyte.gz, the two of other data: the
    .gz was read, silently (failed before: no error, the .gz's images read). Both
    of one content (``gunzip -k``) are read as one; of two, which is meant is not known."""
    folder = _write_fashion(tmp_path / "fm")
    gz = folder / "train-images-idx3-ubyte.gz"
    (folder / "train-images-idx3-ubyte").write_bytes(gzip.decompress(gz.read_bytes()))
    assert len(datasets.load("fashion-mnist", data_dir=folder).x_train) == 20
    images = np.random.default_rng(1).integers(0, 256, (20, 28, 28))
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_bytes(images))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte and .*ubyte.gz hold other"):
        datasets.load("fashion-mnist", data_dir=folder)


def test_a_jaxmlp_data_folder_without_the_files_is_refused_not_passed_over(tmp_path, monkeypatch):
    """$JAXMLP_DATA naming a folder that is gone or lacks the files fell back silently to the
    Debian copy: a folder the user names, by data_dir or by the variable, is the only place."""
    debian = _write_fashion(tmp_path / "debian")
    monkeypatch.setattr(datasets.named, "_DEBIAN_FASHION_MNIST", debian)
    assert datasets.load("fashion-mnist").info["folder"] == str(debian)  # the variable unset
    (tmp_path / "empty").mkdir()
    for name, problem in [("gone", "does not exist"), ("empty", "holds no Fashion-MNIST IDX")]:
        monkeypatch.setenv("JAXMLP_DATA", str(tmp_path / name))
        message = rf"\$JAXMLP_DATA '{tmp_path / name}' {problem}.*unset \$JAXMLP_DATA"
        with pytest.raises(ValueError, match=message):
            datasets.load("fashion-mnist")


def test_a_fashion_mnist_folder_missing_some_files_names_them(tmp_path, monkeypatch):
    """A folder holding three of the four IDX files (a download cut short, a file deleted
    from the Debian copy) was said to hold none (failed before: "holds no Fashion-MNIST IDX
    files", "not found"); the file missing is named, in data_dir, $JAXMLP_DATA and the
    Debian folder."""
    folder = _write_fashion(tmp_path / "fm")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    missing = r"holds 3 of the 4 Fashion-MNIST IDX files, not \['t10k-labels-idx1-ubyte\[\.gz\]'\]"
    with pytest.raises(ValueError, match=rf"data_dir '{folder}' {missing}"):
        datasets.load("fashion-mnist", data_dir=folder)
    monkeypatch.setenv("JAXMLP_DATA", str(folder))
    with pytest.raises(ValueError, match=rf"\$JAXMLP_DATA '{folder}' {missing}"):
        datasets.load("fashion-mnist")
    monkeypatch.delenv("JAXMLP_DATA")
    monkeypatch.setattr(datasets.named, "_DEBIAN_FASHION_MNIST", folder)
    with pytest.raises(ValueError, match=rf"{folder} {missing}.*apt-get install --reinstall"):
        datasets.load("fashion-mnist")


def test_a_data_dir_of_no_characters_is_refused_not_passed_over(tmp_path, monkeypatch):
    """data_dir="" (an unset variable's value) read $JAXMLP_DATA or the Debian copy,
    silently, as if no folder were named (failed before: no error); the command line
    refused it already, by the same rule now."""
    monkeypatch.setattr(datasets.named, "_DEBIAN_FASHION_MNIST", _write_fashion(tmp_path / "d"))
    for blank in ("", "  "):
        with pytest.raises(ValueError, match=r"data_dir must be a folder path or None, got '"):
            datasets.load("fashion-mnist", data_dir=blank)


def test_fashion_mnist_absent_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXMLP_DATA", raising=False)
    monkeypatch.setattr(datasets.named, "_DEBIAN_FASHION_MNIST", tmp_path / "none")
    with pytest.raises(ValueError, match=r"not found.*apt-get install dataset-fashion-mnist"):
        datasets.load("fashion-mnist")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (dict(n_labels=19), "holds 20 images but .* holds 19 labels"),
        (dict(images_shape=(28,)), r"expected uint8 images of shape \(n, 28, 28\)"),
        (dict(images_shape=(27, 27)), r"got uint8 \(20, 27, 27\)"),
    ],
)
def test_fashion_mnist_rejects_mismatched_files(tmp_path, layout, message):
    folder = _write_fashion(tmp_path / "fm", **layout)
    with pytest.raises(ValueError, match=message):
        datasets.load("fashion-mnist", data_dir=folder)


@pytest.mark.parametrize("prefix", ["train", "t10k"])
def test_fashion_mnist_names_a_file_of_no_images(prefix, tmp_path):
    # failed before: numpy's "cannot reshape array of size 0 into shape (0,newaxis)"
    layout = {"n_train": 0} if prefix == "train" else {"n_test": 0}
    folder = _write_fashion(tmp_path / "fm", **layout)
    message = rf"{prefix}-images-idx3-ubyte.gz: holds no images \(shape \(0, 28, 28\)\)"
    with pytest.raises(ValueError, match=message):
        datasets.load("fashion-mnist", data_dir=folder)


def test_real_fashion_mnist_from_the_debian_package(monkeypatch, fashion_mnist_dir):
    monkeypatch.delenv("JAXMLP_DATA", raising=False)
    ds = datasets.load("fashion-mnist", standardize=False)
    assert ds.info["folder"] == DEBIAN_FASHION_MNIST
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert (ds.n_features, ds.n_classes, ds.task) == (784, 10, "multiclass")
    np.testing.assert_array_equal(np.bincount(ds.t_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(ds.t_test), [1000] * 10)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    assert 0.25 < ds.x_train.mean() < 0.35  # Fashion-MNIST's mean pixel is about 0.286
    entry = _entry("fashion-mnist")
    assert (entry["n_train"], entry["n_test"]) == (60000, 10000)


# -- MNIST-1D -----------------------------------------------------------------------------------


def _fake_mnist1d(calls, n_train=4000, n_test=1000, args=None):
    def generate():
        calls.append(1)
        rng = np.random.default_rng(len(calls))
        return {
            "x": rng.standard_normal((n_train, 40)).astype(np.float32),
            "t": np.arange(n_train, dtype=np.int32) % 10,
            "x_test": rng.standard_normal((n_test, 40)).astype(np.float32),
            "t_test": np.arange(n_test, dtype=np.int32) % 10,
            "args": np.array(json.dumps(args or datasets.mnist1d.ARGS)),
        }

    return generate


def test_mnist1d_cache_is_written_once_and_regenerated_if_corrupt(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setenv("JAXMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets.mnist1d, "generate", _fake_mnist1d(calls))
    first, second = datasets.load("mnist1d"), datasets.load("mnist1d")
    assert len(calls) == 1 and os.listdir(tmp_path / "cache") == ["mnist1d-standard.npz"]
    np.testing.assert_array_equal(first.x_train, second.x_train)
    (tmp_path / "cache" / "mnist1d-standard.npz").write_bytes(b"half a file")
    assert datasets.load("mnist1d").x_train.shape == (4000, 40) and len(calls) == 2


@pytest.mark.parametrize(
    "cached",
    [dict(n_train=10), dict(n_test=7), dict(args={"seed": 43})],
    ids=["train rows", "test rows", "generator settings"],
)
def test_an_mnist1d_cache_that_is_not_the_standard_set_is_regenerated(
    cached, tmp_path, monkeypatch
):
    """A cache file of the right arrays but another content (10 training rows, or drawn with
    seed 43: an older cache, another generator's) was taken as MNIST-1D, silently (failed
    before: 10 rows came back). It is checked against the standard set (its sizes, labels
    0..9, the generator's settings) and made again where it is not."""
    monkeypatch.setenv("JAXMLP_CACHE", str(tmp_path))
    calls = []
    np.savez(tmp_path / "mnist1d-standard.npz", **_fake_mnist1d([], **cached)())
    monkeypatch.setattr(datasets.mnist1d, "generate", _fake_mnist1d(calls))
    ds = datasets.load("mnist1d", standardize=False)
    assert len(calls) == 1 and ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.info["generator_args"] == datasets.mnist1d.ARGS


def test_an_mnist1d_generator_that_makes_another_set_is_refused(tmp_path, monkeypatch):
    """A version of the mnist1d package whose generator gave other sizes would have been
    cached and trained on as the standard set; it is refused, naming what differs."""
    monkeypatch.setenv("JAXMLP_CACHE", str(tmp_path))
    monkeypatch.setattr(datasets.mnist1d, "generate", _fake_mnist1d([], n_train=3000))
    with pytest.raises(ValueError, match=r"the mnist1d package: x has shape \(3000, 40\).*4000"):
        datasets.load("mnist1d")
    assert not (tmp_path / "mnist1d-standard.npz").exists()


@pytest.mark.slow
def test_mnist1d_is_generated_offline_by_its_package_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXMLP_CACHE", str(tmp_path))
    state = np.random.get_state()[1].copy()
    ds = datasets.load("mnist1d", standardize=False)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global generator untouched
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert (ds.task, ds.n_classes) == ("multiclass", 10)
    assert set(np.unique(ds.t_train)) == set(range(10))
    assert ds.info["generator_args"]["seed"] == 42 and "url" not in ds.info["generator_args"]
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # now only the cache can answer
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    cached = datasets.load("mnist1d", standardize=False)
    np.testing.assert_array_equal(cached.x_test, ds.x_test)
    np.testing.assert_array_equal(cached.t_train, ds.t_train)


def test_mnist1d_without_its_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXMLP_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ValueError, match=r"pip install 'jaxmlp\[data\]'"):
        datasets.load("mnist1d")


# -- user files: CSV ----------------------------------------------------------------------------


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_integer_labels_in_the_last_column_are_classes(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 2.5},{[3, 5, 7][i % 3]}" for i in range(12))
    path = _csv(tmp_path, f"a,b,digit\n{rows}\n\n")
    ds = datasets.load(path, standardize=False)
    assert (ds.name, ds.task, ds.n_classes, ds.n_features) == ("data.csv", "multiclass", 3, 2)
    np.testing.assert_array_equal(ds.t_train, np.arange(12) % 3)  # 3, 5, 7 -> 0, 1, 2
    assert ds.info["classes"] == [3, 5, 7] and ds.info["feature_names"] == ["a", "b"]
    np.testing.assert_array_equal(ds.x_train[:, 0], np.arange(12))


def test_csv_label_column_by_name_or_index_and_string_classes(tmp_path):
    path = _csv(tmp_path, "kind,x1,x2\ncat,1,2\ndog,3,4\ncat,5,6\ndog,7,8\n")
    for column in ("kind", 0, -3):
        ds = datasets.load(path, label_column=column, standardize=False)
        assert (ds.task, ds.info["classes"], ds.info["label_name"]) == (
            "binary",
            ["cat", "dog"],
            "kind",
        )
        np.testing.assert_array_equal(ds.t_train[:, 0], [0, 1, 0, 1])
        np.testing.assert_array_equal(ds.x_train, [[1, 2], [3, 4], [5, 6], [7, 8]])


def test_csv_real_valued_labels_are_regression_unless_a_task_is_given(tmp_path):
    path = _csv(tmp_path, "x,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(10)))
    ds = datasets.load(path, val_fraction=0.2)
    assert ds.task == "regression" and ds.t_train.shape == (8, 1) and ds.t_val.shape == (2, 1)
    ints = _csv(tmp_path, "x,y\n" + "".join(f"{i},{i % 4}\n" for i in range(10)), "ints.csv")
    with pytest.warns(UserWarning, match=r"y read as 4 classes for 10 examples .*'regression'"):
        assert datasets.load(ints).task == "multiclass"
    assert datasets.load(ints, task="regression").t_train.dtype == np.float32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("a,b,c\n", "has a header but no data rows"),
        ("a,b,c\n1,2,0\n3,4\n", r"line 3: expected 3 fields as in the header, got 2"),
        ("a,b,c\n1,2,0\n\n3,x,1\n", r"line 4, column 'b': cannot read 'x' as a number"),
        ("a,b,c\n1,nan,0\n", r"line 2, column 'b': NaN or Inf value 'nan'"),
        ("a,b,c\n1,2,0\n3,4,inf\n", r"line 3, column 'c': NaN or Inf value 'inf'"),
        ("a,b,c\n1,2,\n", r"line 2, column 'c': missing label"),
        ("a\n1\n", "needs at least two columns"),
    ],
    ids=[
        "empty",
        "header-only",
        "short-row",
        "text",
        "nan",
        "inf",
        "no-label",
        "one-column",
    ],
)
def test_csv_rejects_malformed_files_with_the_line(tmp_path, text, message):
    path = _csv(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        datasets.load(path)


def test_a_csv_whose_first_row_is_numbers_has_no_header(tmp_path):
    path = _csv(tmp_path, "1,2,0\n3,4,1\n5,6,0\n")
    ds = datasets.load(path, standardize=False)
    assert len(ds.x_train) == 3 and ds.info["feature_names"] == ["column_0", "column_1"]
    said = datasets.load(path, header=True, standardize=False)  # the user's word: names
    assert len(said.x_train) == 2 and said.info["feature_names"] == ["1", "2"]
    words = _csv(tmp_path, "1,2,no\n3,4,yes\n5,6,no\n", "words.csv")
    assert len(datasets.load(words, header=False).x_train) == 3


def test_csv_rejects_unknown_label_columns(tmp_path):
    path = _csv(tmp_path, "a,b\n1,0\n2,1\n")
    with pytest.raises(ValueError, match=r"no column named 'c'; the columns are \['a', 'b'\]"):
        datasets.load(path, label_column="c")
    with pytest.raises(ValueError, match=r"label_column 2 is out of range .* \[-2, 1\]"):
        datasets.load(path, label_column=2)


# -- user files: NPZ and arrays -----------------------------------------------------------------


def test_npz_with_and_without_a_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 2, 3)), rng.integers(0, 2, 30)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    ds = datasets.load(tmp_path / "a.npz", val_fraction=0.2)
    assert (ds.task, ds.n_features, len(ds.x_train), len(ds.x_val)) == ("binary", 6, 24, 6)
    assert ds.x_test is None
    np.savez(tmp_path / "b.npz", x=x, y=y, x_test=x[:5], y_test=y[:5])
    ds = datasets.load(str(tmp_path / "b.npz"), n=10)
    assert ds.x_test.shape == (5, 6) and len(ds.x_train) == 10
    np.testing.assert_array_equal(ds.t_test[:, 0], y[:5])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (dict(x=np.zeros((3, 2))), r"missing arrays \['y'\]; it has \['x'\]"),
        (dict(x=np.zeros((3, 2)), y=np.zeros(3), x_test=np.zeros((1, 2))), r"\['y_test'\]"),
        (  # the test set was silently dropped (n_test 0)
            dict(x=np.zeros((3, 2)), y=np.zeros(3), X_test=np.zeros((1, 2)), Y_test=np.zeros(1)),
            r"unknown arrays \['X_test', 'Y_test'\]; an .npz data file holds x and y, and "
            "optionally x_test and y_test",
        ),
        (dict(x=np.array([[1, "a"]], object), y=np.zeros(1)), "'x' is an object array"),
        (dict(x=np.array([["a", "b"]]), y=np.zeros(1)), "'x' must be numeric, got dtype <U1"),
        (dict(x=np.array([[1.0, np.nan]]), y=np.zeros(1)), r"x contains NaN or Inf .*\(0, 1\)"),
        (dict(x=np.zeros((3, 2)), y=np.array([0, np.inf, 1])), "y contains NaN or Inf"),
        (dict(x=np.zeros((3, 2)), y=np.zeros(2)), "x has 3 examples but y has 2 labels"),
        (dict(x=np.zeros(3), y=np.zeros(3)), r"x must have shape \(n, d\)"),
        (
            dict(x=np.zeros((3, 2)), y=np.zeros(3), x_test=np.zeros((1, 3)), y_test=np.zeros(1)),
            "x_test has 3 features but x has 2",
        ),
    ],
    ids=[
        "no-y",
        "no-y_test",
        "unknown",
        "object",
        "strings",
        "nan-x",
        "inf-y",
        "count",
        "1-d",
        "features",
    ],
)
def test_npz_rejects_bad_archives(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        datasets.load(tmp_path / "bad.npz")


def test_npz_rejects_files_that_are_not_archives(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz: empty file"):
        datasets.load(tmp_path / "empty.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=r"junk.npz: not an .npz archive \(a zip of .npy files\)"):
        datasets.load(tmp_path / "junk.npz")
    with open(tmp_path / "single.npz", "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array"):
        datasets.load(tmp_path / "single.npz")


def test_from_arrays_infers_multilabel_and_multi_output_regression():
    x = np.random.default_rng(0).standard_normal((20, 3))
    labels = (x[:, :2] > 0).astype(np.int64)
    ds = datasets.from_arrays(x, labels)
    assert (ds.task, ds.n_classes, ds.t_train.dtype, ds.n_outputs) == (
        "multilabel",
        2,
        np.float32,
        2,
    )
    ds = datasets.from_arrays(x, x[:, :2] * 3.5)
    assert (ds.task, ds.n_classes, ds.t_train.shape) == ("regression", 0, (20, 2))
    with pytest.raises(ValueError, match="A binary task needs exactly 2 classes, got 3"):
        datasets.from_arrays(x, np.arange(20) % 3, task="binary")
    with pytest.raises(ValueError, match="Class labels must be integers"):
        datasets.from_arrays(x, x[:, 0], task="multiclass")
    with pytest.raises(ValueError, match="x_test and y_test go together"):
        datasets.from_arrays(x, labels, x_test=x)


# -- numbers at the boundary (issue 16) -----------------------------------------------------------


def test_a_value_beyond_float32_is_refused_at_load_naming_the_column(tmp_path):
    path = _csv(
        tmp_path, "a,b,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(5)) + "1,1e308,0\n"
    )
    with pytest.raises(
        ValueError, match=r"x column 'b': value 1e\+308 .* exceeds the float32 range"
    ):
        datasets.load(path)
    x = np.ones((6, 2))
    with pytest.raises(ValueError, match=r"y: value -1e\+300 at index \(5,\) exceeds the float32"):
        datasets.from_arrays(x, np.array([0.5, 1, 2, 3, 4, -1e300]))
    with pytest.raises(ValueError, match="x_test: value 1e\\+39"):
        datasets.from_arrays(x, np.arange(6) % 2, x_test=np.full((1, 2), 1e39), y_test=[0])


def test_the_standardiser_scales_a_feature_of_size_1e20():
    x = np.random.default_rng(0).standard_normal((50, 2)) * [1e20, 1.0]
    ds = datasets.from_arrays(x, np.arange(50) % 2)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(ds.info["standardizer"].std[0], x[:, 0].std(), rtol=1e-6)


def test_the_standardiser_refuses_what_it_cannot_scale():
    tiny = np.array([[1.0, 0.0], [2.0, 1.4e-45]])
    np.testing.assert_array_equal(datasets.Standardizer.fit(tiny).apply(tiny), [[-1, -1], [1, 1]])
    with pytest.raises(ValueError, match="feature 1 varies by only .*too little to scale"):
        datasets.Standardizer.fit(tiny, dtype=np.float32)  # the rule of older runs
    scaler = datasets.Standardizer.fit(np.array([[0.0], [1e-30]]))
    with pytest.raises(ValueError, match=r"x\[1, 0\] = 1e\+30 is too far .* float32 range"):
        scaler.apply(np.array([[0.0], [1e30]]))
    with pytest.raises(ValueError, match=r"x: value 1e\+300 .* exceeds the float32 range"):
        datasets.Standardizer.fit(np.array([[0.0], [1e300]]))


def test_the_standardiser_refuses_inputs_it_would_broadcast_or_average_into_nan():
    """``fit`` takes inputs ``(n, d)``, n >= 1, finite; ``apply`` inputs of its d features.
    (Regression: apply broadcast one column over the d features, silently; fit of a NaN, or of
    no rows, made a NaN mean, and apply then blamed inputs "too far from the training data"; a
    1-D x made one scalar mean for all features.)"""
    x = np.arange(6.0).reshape(3, 2)
    scaler = datasets.Standardizer.fit(x)
    for other in (np.zeros((2, 1)), np.zeros((2, 3)), np.zeros(2)):
        for use in (scaler.apply, scaler.invert):
            with pytest.raises(ValueError, match=r"x has shape .*; this Standardizer takes .*2\)"):
                use(other)
    with pytest.raises(ValueError, match=r"x contains NaN or Inf .*first at index \(0, 1\)"):
        scaler.apply(np.array([[0.0, np.nan]]))
    for bad, match in (
        (np.array([[1.0], [np.nan]]), r"x contains NaN or Inf"),
        (np.zeros((0, 2)), r"x must have shape \(n, d\) with n >= 1, got \(0, 2\)"),
        (np.arange(3.0), r"x must have shape \(n, d\) with n >= 1, got \(3,\)"),
    ):
        with pytest.raises(ValueError, match=match):
            datasets.Standardizer.fit(bad)


@pytest.mark.parametrize("value", [0.1, 0.3, 1 / 3, 1e5 + 0.1, -7.25])
def test_a_constant_feature_maps_to_0_whatever_its_float64_mean_rounds_to(value):
    # The mean of 1000 copies of 0.1 is 1 ulp off 0.1: the feature kept std 1.4e-17 for the
    # rounding error, mapped its own value to -1 (not 0) and 0.101 to 7e13, exit 0.
    x = np.stack([np.full(1000, value), np.arange(1000.0)], axis=1)
    scaler = datasets.Standardizer.fit(x)
    assert scaler.std[0] == 1.0 and scaler.mean[0] == value
    np.testing.assert_array_equal(scaler.apply(x)[:, 0], 0.0)
    np.testing.assert_allclose(scaler.apply(np.array([[value * 1.01, 0.0]]))[0, 0], value * 0.01)


def timestamps(n=166, seed=0):
    """Seconds since 1970 around 2023 (~1.7e9, where float32 keeps steps of 128 s) and a
    binary label: a feature whose spread is tiny beside its size."""
    rng = np.random.default_rng(seed)
    x = np.stack([1.7e9 + np.sort(rng.choice(10**5, n, replace=False)), rng.normal(size=n)], 1)
    return x, (x[:, 1] > 0).astype(int)


def exactly_standardised(x, x_fit):
    """``(x - mean) / std`` computed in float64 from the training inputs ``x_fit``, rounded
    once to float32: what a standardised input must be, to the last bit."""
    mean, std = x_fit.mean(0), x_fit.std(0)
    return ((x - mean) / std).astype(np.float32)


def test_standardised_inputs_keep_the_precision_of_their_float64_data(tmp_path):
    # The inputs were cast to float32 before standardising: the timestamps kept 6 of their
    # 166 distinct values (steps of 128 s), with exit 0.
    x, y = timestamps()
    ds = datasets.from_arrays(x, y)
    assert len(np.unique(ds.x_train[:, 0])) == len(x)
    np.testing.assert_array_max_ulp(ds.x_train, exactly_standardised(x, x), maxulp=1)
    path = tmp_path / "t.csv"
    path.write_text("t,z,y\n" + "".join(f"{a:.0f},{b:.17g},{c}\n" for (a, b), c in zip(x, y)))
    ds = datasets.load(path, val_fraction=0.25, seed=3)
    train = np.concatenate([ds.x_train, ds.x_val])
    assert len(np.unique(train[:, 0])) == len(x)
    scaler = ds.info["standardizer"]
    assert scaler.mean.dtype == np.float64
    raw = scaler.invert(ds.x_val).astype(np.float64)
    np.testing.assert_allclose(raw[:, 0], np.round(raw[:, 0]), atol=0.05)  # whole seconds back


def test_unstandardised_inputs_that_float32_makes_one_are_said_to_be(tmp_path):
    # failed before: with standardisation off, the timestamps were cast to float32 (steps of
    # 128 s), where rows that the file tells apart are one to the model, silently
    from jaxmlp.run import DEFAULTS, data

    x, y = timestamps()
    kept = len(np.unique(x[:, 0].astype(np.float32)))
    said = f"column {{}} holds 166 distinct values, {kept} in float32"
    with pytest.warns(UserWarning, match=said.format(0)):
        datasets.from_arrays(x, y, standardize=False)
    with pytest.warns(UserWarning, match=said.format(0)):  # whole seconds, as integers
        datasets.from_arrays(x.astype(np.int64), y, standardize=False)
    path = _csv(tmp_path, "t,z,y\n" + "".join(f"{a:.0f},{b:.17g},{c}\n" for (a, b), c in zip(x, y)))
    settings = DEFAULTS | {"data": str(path), "standardize": "no", "val_fraction": 0.0}
    with pytest.warns(UserWarning, match=said.format("'t'")):
        data.load_data(settings)
    with warnings.catch_warnings():  # standardised, in float64, or kept apart: nothing to say
        warnings.simplefilter("error")
        datasets.from_arrays(x, y)
        datasets.from_arrays(x, y, standardize=False, dtype=np.float64)
        datasets.from_arrays(x[:, 1:] / 10, y, standardize=False)
        data.load_data(settings | {"standardize": "yes"})


@pytest.mark.parametrize("kind", ["U", "S"])
def test_missing_label_names_in_arrays_are_read_as_a_csv_files_are(kind):
    # failed before: from_arrays took '' for a class, and 'nan' (pandas' astype(str) of a
    # missing value) for one, silently, where a CSV file refuses the first and warns of the second
    x = np.arange(12.0)[:, None]
    y = np.array(["a", "b", "c", ""] * 3).astype(kind)
    with pytest.raises(ValueError, match=r"y: missing label \(an empty name\) at index 3"):
        datasets.from_arrays(x, y)
    y_test = np.array(["a", ""]).astype(kind)
    with pytest.raises(ValueError, match=r"y_test: missing label \(an empty name\) at index 1"):
        datasets.from_arrays(x, np.array(["a", "b", "c"] * 4).astype(kind), x[:2], y_test)
    said = r"y: label 'nan' \(3 rows, first index 3\) reads as a missing value"
    with pytest.warns(UserWarning, match=said):
        ds = datasets.from_arrays(x, np.array(["a", "b", "c", "nan"] * 3).astype(kind))
    assert len(ds.info["classes"]) == 4  # a class of its own, as in a file


def test_a_class_name_with_spaces_around_it_is_that_name_written_another_way():
    # failed before: from_arrays took 'cat' and 'cat ' for two classes that print alike, where a
    # CSV file strips its fields (one class)
    x = np.arange(12.0)[:, None]
    said = "the labels 'cat' (index 0) and 'cat ' (index 2) are one name written two ways"
    with pytest.raises(ValueError, match=re.escape(said) + r".*\(no spaces around it\)"):
        datasets.from_arrays(x, np.array(["cat", "dog", "cat ", "dog"] * 3))
    with pytest.raises(ValueError, match=r"'\\tdog' is the class 'dog' written another way"):
        datasets.from_arrays(
            x, np.array(["cat", "\tdog"] * 6), classes=["cat", "dog"], task="binary"
        )


def test_a_data_set_in_float64_keeps_its_inputs_exact():
    x, y = timestamps()
    ds = datasets.from_arrays(x, y, x_test=x[:5], y_test=y[:5], dtype=np.float64)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float64
    np.testing.assert_allclose(ds.x_train, (x - x.mean(0)) / x.std(0), rtol=1e-12, atol=1e-12)
    raw = datasets.from_arrays(x, y, standardize=False, dtype="float64")
    np.testing.assert_array_equal(raw.x_train, x)
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64, got 'int8'"):
        datasets.from_arrays(x, y, dtype="int8")


def test_a_single_example_is_not_a_data_set(tmp_path):
    with pytest.raises(ValueError, match="x has 1 example: training needs at least 2"):
        datasets.load(_csv(tmp_path, "a,b,y\n1,2,0\n"))


def test_an_integer_label_column_with_one_class_is_refused(tmp_path):
    path = _csv(tmp_path, "a,y\n" + "".join(f"{i},3\n" for i in range(6)))
    with pytest.raises(ValueError, match=r"y holds one value \(3\) for all 6 examples"):
        datasets.load(path)
    assert datasets.load(path, task="regression").task == "regression"
    with pytest.raises(ValueError, match="needs at least 2 classes, got 1"):
        datasets.from_arrays(np.ones((4, 1)), np.array(["a"] * 4))


def test_test_classes_absent_from_training_warn():
    x = np.ones((12, 1))
    with pytest.warns(UserWarning, match=r"y_test holds 1 class\(es\) absent from .*: \[7\]"):
        ds = datasets.from_arrays(x, np.arange(12) % 2, x_test=x[:2], y_test=[0, 7])
    assert ds.n_classes == 3


@pytest.mark.parametrize(
    "y, y_test, kinds",
    [
        ([b"a", b"b"] * 4, ["a", "b"], "class names as bytes .*class names as str"),
        (["a", "b"] * 4, [b"a", b"b"], "class names as str .*class names as bytes"),
        ([0, 1] * 4, ["0", "1"], "numbers .*class names as str"),
        (["a", "b"] * 4, [0, 1], "class names as str .*numbers"),
    ],
)
def test_train_and_test_labels_of_two_kinds_are_refused(y, y_test, kinds):
    """Labels ``y`` and ``y_test`` are both numbers or both names of one type. (Regression:
    bytes ``y`` beside str ``y_test`` encoded every training label as class 0, silently, as
    ``b'b' == 'b'`` is False; numbers beside names made the numbers names, or a TypeError.)"""
    x = np.arange(8.0)[:, None]
    with pytest.raises(ValueError, match=f"y holds {kinds}"):
        datasets.from_arrays(x, np.array(y), x_test=x[:2], y_test=np.array(y_test))


def test_train_and_test_labels_of_two_integer_dtypes_keep_every_class(tmp_path):
    """``y`` int64 beside ``y_test`` uint64 (arrays from two sources, an npz file's): numpy
    joins them as float64, where 2**53 and 2**53 + 1 are one number. Both fit int64 here, so
    they are joined as int64, every class kept; where no integer dtype holds both, or where
    a float ``y_test`` holds integers float64 cannot (past 2**53), refused, not merged.
    (Regression: the classes 2**53 and 2**53 + 1 were one, silently: three classes read as a
    binary task, exit 0.)"""
    big = 2**53
    x = np.arange(12.0)[:, None]
    y = np.array([0, big, big + 1] * 3, np.int64)
    y_test = np.array([big + 1, big, 0], np.uint64)
    ds = datasets.from_arrays(x[:9], y, x_test=x[9:], y_test=y_test, val_fraction=0)
    assert ds.task == "multiclass" and ds.info["classes"] == [0, big, big + 1]
    np.testing.assert_array_equal(ds.t_test, [2, 1, 0])
    path = tmp_path / "d.npz"
    np.savez(path, x=x[:9], y=y, x_test=x[9:], y_test=y_test)
    assert datasets.load(str(path), val_fraction=0).info["classes"] == [0, big, big + 1]
    small = datasets.from_arrays(x[:4], np.array([0, 1] * 2, np.int64), x_test=x[4:6],
                                 y_test=np.array([1, 0], np.uint64), val_fraction=0)  # fmt: skip
    assert small.info["classes"] == [0, 1]  # integers, named 0 and 1 (not 0.0 and 1.0)
    past = np.array([2**63, 1], np.uint64)  # past int64: joined as float64
    with pytest.raises(ValueError, match=r"y \(int64\) and y_test \(uint64\).*one dtype"):
        datasets.from_arrays(x[:9], y, x_test=x[9:11], y_test=past, val_fraction=0)
    with pytest.raises(ValueError, match=r"y \(int64\) and y_test \(float64\).*one dtype"):
        datasets.from_arrays(x[:9], y, x_test=x[9:11], y_test=np.array([0.0, 1.0]))
    targets = dict(x_test=x[9:11], y_test=np.array([0.0, 1.0]), task="regression")
    assert datasets.from_arrays(x[:9], y, **targets).task == "regression"  # read as floats


def test_validation_classes_absent_from_training_warn():
    """A class whose every example the validation split holds (one example, say) is never
    trained on: said, as a test split's is, by ``from_arrays`` and by ``fit``. (Regression: the
    class ``d`` of one example went to t_val alone, silently.)"""
    x = np.arange(9.0)[:, None]
    y = np.array(["a"] * 4 + ["b"] * 4 + ["d"])
    match = r"validation rows hold 1 class\(es\) absent from the training rows"
    with pytest.warns(UserWarning, match=match):
        ds = datasets.from_arrays(x, y, val_fraction=0.5, seed=0)
    assert 2 not in np.asarray(ds.t_train) and 2 in np.asarray(ds.t_val)
    net = MLP([1, 3], output="softmax", loss="cross_entropy")
    t = np.array([0] * 4 + [1] * 4 + [2])
    with pytest.warns(UserWarning, match=match):
        fit(net, x, t, config=TrainConfig(epochs=1, val_fraction=0.5))
    with warnings.catch_warnings():  # every class on both sides: nothing said
        warnings.simplefilter("error")
        datasets.from_arrays(x[:8], y[:8], val_fraction=0.5, seed=0)
        datasets.from_arrays(x, np.arange(9.0) / 7, val_fraction=0.5, seed=0)  # regression


def test_task_auto_classification_and_regression():
    x = np.random.default_rng(0).standard_normal((60, 2))
    counts = np.arange(60) % 30  # a count: 30 values, 2 examples each
    with pytest.warns(UserWarning, match="y read as 30 classes for 60 examples"):
        assert datasets.from_arrays(x, counts).task == "multiclass"
    assert datasets.from_arrays(x, counts, task="regression").task == "regression"
    assert datasets.from_arrays(x, counts, task="classification").n_classes == 30  # no warning
    assert datasets.from_arrays(x, np.arange(60) % 2, task="classification").task == "binary"
    many = np.arange(60) * 1.0  # whole numbers, more distinct values than MAX_CLASSES
    assert datasets.from_arrays(x, many + 0.5).task == "regression"  # fractions: measurements
    assert datasets.from_arrays(x, many, task="regression").task == "regression"
    assert datasets.from_arrays(x, x[:, 0], task="auto").task == "regression"
    two = (x > 0).astype(int)
    assert datasets.from_arrays(x, two, task="classification").task == "multilabel"
    with pytest.raises(ValueError, match=r"Unknown task: 'ranking'. .*'auto', 'classification'"):
        datasets.from_arrays(x, counts, task="ranking")
    assert datasets.load("digits", task="classification").task == "multiclass"


def test_task_auto_refuses_more_whole_values_than_max_classes():
    # 100 integer labels (100 classes) were read as a regression target: a regressor trained on
    # class codes, exit 0. Whole numbers past MAX_CLASSES distinct values are class codes or a
    # count or a measurement: auto refuses to guess, naming task= and --task.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1000, 3)), rng.integers(0, 100, 1000)
    for labels in (y, y.astype(float), y[:, None]):
        with pytest.raises(
            ValueError,
            match=r"y holds 100 distinct whole numbers \(0(\.0)? to 99(\.0)?\).* at most 50 .*"
            r"task='classification' or task='regression' \(--task classification or --task "
            r"regression\)",
        ):
            datasets.from_arrays(x, labels)
    with pytest.raises(ValueError, match="y holds 100 distinct whole numbers"):  # y_test's too
        datasets.from_arrays(x, y % 50, x_test=x[:60], y_test=50 + np.arange(60) % 50)
    ds = datasets.from_arrays(x, y, task="classification")
    assert (ds.task, ds.n_classes) == ("multiclass", 100)
    assert datasets.from_arrays(x, y, task="multiclass").n_classes == 100
    assert datasets.from_arrays(x, y, task="regression").task == "regression"
    assert datasets.from_arrays(x, y % datasets.MAX_CLASSES).n_classes == datasets.MAX_CLASSES


@pytest.mark.slow
def test_one_validation_split_for_load_and_fit():
    """The same seed holds out the same examples in ``load``, ``from_arrays`` and ``fit``."""
    from jaxmlp import MLP, Optimizer, TrainConfig, fit

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 2)), np.arange(40) % 2
    ds = datasets.from_arrays(x, y, val_fraction=0.25, seed=7, standardize=False)
    x_tr, t_tr, x_va, t_va = datasets.validation_split(x, y, 0.25, 7)
    np.testing.assert_array_equal(ds.x_val, x_va.astype(np.float32))
    np.testing.assert_array_equal(ds.x_train, x_tr.astype(np.float32))
    net, opt = MLP((2, 3, 1), "tanh", "sigmoid", "bce"), Optimizer("sgd", lr=0.1)
    config = TrainConfig(epochs=2, batch_size=10, seed=7)
    split = fit(net, x, y, opt, TrainConfig(**{**config.__dict__, "val_fraction": 0.25}))
    explicit = fit(net, ds.x_train, ds.t_train, opt, config, x_val=ds.x_val, t_val=ds.t_val)
    assert [r["val_loss"] for r in split.history] == [r["val_loss"] for r in explicit.history]


def test_one_hot_targets_split_like_their_labels():
    labels = np.repeat([0, 1, 2], [5, 11, 17])  # unequal classes: the strata order shows
    x = np.arange(33.0)[:, None]
    by_label = datasets.validation_split(x, labels, 0.3, 5)[2]
    by_one_hot = datasets.validation_split(x, np.eye(3)[labels], 0.3, 5)[2]
    np.testing.assert_array_equal(by_label, by_one_hot)


def test_fit_s_split_holds_out_the_data_path_s_rows_whatever_the_targets_encoding():
    """``fit``'s ``val_fraction`` (``arrays.split``) holds out the rows that ``from_arrays``
    (and so ``jaxmlp train``) holds out for the same data and seed: a threshold net's -1/+1
    labels are stratified as their 0/1 classes, a regression net's integer targets (counts)
    are numbers, split at random, not strata."""
    from jaxmlp import MLP, TrainConfig
    from jaxmlp.arrays import split

    rng = np.random.default_rng(0)
    x = np.c_[rng.standard_normal((40, 2)), np.arange(40)]  # the last column names the row
    config = TrainConfig(val_fraction=0.25, seed=2)

    def held_out(net, t):
        return sorted(split(net, x, t, None, None, config)[2][:, 2].astype(int))

    def loaded(y, task):
        ds = datasets.from_arrays(x, y, task=task, val_fraction=0.25, seed=2, standardize=False)
        return sorted(ds.x_val[:, 2].astype(int))

    y = (np.arange(40) < 8).astype(int)  # 8 of 40 positive: seed 2 puts none in a random 10
    threshold = MLP((3, 4, 1), "tanh", "threshold", "bce")
    assert held_out(threshold, np.where(y, 1.0, -1.0)[:, None]) == loaded(y, "binary")
    assert y[loaded(y, "binary")].sum() == 2  # stratified: 8 * 10 / 40
    counts = rng.poisson(3, size=40)
    regression = MLP((3, 4, 1), "tanh", "identity", "sse")
    assert held_out(regression, counts[:, None]) == loaded(counts, "regression")


def test_a_class_of_zero_is_named_0_not_minus_0_whichever_spelling_comes_first():
    # failed before: labels -0.0 and 0.0 (one class) named it '-0.0' where -0.0 sorted first,
    # so predictions printed -0.0 for the class the data mostly wrote 0.0
    x = np.arange(16.0).reshape(8, 2)
    for y in ([-0.0, 0.0, 1.0, 1.0] * 2, [0.0, -0.0, 1.0, 1.0] * 2, [-0.0, 1.0] * 4):
        ds = datasets.from_arrays(x, np.array(y))
        assert [repr(c) for c in ds.info["classes"]] == ["0.0", "1.0"], y
        np.testing.assert_array_equal(ds.t_train[:, 0], np.array(y) == 1)
