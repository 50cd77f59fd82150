import pickle, sys
import numpy as np
a, b = (pickle.load(open(f, "rb")) for f in sys.argv[1:3])
bad = 0
for k in a:
    same = a[k] == b.get(k)
    if not same: bad += 1
    print(("same " if same else "DIFF ") + k)
print(len(a), "cases,", bad, "differ", "; missing:", set(a) ^ set(b))
