"""Dump populations (params, history, state, records without seconds) for a byte comparison."""
import pickle, sys
import jax, numpy as np
from jaxmlp import MLP, Optimizer, TrainConfig, fit_population, search

def blobs(n=48, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    labels = np.argmax(x @ rng.normal(size=(d, k)), axis=1)
    return x, np.eye(k, dtype=np.float32)[labels]

X, T = blobs(); XV, TV = blobs(seed=1)
NET = MLP((4, 8, 3), "tanh", "softmax", "cross_entropy", dropout=0.2)
PLAIN = NET.replace(dropout=0.0)
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
XX = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); XT = np.array([[0], [1], [1], [0]], np.float32)
rng=np.random.default_rng(0); XL=rng.normal(size=(48,4)).astype(np.float32); TL=(XL@rng.normal(size=(4,2))).astype(np.float32)
LIN=MLP((4,8,2),"relu","identity","sse",reduction="sum")
F = "full"
cases = {
 "sgd": lambda: fit_population(NET, X, T, Optimizer("sgd"), TrainConfig(epochs=7, batch_size=8), seeds=[0,1,2], hyper={"lr": [0.05, 0.2, 0.1]}),
 "momentum": lambda: fit_population(PLAIN, X, T, Optimizer("momentum", lr=0.05), TrainConfig(epochs=9, batch_size=10), seeds=[3,4,5], hyper={"momentum": [0.0, 0.5, 0.9]}),
 "adam_wd_clip": lambda: fit_population(NET, X, T, Optimizer("adam", clip_norm=1.0, weight_decay=1e-3), TrainConfig(epochs=6, batch_size=16), seeds=[0,1,2,3], hyper={"lr": [0.01, 0.02, 0.05, 0.1], "weight_decay": [0.0, 1e-3, 1e-2, 1e-1], "clip_norm": [0.5, 1, 2, 4]}),
 "early_stop": lambda: fit_population(PLAIN, X, T, Optimizer("adam"), TrainConfig(epochs=60, batch_size=8, early_stopping=3), seeds=[0,1,2,3], hyper={"lr": [0.001, 0.05, 0.3, 1.0]}, x_val=XV, t_val=TV),
 "early_stop_last": lambda: fit_population(PLAIN, X, T, Optimizer("sgd"), TrainConfig(epochs=40, batch_size=8, early_stopping=2, restore_best=False), seeds=[0,1], hyper={"lr": [0.5, 3.0]}, x_val=XV, t_val=TV),
 "diverge_sgd": lambda: fit_population(LIN, XL, TL, Optimizer("sgd"), TrainConfig(epochs=20, batch_size=8), seeds=[0,1,2,3,4], hyper={"lr": [0.01, 0.05, 0.1, 0.2, 0.5]}),
 "diverge_adam_es": lambda: fit_population(LIN, XL, TL, Optimizer("adam", weight_decay=1e-3, clip_norm=1e6), TrainConfig(epochs=25, batch_size=8, early_stopping=4), seeds=[0,1,2,3], hyper={"lr": [0.01, 3.0, 10.0, 0.001]}, x_val=XL[:16], t_val=TL[:16]),
 "diverge_momentum_minibatch": lambda: fit_population(PLAIN, X * 1e3, T, Optimizer("momentum"), TrainConfig(epochs=12, batch_size=8), seeds=[0,1,2,3], hyper={"lr": [0.01, 1e25, 0.1, 1e36], "momentum": [0.9, 0.9, 0.5, 0.0]}, x_val=XV, t_val=TV),
 "diverge_es": lambda: fit_population(PLAIN, X, T, Optimizer("adam"), TrainConfig(epochs=30, batch_size=8, early_stopping=2), seeds=[0,1,2], hyper={"lr": [0.01, 1e38, 0.2]}, x_val=XV, t_val=TV),
 "folds": lambda: fit_population(PLAIN, X, T, Optimizer("adam", lr=0.02), TrainConfig(epochs=8, batch_size=9, early_stopping=3), seeds=[0]*4, rows=search.kfold_rows(48, 4, seed=0)),
 "chunk_scale": lambda: fit_population(NET, X, T, Optimizer("nesterov", lr=0.05), TrainConfig(epochs=5, batch_size=12), seeds=[0,1,2,3,4], hyper={"init_scale": [0.5,1,2,1,3]}, chunk=2),
 "xor_many": lambda: fit_population(XOR, XX, XT, Optimizer("sgd", lr=0.5), TrainConfig(epochs=500, batch_size=F), seeds=list(range(64))),
 # full-batch cases
 "xor_lr_grid": lambda: fit_population(XOR, XX, XT, Optimizer("sgd"), TrainConfig(epochs=700, batch_size=F), seeds=list(range(12)), hyper={"lr": [0.1, 0.5, 1.0, 2.0]*3}),
 "xor_momentum": lambda: fit_population(XOR, XX, XT, Optimizer("momentum", lr=0.3), TrainConfig(epochs=300, batch_size=F), seeds=list(range(6)), hyper={"momentum": [0.0, 0.5, 0.9]*2}),
 "xor_nesterov_wd_clip": lambda: fit_population(XOR, XX, XT, Optimizer("nesterov", lr=0.3, weight_decay=1e-3, clip_norm=2.0), TrainConfig(epochs=200, batch_size=F), seeds=list(range(4)), hyper={"clip_norm": [0.5, 1, 2, 4]}),
 "xor_adam": lambda: fit_population(XOR, XX, XT, Optimizer("adam", lr=0.05), TrainConfig(epochs=300, batch_size=F), seeds=list(range(8))),
 "xor_adamw_cosine": lambda: fit_population(XOR, XX, XT, Optimizer("adamw", lr=0.05, weight_decay=1e-2, schedule="cosine", warmup_steps=10), TrainConfig(epochs=100, batch_size=F), seeds=list(range(3))),
 "xor_sgd_step_schedule": lambda: fit_population(XOR, XX, XT, Optimizer("sgd", lr=0.5, schedule="step", decay_steps=50, decay_rate=0.5), TrainConfig(epochs=200, batch_size=F), seeds=list(range(3))),
 "full_dropout": lambda: fit_population(NET, X, T, Optimizer("sgd", lr=0.1), TrainConfig(epochs=30, batch_size=F), seeds=[0,1,2]),
 "full_es": lambda: fit_population(PLAIN, X, T, Optimizer("sgd"), TrainConfig(epochs=200, batch_size=F, early_stopping=3), seeds=[0,1,2,3], hyper={"lr": [0.01, 0.5, 3.0, 30.0]}, x_val=XV, t_val=TV),
 "full_es_last": lambda: fit_population(PLAIN, X, T, Optimizer("momentum", lr=0.5), TrainConfig(epochs=100, batch_size=F, early_stopping=2, restore_best=False), seeds=[0,1], x_val=XV, t_val=TV),
 "full_diverge_sgd": lambda: fit_population(LIN, XL, TL, Optimizer("sgd"), TrainConfig(epochs=40, batch_size=F), seeds=[0,1,2,3,4], hyper={"lr": [0.001, 0.01, 0.03, 0.1, 1.0]}),
 "full_diverge_all": lambda: fit_population(LIN, XL, TL, Optimizer("sgd"), TrainConfig(epochs=40, batch_size=F), seeds=[0,1], hyper={"lr": [1e30, 1e35]}),
 "xor_diverge": lambda: fit_population(XOR, XX*1e3, XT, Optimizer("sgd"), TrainConfig(epochs=50, batch_size=F), seeds=[0,1,2], hyper={"lr": [0.1, 1e37, 1e38]}),
 "full_folds": lambda: fit_population(PLAIN, X, T, Optimizer("adam", lr=0.02), TrainConfig(epochs=40, batch_size=F, early_stopping=3), seeds=[0]*4, rows=search.kfold_rows(48, 4, seed=0)),
 "full_folds_sgd": lambda: fit_population(PLAIN, X, T, Optimizer("sgd", lr=0.3), TrainConfig(epochs=40, batch_size=F), seeds=[0,1,2,3], rows=search.kfold_rows(48, 4, seed=0)),
 "xor_chunks": lambda: fit_population(XOR, XX, XT, Optimizer("sgd", lr=0.5), TrainConfig(epochs=400, batch_size=F), seeds=list(range(10)), hyper={"init_scale": [0.5, 1, 2, 1, 3]*2}, chunk=4),
 "xor_val": lambda: fit_population(XOR, XX, XT, Optimizer("sgd"), TrainConfig(epochs=300, batch_size=F), seeds=list(range(5)), hyper={"lr": [0.1, 0.5, 1, 2, 4]}, x_val=XX, t_val=XT),
 "xor_bench": lambda: fit_population(XOR, XX, XT, Optimizer("sgd", lr=0.1), TrainConfig(epochs=5000, batch_size=F), seeds=list(range(1000))),
 "f64_full": lambda: fit_population(PLAIN, X, T, Optimizer("sgd", lr=0.3), TrainConfig(epochs=50, batch_size=F, dtype="float64"), seeds=[0,1]) if jax.config.jax_enable_x64 else None,
 "autodiff_full": lambda: fit_population(XOR, XX, XT, Optimizer("sgd", lr=0.5), TrainConfig(epochs=300, batch_size=F, backprop="autodiff"), seeds=list(range(5))),
 "bf16_full": lambda: fit_population(PLAIN, X, T, Optimizer("sgd", lr=0.3), TrainConfig(epochs=50, batch_size=F, dtype="bfloat16"), seeds=[0,1]),
}
out = {}
for name, make in cases.items():
    try:
        p = make()
    except Exception as e:
        out[name] = pickle.dumps(repr(e)); print(name, "ERROR", repr(e)[:200]); continue
    if p is None: continue
    recs = [{k: v for k, v in r.items() if k != "seconds"} for r in p.members]
    out[name] = pickle.dumps((jax.tree.map(np.asarray, p.params), {k: np.asarray(v) for k, v in p.history.items()}, jax.tree.map(np.asarray, p.state), recs))
    print(name, [(r["epochs"], r["stopped_epoch"], r["diverged_epoch"], r["diverged_step"]) for r in recs][:6])
pickle.dump(out, open(sys.argv[1], "wb"))
