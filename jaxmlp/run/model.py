"""A trained model as a run folder holds it: ``load_run`` reads one, ``save_run`` writes one
from the Python API. The model applies the run's standardiser, column names and class names
itself, so inputs go in as the data came (arrays or pandas data frames) and predictions come out
as the data named them.

>>> import numpy as np, tempfile
>>> from jaxmlp import MLP, fit, TrainConfig, load_run, save_run
>>> net = MLP((2, 4, 1), "tanh", "sigmoid", "bce")
>>> x, t = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32), np.array([[0], [1], [1], [0]])
>>> result = fit(net, x, t, config=TrainConfig(epochs=2))
>>> folder = save_run(tempfile.mkdtemp(), net, result.params, classes=["same", "differ"])
>>> model = load_run(folder)
>>> model.predict(x).shape, set(model.predict(x)) <= {"same", "differ"}
((4,), True)
"""

import pathlib
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxmlp import checkpoint, datasets, files, outputs
from jaxmlp.arrays import params_dtype, precision
from jaxmlp.csv_fields import written_otherwise
from jaxmlp.evaluation import apply_in_blocks, evaluate
from jaxmlp.mlp import MLP
from jaxmlp.numeric import not_one_of
from jaxmlp.optim import Optimizer
from jaxmlp.run import data, folder, opening, tasks
from jaxmlp.run.names import check_classes, check_inputs_described, prediction_columns
from jaxmlp.run.status import of_checkpoint
from jaxmlp.run.tasks import CLASSIFICATION
from jaxmlp.train import TrainConfig, TrainState


