"""Count the step loop's kernels in the Fashion-grid population's compiled program."""
import re, collections
import jax, numpy as np
from jaxmlp import MLP, Optimizer, TrainConfig, fit_population
from jaxmlp import epochs as ep
captured = {}
orig = ep.make_member_epochs
def spy(*a, **k):
    run = orig(*a, **k)
    def call(*args):
        captured.setdefault("hlo", run.lower(*args).compile().as_text())
        return run(*args)
    return call
ep.make_member_epochs = spy
import jaxmlp.population as pop
pop.ep.make_member_epochs = spy
net = MLP((784, 256, 128, 10), "relu", "softmax", "cross_entropy")
rng = np.random.default_rng(0); x = rng.random((512, 784), dtype=np.float32); labels = rng.integers(0, 10, 512)
fit_population(net, x, labels, Optimizer("adam"), TrainConfig(epochs=1, batch_size=128), seeds=[0,1,2,3]*4, hyper={"lr": [1e-3]*16})
hlo = captured["hlo"]
bodies = set(re.findall(r"body=(%?[\w.\-]+)", hlo))
comps = {}
for block in re.split(r"\n(?=\S)", hlo):
    m = re.match(r"(?:ENTRY )?(%?[\w.\-]+) ", block)
    if m: comps[m.group(1)] = block
skip = ("parameter", "tuple", "get-tuple-element", "constant", "bitcast")
for b in bodies:
    lines = [l for l in comps.get(b, "").splitlines()[1:] if "=" in l]
    ops = collections.Counter(re.search(r"= \S+ ([\w\-]+)\(", l).group(1) if re.search(r"= \S+ ([\w\-]+)\(", l) else "?" for l in lines)
    kernels = sum(v for k, v in ops.items() if k not in skip)
    print(b, kernels, dict(ops))
