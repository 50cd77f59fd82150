"""A sweep's or a run's config.json, damaged or hand-edited: every reader (``sweep --resume``,
``train --resume``, ``evaluate``, ``predict``) refuses it with one line that names the file,
before it builds anything or writes to the folder; and the Python ``sweep`` refuses the value
lists the command line refuses.
"""

import json
import pathlib
import shutil

import pytest

from jaxmlp import cli, run

XOR = [
    "--data", "xor", "--hidden", "3", "--activation", "sigmoid", "--loss", "sse",
    "--reduction", "sum", "--init", "uniform:0,1", "--optimizer", "sgd", "--batch-size", "full",
    "--epochs", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A sweep folder (2 seeds x 2 lr), a train run folder and a ``save_run`` folder."""
    root = tmp_path_factory.mktemp("folders")
    sweep, train = root / "sweep", root / "train"
    assert cli.main(["sweep", *XOR, "--seeds", "2", "--lr", "0.5,2", "--out", str(sweep)]) == 0
    assert cli.main(["train", *XOR, "--out", str(train), "--no-progress"]) == 0
    model = run.load_run(train)
    saved = run.save_run(root / "saved", model.net, model.params, task=model.task)
    (root / "inputs.csv").write_text("x1,x2\n0,1\n")
    return {"sweep": sweep, "train": train, "saved": saved, "inputs": root / "inputs.csv"}


def fails(argv, capsys) -> str:
    """The one error line of ``jaxmlp argv``, which must exit 2."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def edited(source: pathlib.Path, tmp_path, edit) -> pathlib.Path:
    """A copy of the folder ``source`` whose config.json ``edit`` changed (in place)."""
    out = pathlib.Path(shutil.copytree(source, tmp_path / source.name))
    config = json.loads((out / "config.json").read_text())
    edit(config)
    (out / "config.json").write_text(json.dumps(config))
    return out


def setting(name, value):
    return lambda config: config["settings"].__setitem__(name, value)


EPOCHS = {
    "negative": setting("epochs", -5),
    "string": setting("epochs", "5"),
    "bool": setting("epochs", True),
    "missing": lambda config: config["settings"].pop("epochs"),
    "checkpoint_every": setting("checkpoint_every", -1),  # also outside the run_id
}


@pytest.mark.parametrize("edit", EPOCHS.values(), ids=EPOCHS)
def test_an_edited_setting_outside_the_run_id_is_refused_naming_config_json(
    edit, folders, tmp_path, capsys
):
    """epochs, which the run_id leaves out (a resume may extend it), was checked only when
    built: "epochs must be an integer >= 1, got -5", "max_epoch must be ...", or "error:
    epochs" (a KeyError), none naming config.json; checkpoint_every likewise (and evaluate
    read it with exit 0)."""
    sweep = edited(folders["sweep"], tmp_path, edit)
    train = edited(folders["train"], tmp_path, edit)
    commands = [
        ["sweep", "--out", str(sweep), "--resume"],
        ["train", "--out", str(train), "--resume"],
        ["evaluate", str(train)],
        ["predict", str(train), "--input", str(folders["inputs"])],
    ]
    for argv in commands:
        if edit is EPOCHS["missing"] and argv[0] in ("evaluate", "predict"):
            continue  # a save_run folder has no epochs: these read it as one
        err = fails(argv, capsys)
        assert f"{argv[2 if argv[0] in ('sweep', 'train') else 1]}/config.json" in err, err
        assert "edited or damaged" in err, err


@pytest.mark.parametrize(
    "edit",
    [
        lambda config: config.__setitem__("initial_loss", "x"),
        lambda config: config.__setitem__("train", "x"),
    ],
    ids=["initial_loss", "train"],
)
def test_a_resume_refuses_a_damaged_record_before_it_writes(edit, folders, tmp_path, capsys):
    """An initial_loss or train record of the wrong type (outside the run_id) failed after
    config.json had been rewritten to the new length: "can't multiply sequence by non-int",
    "unsupported operand type(s) for |"."""
    out = edited(folders["train"], tmp_path, edit)
    before = (out / "config.json").read_bytes()
    err = fails(["train", "--out", str(out), "--resume", "--epochs", "8"], capsys)
    assert "config.json" in err and "edited or damaged" in err, err
    assert (out / "config.json").read_bytes() == before


def test_a_folder_of_another_kind_says_what_it_is(folders, capsys):
    """A save_run folder resumed by train was read as a digits run ("checkpoint is for another
    architecture ... wanted [64, 256, 10]"); a sweep folder evaluated had "no such checkpoint
    file"."""
    err = fails(["train", "--out", str(folders["saved"]), "--resume"], capsys)
    assert "save_run" in err, err
    for argv in (["evaluate"], ["predict", "--input", str(folders["inputs"])]):
        err = fails([argv[0], str(folders["sweep"]), *argv[1:]], capsys)
        assert "holds a sweep" in err, err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"lr": []}, "--lr needs at least one value"),  # was a ZeroDivisionError
        ({"lr": [0.5, 0.5]}, "repeats a value"),  # was two grid points of one value
        ({"seeds": [0, 0]}, "repeats a seed"),  # was two members of one seed
    ],
)
def test_the_python_sweep_refuses_what_the_command_line_refuses(extra, says, tmp_path):
    given = {"data": "xor", "hidden": [3], "epochs": 5, "batch_size": "full", "lr": [0.5, 2.0]}
    with pytest.raises(ValueError, match=says):
        run.sweep(given | extra, tmp_path / "out", echo=lambda line: None)
    assert not (tmp_path / "out").exists()