class Model(NamedTuple):
    """A trained network and what its run knows about the data: ``task``, the input
    ``scaler`` (a ``datasets.Standardizer`` or None), ``classes`` (names of the classes or
    labels, None: the net's own, ``class_names``), ``feature_names`` (None: inputs by
    position, named columns only as ``column_0``, ...: ``column_order``), ``dtype``,
    ``example_shape`` (of the training inputs where they had more axes; None: unrecorded),
    ``data`` (the run's data: a data set's name, a file's path; None: saved from Python; the
    inputs of a set of pixels lie in [0, 1]: ``datasets.check_pixels``);
    ``epoch``, the checkpoint's, of the run's ``epochs``, the run's ``status``
    (``jaxmlp.run.status``: finished, diverged, interrupted or running; a run not ``finished``
    gives the parameters of its checkpoint's epoch), ``early_stopped`` (a finished run that
    patience ended before ``epochs``) and ``params_epoch``, the epoch whose parameters the model
    holds: with early stopping the best epoch's. ``jaxmlp evaluate`` and ``predict``
    say so in a note where the run is unfinished, stopped early or gives an earlier epoch's."""

    net: MLP
    params: list
    task: str
    scaler: datasets.Standardizer | None = None
    classes: list | None = None
    feature_names: list | None = None
    label_name: str | None = None
    dtype: str = "float32"
    example_shape: list | None = None
    data: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    status: str = "finished"
    early_stopped: bool = False
    params_epoch: int | None = None

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def outputs(self, x) -> np.ndarray:
        """The network's outputs ``y (n, K)`` for raw inputs ``x`` (array ``(n, d)`` or data
        frame with the feature columns), standardised as in training; block by block, as
        ``evaluate`` (``evaluation.apply_in_blocks``)."""
        x = self.inputs(x)
        with precision(self.dtype):
            params = [{k: jnp.asarray(v) for k, v in layer.items()} for layer in self.params]
            return apply_in_blocks(self.net, params, x)

    def predict(self, x) -> np.ndarray:
        """Class names ``(n,)`` (classification), the output's labels ``(n, K)`` (multilabel:
        0/1, threshold -1/+1), or outputs ``(n,)`` for one regression target, ``(n, K)`` for
        several."""
        return self.labels(self.outputs(x))

    def predict_proba(self, x) -> np.ndarray:
        """Probabilities ``(n, K)``, one column per class in ``class_names()`` order (binary:
        ``[1 - p, p]``), or per label (multilabel). A ValueError for regression, and for an
        output whose values are not probabilities (``outputs.Output.probabilities``)."""
        if self.task == "regression":
            raise ValueError("predict_proba needs a classifier; this model does regression.")
        check_probabilities(self.net.output)
        y = self.outputs(x)
        outputs.check_decided(y)
        return (
            np.concatenate([1 - y, y], axis=1) if self.task == "binary" and y.shape[1] == 1 else y
        )

    def evaluate(self, x, t) -> dict:
        """``{"n", "loss", "accuracy"}`` on inputs ``x`` and targets ``t`` as the data gave them
        (class names, label columns or target values)."""
        x, t = self.inputs(x), self.encode(t)
        if len(t) != len(x):
            raise ValueError(f"x has {len(x)} examples but t has {len(t)}: they must match.")
        return {"n": len(x), **self.scores(x, t)}

    def scores(self, x, t) -> dict:
        """``{"loss", "accuracy"}`` (``evaluation.evaluate``) on inputs ``x`` as ``inputs``
        gives them and targets ``t`` as ``encode`` gives them. A ValueError for rows whose
        outputs are not finite, as ``predict`` refuses them: a loss that is not finite is
        checked for them (``outputs.check_decided``); one of finite outputs is an answer."""
        with precision(self.dtype):
            params = [{k: jnp.asarray(v) for k, v in layer.items()} for layer in self.params]
            result = evaluate(self.net, params, x, data.targets(self.net, self.task, t))
            if not np.isfinite(result["loss"]):
                outputs.check_decided(apply_in_blocks(self.net, params, x))
        return result

    def class_names(self) -> list:
        """The run's ``classes``; without them the net's own: a binary output's labels
        (``outputs.Output.labels``: threshold -1/+1, else 0/1), else the class indices."""
        if self.classes:
            return list(self.classes)
        if self.task == "binary":
            return list(outputs.get(self.net.output).labels)
        return list(range(max(2, self.net.sizes[-1])))

    def columns(self) -> list:
        """The columns of the predictions (``prediction_columns``): the class names
        (``class_names``), a multilabel net's ``classes`` or ``label0``, ``label1``, ..."""
        names = self.class_names() if self.task in CLASSIFICATION else self.classes
        k = self.net.sizes[-1]
        names = names or [f"label{i}" for i in range(k)]
        probabilities = outputs.get(self.net.output).probabilities
        return prediction_columns(self.task, names, k, probabilities)

    def labels(self, y) -> np.ndarray:
        """Predictions from outputs ``y (n, K)`` (see ``predict``); a ValueError for rows whose
        outputs are not finite, which decide no class and are no regression's prediction
        (``outputs.check_decided``)."""
        outputs.check_decided(y)
        rule = tasks.decides(self.task, y.shape[1])
        if self.task in CLASSIFICATION:
            index = (y[:, 0] > 0.5).astype(int) if rule == "threshold" else y.argmax(1)
            return np.array(self.class_names())[index]
        if self.task == "multilabel":  # each unit's own labels, as net.predict: threshold -1/+1
            negative, positive = outputs.get(self.net.output).labels
            return np.where(y > 0.5, positive, negative)
        return y[:, 0] if y.shape[1] == 1 else y

    def inputs(self, x) -> np.ndarray:
        """``x`` checked and standardised (``scale``). A data frame's columns are matched to
        ``feature_names`` by name (``column_order``); without them, columns that pandas left
        unnamed (its positions 0, 1, ...) go by position."""
        if hasattr(x, "columns") and hasattr(x, "to_numpy"):  # a data frame
            names, d = list(x.columns), self.net.sizes[0]
            if self.feature_names is None and names == list(range(len(names))):
                x = _values(x)
            else:
                order = column_order(names, self.feature_names, self.label_name, "x", d)
                x = _values(x.iloc[:, order])
        x = check_inputs(x, self.net.sizes[0], "x", self.example_shape)
        datasets.check_pixels(x, self.data, "x")
        return self.scale(x)

    def scale(self, x) -> np.ndarray:
        """Checked inputs ``x (n, d)`` as training saw them: standardised by the run's
        ``scaler`` (from their full precision), in the run's dtype."""
        return datasets.prepare(self.scaler, x, self.dtype)

    def encode(self, t) -> np.ndarray:
        """Targets as the data gave them, encoded as training encoded them; one per example
        (``datasets.targets.check_evaluated``)."""
        t = np.asarray(t)
        datasets.targets.check_evaluated(t, self.task)
        if self.task in CLASSIFICATION:
            return datasets.encode_as(t, self.class_names(), self.task, "t")
        if self.task == "multilabel":  # labels, 0/1 or those ``predict`` gives, nothing between
            allowed = sorted({0, 1, *outputs.get(self.net.output).labels})
            odd = np.argwhere(~np.isin(t, allowed))
            if len(odd):
                at = tuple(int(i) for i in odd[0])
                raise ValueError(
                    f"t: a multilabel model's targets are labels, {allowed} (0/1, or those "
                    f"predict gives), got {t[at]!r} at index {at}."
                )
        return t.reshape(len(t), -1).astype(np.float64)  # exact; evaluate checks the range


