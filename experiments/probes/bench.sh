#!/bin/bash
# Alternate the XOR row: code before (git archive of main, a2ef1dc) and after (this branch).
for i in 1 2 3; do
  for v in before after; do
    if [ $v = before ]; then root=/tmp/xorpop_before; else root=/work/wt/xorpop; fi
    echo "== $v $i start $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    (cd $root/experiments && PYTHONPATH=$root /work/main/.venv/bin/python population_bench.py --only xor_population --out /tmp/xp/bench_${v}_$i > /tmp/xp/bench_${v}_$i.log 2>&1)
    echo "== $v $i end $(date -u +%T) $(uptime | sed 's/.*load/load/')"
  done
done
