"""``search.grid_search`` and ``search.summarize`` at their boundary: what they refuse (as the
sweep does), what they default to (as ``fit_population`` does), and which columns they group by.
"""

import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, search

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_T = np.array([[0], [1], [1], [0]], np.float32)
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
CONFIG = TrainConfig(epochs=2, batch_size="full")


def grid_search(grid, **kwargs):
    config = kwargs.pop("config", CONFIG)
    return search.grid_search(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, grid, **kwargs)


@pytest.mark.parametrize(
    ("grid", "seeds", "says"),
    [
        ({"lr": [0.1, 0.1]}, [0], r"grid\['lr'\] \[0.1, 0.1\] repeats a value: give each"),
        ({"lr": np.array([0.5, 0.5])}, [0], r"grid\['lr'\] \[0.5, 0.5\] repeats a value"),
        ({"lr": [0.1]}, [0, 0], r"seeds \[0, 0\] repeats a seed: give each seed once"),
    ],
)
def test_a_repeated_grid_value_or_seed_is_refused_as_the_sweep_refuses_it(grid, seeds, says):
    """It trained twice and summarize counted it twice (n 2 for one value, a std of copies)."""
    with pytest.raises(ValueError, match=says):
        grid_search(grid, seeds=seeds)
    with pytest.raises(ValueError, match=says):
        search.plan(grid, seeds)


def test_the_members_seed_defaults_to_config_seed_as_in_fit_population():
    """It was 0 whatever config.seed said."""
    records = grid_search({"lr": [0.5, 1.0]}, config=TrainConfig(epochs=1, seed=7))
    assert [r["seed"] for r in records] == [7, 7]