def _values(frame) -> np.ndarray:
    """A data frame's values; columns all of numbers (pandas' nullable ``Int64``, ``Float64``
    and ``boolean`` too, whose ``to_numpy`` is of objects) as float64, a missing value NaN."""
    if all(getattr(dtype, "kind", "O") in "biuf" for dtype in frame.dtypes):
        return frame.to_numpy(np.float64, na_value=np.nan)
    return frame.to_numpy()


def check_probabilities(output: str) -> None:
    """A ValueError unless the ``output``'s values are probabilities, naming those that are."""
    if not outputs.get(output).probabilities:
        allowed = outputs.specs_where(lambda record: record.probabilities)
        raise ValueError(
            f"predict_proba needs outputs that are probabilities, of the outputs {allowed}; "
            f"this model's output {output!r} gives values that are not (predict decides by "
            "them; retrain with one of those outputs for probabilities)."
        )


def column_order(names, feature_names, label_name, where: str, n_features=None) -> list[int]:
    """The positions of the model's ``feature_names`` among the columns ``names`` of a data
    frame or CSV file, in any order; a column named ``label_name`` is ignored. A ValueError
    names a missing or unknown column, or a name given twice (``files.check_unique``). Without
    ``feature_names`` (a model trained on unnamed inputs: arrays, or save_run without them) the
    names must be those of a CSV file without a header, ``files.column_names(n_features)``, as
    for a run trained on one: any other name would be matched to no input, so it is refused."""
    names = [str(n) for n in names]
    files.check_unique(where, names)
    if feature_names is None:
        columns = [n for n in names if n != label_name]
        feature_names = files.column_names(len(columns) if n_features is None else n_features)
        named = [c for c in columns if c not in feature_names]
        if named:
            raise ValueError(
                f"{where}: has the named columns {named}, but the run records no feature names "
                "(it trained on unnamed inputs: arrays, or save_run without feature_names), so "
                "no name says which input a column is; give the columns in training order "
                "without a header (--no-header, header=False; a data frame's x.to_numpy()), or "
                f"named {feature_names[0]}..{feature_names[-1]} in training order."
            )
    missing = [c for c in feature_names if c not in names]
    unknown = [c for c in names if c not in feature_names and c != label_name]
    if missing or unknown:
        problems = [f"lacks the columns {missing}" if missing else "",
                    f"has unknown columns {unknown}" if unknown else ""]  # fmt: skip
        alike = written_otherwise(unknown, missing)
        raise ValueError(
            f"{where}: {' and '.join(p for p in problems if p)}; the model takes the columns "
            f"{list(feature_names)} (by name, in any order)"
            + ("." if alike is None else f": {alike[0]!r} is the run's column {alike[1]!r} "
               "written another way (another Unicode spelling, or spaces around it); write it "
               "as the run does.")
        )  # fmt: skip
    return [names.index(c) for c in feature_names]


