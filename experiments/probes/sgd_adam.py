import sys, json
sys.path.insert(0, "/work/wt/popfast2/experiments")
import population_bench as pb
for r in range(2):
    for opt in ("sgd", "adam"):
        m = pb.fashion_grid(False, opt)["timings"]
        print(opt, {k: round(v["median_s"], 2) for k, v in m.items()}, "one-by-one/pop", round(m["fit_one_after_another"]["x_jaxmlp_population"], 2), flush=True)
