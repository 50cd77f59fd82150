"""A sweep's or a run's config.json, damaged or hand-edited: every reader (``sweep --resume``,
``train --resume``, ``evaluate``, ``predict``) refuses it with one line that names the file,
before it builds anything or writes to the folder; and the Python ``sweep`` refuses the value
lists the command line refuses.
"""

import json
import pathlib
import shutil

import pytest

from jaxmlp import checkpoint, cli, run
from jaxmlp.run import trainer

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
    edit, folders, tmp_path, fails
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
        err = fails(argv)
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
def test_a_resume_refuses_a_damaged_record_before_it_writes(edit, folders, tmp_path, fails):
    """An initial_loss or train record of the wrong type (outside the run_id) failed after
    config.json had been rewritten to the new length: "can't multiply sequence by non-int",
    "unsupported operand type(s) for |"."""
    out = edited(folders["train"], tmp_path, edit)
    before = (out / "config.json").read_bytes()
    err = fails(["train", "--out", str(out), "--resume", "--epochs", "8"])
    assert "config.json" in err and "edited or damaged" in err, err
    assert (out / "config.json").read_bytes() == before


def test_a_folder_of_another_kind_says_what_it_is(folders, fails):
    """A save_run folder resumed by train was read as a digits run ("checkpoint is for another
    architecture ... wanted [64, 256, 10]"); a sweep folder evaluated had "no such checkpoint
    file"."""
    err = fails(["train", "--out", str(folders["saved"]), "--resume"])
    assert "save_run" in err, err
    for argv in (["evaluate"], ["predict", "--input", str(folders["inputs"])]):
        err = fails([argv[0], str(folders["sweep"]), *argv[1:]])
        assert "holds a sweep" in err, err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"lr": []}, "--lr needs at least one value"),  # was a ZeroDivisionError
        ({"lr": [0.5, 0.5]}, "repeats a value"),  # was two grid points of one value
        ({"seeds": [0, 0]}, "repeats a seed"),  # was two members of one seed
        # each was float()ed: a string or a bool trained as the number it spelled
        ({"lr": "0.5"}, "lr must be a finite number or a list of them, got '0.5'"),
        ({"lr": True}, "lr must be a finite number or a list of them, got True"),
        ({"optimizer": "sgd", "momentum": [0.5, "0.9"]}, r"momentum .* '0.9' in \[0.5, '0.9'\]"),
        # one seed other than 0 and --seed: config.json's command wrote --seeds 7 (7 members)
        ({"seeds": [7]}, r"seeds \[7\]: one member seed other than --seed's 0 or 0"),
    ],
)
def test_the_python_sweep_refuses_what_the_command_line_refuses(extra, says, tmp_path):
    given = {"data": "xor", "hidden": [3], "epochs": 5, "batch_size": "full", "lr": [0.5, 2.0]}
    with pytest.raises(ValueError, match=says):
        run.sweep(given | extra, tmp_path / "out", echo=lambda line: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_config_jsons_command_reruns_the_sweeps_members(tmp_path):
    """A sweep of --seed 5 alone trains the one member of seed 5; config.json's command said
    --seeds 5, which reruns 5 members of seeds 0..4. The command now leaves --seeds out where
    the members' seed is --seed's, and reruns the same members."""
    import shlex

    argv = ["sweep", *XOR, "--seed", "5", "--lr", "0.5,2"]
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    command = json.loads((tmp_path / "a" / "config.json").read_text())["command"]
    words = shlex.split(command)[1:]
    assert cli.main([*words[: words.index("--out")], "--out", str(tmp_path / "b")]) == 0
    lines = [(tmp_path / out / "members.jsonl").read_text().splitlines() for out in "ab"]
    seeds = [[json.loads(line)["seed"] for line in found] for found in lines]
    assert seeds[0] == seeds[1] == [5, 5], (seeds, command)


# -- facts of config.json outside the run_id, bound to the checkpoint ----------------------------


@pytest.mark.parametrize("value", [1e30, None, 0.0], ids=["huge", "null", "zero"])
def test_an_edited_initial_loss_is_refused_naming_config_json(value, folders, tmp_path, fails):
    """initial_loss, the divergence rule's reference (a training loss 1e4 x it has diverged),
    is outside the run_id: an edit that was still a number (or null) switched the rule off on
    resume, exit 0, and evaluate read the folder as it stood."""
    out = edited(folders["train"], tmp_path, lambda config: config.update(initial_loss=value))
    before = (out / "config.json").read_bytes()
    for argv in (["train", "--out", str(out), "--resume", "--epochs", "8"], ["evaluate", str(out)]):
        err = fails(argv)
        assert "config.json" in err and "initial_loss" in err and "checkpoint" in err, err
    assert (out / "config.json").read_bytes() == before


def test_a_run_resumed_before_its_first_save_recomputes_its_initial_loss(folders, tmp_path):
    """A run killed before its first save starts over on resume: its initial loss is that of
    its initial parameters again, never config.json's (which an edit had made 1e30)."""
    true = json.loads((folders["train"] / "config.json").read_text())["initial_loss"]
    out = edited(folders["train"], tmp_path, lambda config: config.update(initial_loss=1e30))
    for name in ("checkpoint.npz", "metrics.jsonl", "summary.json"):
        (out / name).unlink()
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert json.loads((out / "config.json").read_text())["initial_loss"] == true
    assert cli.main(["evaluate", str(out)]) == 0


def test_an_edited_initial_loss_beside_an_older_checkpoint_is_refused(folders, tmp_path, fails):
    """A checkpoint from before checkpoints recorded the initial loss: config.json's is checked
    against the loss of the run's initial parameters, recomputed."""
    out = edited(folders["train"], tmp_path, lambda config: None)
    ckpt = checkpoint.load(out / "checkpoint.npz")
    meta = {k: v for k, v in ckpt.meta["extra"].items() if k != "initial_loss"}
    checkpoint.save(out / "checkpoint.npz", ckpt.state, net=ckpt.net, optimizer=ckpt.optimizer,
                    config=ckpt.config, extra=ckpt.extra, extra_meta=meta,
                    run_id=ckpt.meta["run_id"])  # fmt: skip
    edit = edited(out, tmp_path / "edit", lambda config: config.update(initial_loss=1e30))
    err = fails(["train", "--out", str(edit), "--resume", "--epochs", "8"])
    assert "config.json" in err and "initial_loss" in err and "initial parameters" in err, err
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "8"]) == 0