def check_inputs(x, n_features: int, where: str, example_shape=None) -> np.ndarray:
    """``x`` as float64 ``(n, n_features)``, or a ValueError naming ``where`` and the problem.
    More axes are flattened as training flattened them (``datasets.as_rows``), if they are the
    run's ``example_shape`` (``datasets.check_example_shape``)."""
    shape = np.shape(x)
    examples = datasets.example_shape(x)
    x = datasets.as_rows(x)
    if x.ndim == 1 and n_features == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != n_features or len(x) == 0:
        raise ValueError(
            f"{where}: inputs must have shape (n, {n_features}) with n >= 1 (more axes are "
            f"flattened, as in training), got {shape}."
        )
    datasets.check_example_shape(examples, example_shape, where)
    if np.issubdtype(x.dtype, np.complexfloating):  # a cast would drop the imaginary parts
        raise ValueError(
            f"{where}: inputs must be real numbers, got dtype {x.dtype}; pass the real and "
            "imaginary parts as separate features, as in training."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{where}: inputs must be numbers, got dtype {x.dtype}.")
    wide = x.astype(np.float64)
    problems = {
        "NaN or Inf": ~np.isfinite(wide),
        "values past the float32 range (3.4e38)": np.abs(wide) > np.finfo(np.float32).max,
    }
    for what, bad in problems.items():  # in this order: Inf is past the range too
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where}: inputs contain {what} (first at index {at}).")
    return wide


def load_run(run_dir) -> Model:
    """The trained model in the run folder ``run_dir`` (``jaxmlp train`` or ``save_run``): the
    parameters of its checkpoint, which are those of an earlier epoch where the run did not
    finish, and the best epoch's with early stopping (``Model.epoch``, ``epochs``, ``status``,
    ``early_stopped``, ``params_epoch``: ``status.of_checkpoint``)."""
    with precision(folder.run_dtype(run_dir)):
        config, ckpt = opening.open_run(run_dir)
        params = [{k: np.asarray(v) for k, v in layer.items()} for layer in ckpt.final_params]
    if not all(np.isfinite(a).all() for layer in params for a in layer.values()):
        raise ValueError(
            f"{run_dir}: the run's parameters hold NaN or Inf; they give no predictions (a "
            "diverged run keeps its last finite checkpoint: retrain or take another run)."
        )
    meta = config["data"]
    check_classes(meta.get("classes"), meta["task"], ckpt.net, f"{run_dir}: config.json")
    tasks.check_output(meta["task"], ckpt.net.output, ckpt.net.sizes[-1], f"{run_dir}: ")
    scaler = None
    if "mean" in ckpt.extra:
        scaler = datasets.Standardizer(ckpt.extra["mean"], ckpt.extra["std"])
    return Model(
        net=ckpt.net,
        params=params,
        task=meta["task"],
        scaler=scaler,
        classes=meta.get("classes"),
        feature_names=meta.get("feature_names"),
        label_name=meta.get("label_name"),
        dtype=ckpt.config.dtype,
        example_shape=meta.get("example_shape"),
        data=config["settings"].get("data"),  # a data set's name; a file's path
        **of_checkpoint(run_dir, config, ckpt),
    )


