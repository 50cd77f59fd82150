"""Where a search's metadata goes, by ``GridSearchCV``'s rules (scikit-learn >= 1.4): the
estimator's ``fit`` parameters (``sample_weight``), the scorer's (the held-out rows' weights)
and the splitter's (``groups``).

Without metadata routing, ``fit``'s ``sample_weight`` goes to every fit and, where the scorer
takes it (else a UserWarning), to every scoring, each cut to its rows; ``groups`` to the
splitter. With ``sklearn.set_config(enable_metadata_routing=True)`` each goes where the
estimator, the scorer and the splitter request it (``set_fit_request``...), and ``score``'s too.
"""

import warnings
from inspect import signature

from sklearn.utils._metadata_requests import _manual_routing
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params

FIT_PARAMS = ("sample_weight",)  # what the estimators' fit takes besides X and y


def router(search, scorer) -> MetadataRouter:
    """``GridSearchCV.get_metadata_routing``: fit -> the estimator's fit, the scorer's score
    and the splitter's split; score -> the scorer's score."""
    return (
        MetadataRouter(owner=search)
        .add(
            estimator=search.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        .add(
            scorer=scorer,
            method_mapping=MethodMapping()
            .add(caller="score", callee="score")
            .add(caller="fit", callee="score"),
        )
        .add(splitter=search.cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
    )


def for_fit(search, scorer, X, groups, params: dict):
    """``fit``'s ``params`` (and ``groups``) routed: a Bunch with ``estimator["fit"]``,
    ``scorer["score"]`` and ``splitter["split"]``, each a dict of whole-X arrays (cut per fold
    with ``rows``). Without routing a parameter the estimators' fit does not take is a
    ValueError naming it."""
    params = _check_method_params(X, params=params)
    if _routing_enabled():
        split = {} if groups is None else {"groups": groups}
        return process_routing(search, "fit", **params, **split)
    unknown = sorted(set(params) - set(FIT_PARAMS))
    if unknown:
        raise ValueError(
            f"{type(search).__name__}.fit got the fit parameters {unknown}: it passes them on "
            f"to {type(search.estimator).__name__}.fit, which takes {list(FIT_PARAMS)}."
        )
    score = {}
    if params.get("sample_weight") is not None and _takes_sample_weight(scorer, search):
        score = {"sample_weight": params["sample_weight"]}
    return _manual_routing(
        {
            "estimator": {"fit": params},
            "splitter": {"split": {"groups": groups}},
            "scorer": {"score": score},
        }
    )


def for_score(search, params: dict) -> dict:
    """``score``'s ``params`` for the scorer: none without routing (``GridSearchCV``'s
    ValueError)."""
    _raise_for_params(params, search, "score")
    return process_routing(search, "score", **params).scorer["score"] if params else {}


def rows(X, params: dict, indices) -> dict:
    """``params``' arrays of one value per row of X cut to ``indices``, as for a fold's fit."""
    return _check_method_params(X, params=params, indices=indices)


def _takes_sample_weight(scorer, search) -> bool:
    """``GridSearchCV._check_scorers_accept_sample_weight`` for one scorer: whether it takes
    ``sample_weight``, with its warning where it does not."""
    if hasattr(scorer, "_accept_sample_weight"):
        accept = scorer._accept_sample_weight()
    else:
        accept = "sample_weight" in signature(scorer).parameters
    if not accept:
        warnings.warn(
            f"The scoring {scorer} does not support sample_weight, which may lead to "
            f"statistically incorrect results when fitting {search} with sample_weight. ",
            stacklevel=3,
        )
    return accept
