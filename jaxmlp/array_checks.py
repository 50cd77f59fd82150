"""The checks of concrete arrays at the network's boundary (``MLP.inputs``, ``MLP.targets``,
``MLP.check_params``): parameters that are arrays, finiteness, the range a dtype holds, a
thresholded output's labels and integer labels' range. A traced array (under ``jit``) is not
checked: its values are unknown.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.numeric import check_unmasked


def all_finite(a) -> bool:
    xp = jnp if isinstance(a, jax.Array) else np
    with jax.ensure_compile_time_eval():  # a concrete array inside a trace: still concrete
        return bool(xp.isfinite(a).all())


def check_real(name: str, a) -> None:
    """A ValueError unless the array ``a`` holds real numbers: bools, integers or floats
    (bfloat16 too, which NumPy calls of kind "V"), not complex ones, text or objects."""
    if jnp.issubdtype(a.dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype}.")
    if not (jnp.issubdtype(a.dtype, jnp.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}.")


def real_array(name: str, a) -> np.ndarray:
    """``a`` as a NumPy array, once it is unmasked (``check_unmasked``: ``np.asarray`` would read
    the numbers under a mask) and real (``check_real``: a cast to float64 would drop a complex
    part): arrays handed to jaxmlp to judge or to use, a gradient under test, a weight."""
    check_unmasked(name, a)
    a = np.asarray(a)
    check_real(name, a)
    return a


def param_shape(v, where: str) -> tuple:
    """The shape of the parameter ``v`` (named ``where``: "params[0]['w']"); a ValueError unless
    it is an array (NumPy or JAX): a list (params after ``json.loads``) has no dtype, and the
    one the net would compute in would be a guess; nor a masked array with masked entries
    (``numeric.check_unmasked``: the numbers under its mask would be used)."""
    if not (hasattr(v, "shape") and hasattr(v, "dtype")):
        raise ValueError(
            f"{where} is a {type(v).__name__}, not an array: parameters are NumPy or JAX arrays, "
            "whose dtype the net computes in; convert params read from JSON with "
            "[{k: np.asarray(v, np.float32) for k, v in layer.items()} for layer in params]."
        )
    check_unmasked(where, v)
    return tuple(v.shape)


def one_dtype(params):
    """The one dtype of every leaf of ``params`` (a list of layer dicts of arrays), the dtype
    the net computes in; a ValueError naming the first leaf of another (a float64 leaf in a
    float32 net computed by promotion: float64 outputs, and gradients whose dtypes are not the
    params')."""
    leaves = [(f"params[{l}][{k!r}]", v.dtype) for l, p in enumerate(params) for k, v in p.items()]
    first = jnp.dtype(leaves[0][1])
    for where, dtype in leaves:
        if jnp.dtype(dtype) != first:
            names = sorted({jnp.dtype(d).name for _, d in leaves})
            raise ValueError(
                f"params mix the dtypes {names} ({where} is {jnp.dtype(dtype).name}): the net "
                "computes in one; cast them, e.g. "
                f"jax.tree.map(lambda a: a.astype('{first.name}'), params)."
            )
    return first


def check_nonempty(x, name: str, needs: str) -> None:
    """ValueError if ``x`` has no rows (``needs``: what needs an example): the cost of no examples
    is 0 / 0, and their gradient 0."""
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: {needs} needs at least one example.")


def as_dtype(a, dtype):
    """``jnp.asarray(a, dtype)``; a strongly typed jax array of ``dtype`` is returned as it is."""
    ok = isinstance(a, jax.Array) and a.dtype == dtype and not a.weak_type
    return a if ok else jnp.asarray(a, dtype)


def check_values(a, dtype, name) -> None:
    """ValueError if the concrete array ``a`` holds NaN or Inf, or finite values that ``dtype``
    cannot: the one rule for the arrays the network takes (``MLP.inputs``, ``MLP.targets``, so
    ``fit``, ``evaluate`` and the eager methods alike), from the largest magnitude (a max and a
    min: no array of magnitudes the size of the data). Integers too: 70000 is inf in float16."""
    if isinstance(a, jax.core.Tracer) or not jnp.issubdtype(a.dtype, jnp.number):
        return  # traced: values unknown; a bool array is 0 or 1
    xp, a = (jnp, a) if isinstance(a, jax.Array) else (np, np.asarray(a))  # float64 stays
    with jax.ensure_compile_time_eval():  # a concrete array inside a trace: still concrete
        high, low = float(xp.max(a, initial=0)), float(xp.min(a, initial=0))  # ints: no -min
    top = float(np.maximum(high, -low))  # NaN, inf kept
    if not np.isfinite(top):
        raise ValueError(f"{name} contains NaN or Inf; remove or impute them first.")
    largest = float(jnp.finfo(dtype).max)
    if top > largest:
        raise ValueError(
            f"{name}: value {top:.6g} exceeds the {jnp.dtype(dtype).name} range (largest "
            f"{largest:.3g}), the dtype the network computes in; rescale it."
        )


def check_labels(t, output, labels) -> None:
    """ValueError unless every finite value of the concrete targets ``t`` is one of ``labels``."""
    if isinstance(t, jax.core.Tracer) or t.size == 0:
        return
    xp = jnp if isinstance(t, jax.Array) else np
    with jax.ensure_compile_time_eval():  # a concrete array inside a trace: still concrete
        bad = xp.isfinite(t) & ~xp.isin(t, xp.asarray(labels))  # not in t's dtype: uint8 -1
        first = float(t[bad][0]) if bool(bad.any()) else None
    if first is not None:
        raise ValueError(
            f"Targets of output {output!r} must be the labels {labels[0]} or {labels[1]}, got "
            f"{first:g}; for 0/1 labels or probabilities use output 'sigmoid'."
        )


def nan_where(t, refused):
    """Traced targets ``t`` with NaN where ``refused(t)`` (a boolean mask, broadcast to t):
    under ``jit`` a value the eager checks refuse makes the cost, its gradient and a step's loss
    NaN (seen as a diverged step is), where it gave a silent 0 (a label K one-hot encodes to a
    row of zeros) or a finite, meaningless cost. Concrete targets, checked, are returned as
    they are."""
    if not isinstance(t, jax.core.Tracer):
        return t
    return jnp.where(refused(t), jnp.nan, t).astype(t.dtype)


def not_labels(t, labels):
    """Where the values of ``t`` are none of ``labels`` (a thresholded output's, -1/+1)."""
    return ~jnp.isin(t, jnp.asarray(labels, t.dtype))


def one_hot(t, k: int, dtype):
    """Integer labels ``(n,)`` as one-hot rows ``(n, k)``; traced, a label outside 0..k-1 is a
    row of NaN (``nan_where``), not ``jax.nn.one_hot``'s row of zeros."""
    rows = jax.nn.one_hot(t, k, dtype=dtype)
    return nan_where(rows, lambda _: ((t < 0) | (t >= k))[..., None])


def check_label_range(t, k: int) -> None:
    if isinstance(t, jax.core.Tracer):
        return  # traced: values unknown, checked when concrete
    t = np.asarray(t)
    if t.size and (t.min() < 0 or t.max() >= k):
        bad = t[(t < 0) | (t >= k)][0]
        raise ValueError(f"Integer labels must lie in [0, {k - 1}] for {k} outputs, got {bad}.")
