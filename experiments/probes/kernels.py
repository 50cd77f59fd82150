"""Count while-body kernels of the XOR population (1000 members, 5000 epochs) and the plain scan."""
import re, collections, sys
import jax, jax.numpy as jnp, numpy as np
from jaxmlp import MLP, Optimizer, TrainConfig, fit_population
from jaxmlp import epochs as ep
import jaxmlp.population as pop
sys.path.insert(0, "/work/wt/xorpop/experiments")
captured = {}
orig = ep.make_member_epochs
def spy(*a, **k):
    run = orig(*a, **k)
    def call(*args):
        captured.setdefault("hlo", run.lower(*args).compile().as_text())
        return run(*args)
    return call
pop.ep.make_member_epochs = spy
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = np.array([[0], [1], [1], [0]], np.float32)
fit_population(XOR, x, t, Optimizer("sgd", lr=0.1), TrainConfig(epochs=5000, batch_size="full"), seeds=list(range(1000)))
def count(hlo, verbose):
    bodies = re.findall(r"body=(%?[\w.\-]+)", hlo)
    comps = {}
    for block in re.split(r"\n(?=\S)", hlo):
        m = re.match(r"(?:ENTRY )?(%?[\w.\-]+) ", block)
        if m: comps[m.group(1)] = block
    skip = ("parameter", "tuple", "get-tuple-element", "constant", "bitcast")
    for b in bodies:
        lines = [l for l in comps.get(b, "").splitlines()[1:] if "=" in l]
        ops = collections.Counter((re.search(r"= \S+ ([\w\-]+)\(", l) or re.search(r"= \(.*?\) ([\w\-]+)\(", l)).group(1) if (re.search(r"= \S+ ([\w\-]+)\(", l) or re.search(r"= \(.*?\) ([\w\-]+)\(", l)) else "?" for l in lines)
        kernels = sum(v for k, v in ops.items() if k not in skip)
        print(b, kernels, dict(ops))
        if verbose:
            for l in lines:
                if not any(f" {s}(" in l for s in skip): print("   ", l.strip()[:220])
v = "-v" in sys.argv
print("== population"); count(captured["hlo"], v)
from population_bench import plain_population, initial
params = initial(XOR, range(1000))
print("== plain"); count(plain_population.lower(params, jnp.asarray(x), jnp.asarray(t), 5000).compile().as_text(), v)
if "-dump" in sys.argv: open("/tmp/xp/pop.hlo","w").write(captured["hlo"])