def test_an_edited_epochs_of_a_finished_run_is_refused_by_every_reader(folders, tmp_path, fails):
    """epochs 5 -> 8 in the config.json of a finished run: evaluate and predict read the run
    with exit 0, and a plain resume trained 3 more epochs, as if --epochs 8 had been given."""
    out = edited(folders["train"], tmp_path, setting("epochs", 8))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for argv in (
        ["train", "--out", str(out), "--resume", "--no-progress"],
        ["evaluate", str(out)],
        ["predict", str(out), "--input", str(folders["inputs"])],
    ):
        err = fails(argv)
        assert "config.json: epochs 8" in err and "a run of 5 epochs" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_a_run_killed_while_extended_before_its_next_save_still_reads_and_resumes(
    folders, tmp_path, monkeypatch
):
    """--resume --epochs 8 writes config.json's new length before it trains: killed before
    the next save, the folder holds epochs 8 beside a checkpoint of a 5-epoch run, which
    config.json's extended_from vouches for."""
    out = edited(folders["train"], tmp_path, lambda config: None)

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(trainer, "fit", killed)
    with pytest.raises(RuntimeError, match="killed"):
        run.train({"epochs": 8}, out, resume=True, echo=lambda line: None)
    monkeypatch.undo()
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["epochs"] == 8 and config["extended_from"] == 5
    assert checkpoint.read_meta(out / "checkpoint.npz")["train"]["epochs"] == 5
    assert cli.main(["evaluate", str(out)]) == 0
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 8


@pytest.mark.parametrize("resume", [False, True], ids=["new", "resumed"])
def test_a_chunks_file_in_the_sweep_folder_is_refused_before_training(
    resume, folders, tmp_path, fails
):
    """The sweep keeps its chunks in OUT/chunks/; a file of that name failed only once the
    first chunk had trained (mkdir's "[Errno 17] File exists"), leaving config.json behind."""
    out = tmp_path / "sweep"
    if resume:
        shutil.copytree(folders["sweep"], out)
        shutil.rmtree(out / "chunks")
    else:
        out.mkdir()
    (out / "chunks").write_text("not a folder\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = ["sweep", "--out", str(out), "--resume"]
    err = fails(argv if resume else ["sweep", *XOR, "--seeds", "2", *argv[1:3]])
    assert f"{out / 'chunks'}: exists and is not a folder" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