def save_run(
    out,
    net: MLP,
    params,
    *,
    task: str | None = None,
    scaler: datasets.Standardizer | None = None,
    classes=None,
    feature_names=None,
    label_name: str | None = None,
    optimizer: Optimizer | None = None,
    config: TrainConfig | None = None,
) -> pathlib.Path:
    """Write ``net`` with trained ``params`` as a run folder ``out`` (config.json and
    checkpoint.npz) that ``load_run`` and ``jaxmlp predict`` read. ``task`` defaults to the
    net's output: softmax multiclass, sigmoid binary (one unit) or multilabel, else regression;
    ``scaler`` is the ``Standardizer`` the inputs went through (None: raw inputs). The folder
    records a finished run of ``config.epochs`` epochs (``TrainConfig()``'s without one). It
    holds the folder's lock while it writes (``folder.lock``): a folder another process holds
    (a train being set up there) is a ValueError naming it."""
    net.check_params(params)
    task = task or _task_of(net)
    if task not in datasets.TASKS:
        raise not_one_of("task", task, datasets.TASKS)
    check_classes(classes, task, net, "save_run")
    tasks.check_output(task, net.output, net.sizes[-1], "save_run: ")
    check_inputs_described(net.sizes[0], scaler, feature_names)
    optimizer, config = optimizer or Optimizer(), config or TrainConfig()
    _check_dtype(params, config.dtype)
    out = folder.out_folder(out, {}, resume=False)
    extra = {} if scaler is None else dict(scaler._asdict())
    meta = {
        "name": "python",
        "task": task,
        "n_features": net.sizes[0],
        "n_classes": net.sizes[-1] if task != "regression" else 0,
        "classes": None if classes is None else list(np.asarray(classes).tolist()),
        "feature_names": None if feature_names is None else [str(c) for c in feature_names],
        "label_name": label_name,
        "standardized": scaler is not None,
        "sha256": None,
    }
    out.mkdir(parents=True, exist_ok=True)
    settings = {"dtype": config.dtype, "seed": config.seed}
    run_id = folder.identity(settings, meta, checkpoint.VERSION)  # load_run checks config.json
    record = {
        "jaxmlp_version": folder.version(),
        "settings": settings,
        "data": meta,
        "model": checkpoint.architecture(net),
        "run_id": run_id,  # of the data and dtype: the network is named by params_sha256
        "params_sha256": checkpoint.params_sha256(params),
        "checkpoint_version": checkpoint.VERSION,  # the format of its checkpoint
    }
    with folder.lock(out), precision(config.dtype):  # (float64 arrays as load_run reads them)
        folder.out_folder(out, {}, resume=False)  # a run another process began meanwhile
        state = TrainState(params, optimizer.build(1).init(params), config.epochs)
        checkpoint.save(out / "checkpoint.npz", state, net=net, optimizer=optimizer,
                        config=config, extra=extra, run_id=run_id)  # fmt: skip
        folder.write_json(out / "config.json", record)
    return out


def _check_dtype(params, dtype: str) -> None:
    """A ValueError for save_run unless ``params`` are of the dtype a run of ``dtype`` (its
    config's) keeps (``arrays.params_dtype``: float32 for a bfloat16 run, its master weights),
    saying which config saves them as they are."""
    found = sorted({np.asarray(a).dtype.name for layer in params for a in layer.values()})
    want = params_dtype(dtype).name
    if found != [want]:
        fits = found[0] if found in (["float32"], ["float64"]) else None
        raise ValueError(
            f"save_run: the parameters are {', '.join(found)}; those of a {dtype} run (config="
            f"TrainConfig(dtype={dtype!r}), TrainConfig()'s without one) are {want}: "
            + (f"pass config=TrainConfig(dtype={fits!r}) to save a {fits} run, " if fits else "")
            + f"or cast them to {want}."
        )


def _task_of(net: MLP) -> str:
    decides = outputs.get(net.output).decides
    if decides == "argmax":
        return "multiclass"
    if decides == "threshold":
        return "binary" if net.sizes[-1] == 1 else "multilabel"
    return "regression"
