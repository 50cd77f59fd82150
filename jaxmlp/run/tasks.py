"""What a task predicts by, and the outputs that decide by the same rule. A run's metrics count
correct predictions by its output record's ``decides`` (``step.correct``); its predictions
(``Model.labels``) go by the task. They must be one rule, so a run pairs a task only with an
output that decides as the task predicts (``check_output``), or with one that decides nothing
(identity, tanh, ...: no accuracy). As the lecture notes pair them (seeds 000, 002): classes
with a softmax, a yes/no or several labels with sigmoid units.

    multiclass               argmax     softmax, softmax:beta
    binary, 2 units          argmax     softmax, softmax:beta
    binary, 1 unit           threshold  sigmoid, threshold
    multilabel               threshold  sigmoid, threshold
    regression               (y itself) any

>>> decides("multiclass", 3), decides("binary", 1), decides("regression", 1)
('argmax', 'threshold', None)
"""

from jaxmlp import outputs

CLASSIFICATION = ("binary", "multiclass")


def decides(task: str, k: int) -> str | None:
    """How a ``task`` of ``k`` output units predicts, in the words of ``outputs.Output.decides``:
    ``"argmax"`` over its units, ``"threshold"`` each unit at y > 0.5, or None (y itself)."""
    if task == "multilabel" or (task in CLASSIFICATION and k == 1):
        return "threshold"
    return "argmax" if task in CLASSIFICATION else None


def check_output(task: str, output: str, k: int, where: str = "") -> None:
    """A ValueError naming ``task``, the ``output`` and the outputs allowed for the task where
    the output of ``k`` units decides by another rule than the task predicts by (``decides``):
    the run's accuracy would not be that of its predictions. ``where``: a prefix (a folder)."""
    rule, out = decides(task, k), outputs.get(output)
    if rule is None or out.decides is None or out.decides == rule:
        return
    allowed = outputs.specs_where(lambda record: record.decides == rule)
    units = f" of {k} output units" if task == "binary" else ""
    doing = {"argmax": "taking the argmax of its units", "threshold": "thresholding each unit"}
    raise ValueError(
        f"{where}a {task} task{units} predicts by {doing[rule]}, but the output {output!r} "
        f"decides by {doing[out.decides]}: its accuracy would not be that of its predictions. "
        f"The outputs for {task}{units} are {allowed} (or one that decides nothing, as "
        "'identity': no accuracy)."
    )
