#!/bin/bash
# alternating zen / torch processes; best median per result name over the rounds
cd /work/wt-attn
OUT=/tmp/attn_bench/r2
T="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1"
for r in 1 2; do
  for t in 1 2; do
    OMP_NUM_THREADS=$t build/bench/bench_attention $t > $OUT/r$r.t$t.attn.zen.log 2>&1
    env -u GLIBC_TUNABLES -u OMP_WAIT_POLICY OMP_NUM_THREADS=$t /usr/bin/python3 bench/attention_torch.py --env shipped --threads $t > $OUT/r$r.t$t.attn.shipped.log 2>&1
    GLIBC_TUNABLES=$T OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$t /usr/bin/python3 bench/attention_torch.py --env tuned --threads $t > $OUT/r$r.t$t.attn.tuned.log 2>&1
    OMP_NUM_THREADS=$t build/bench/bench_softmax_ln $t > $OUT/r$r.t$t.ln.zen.log 2>&1
    env -u GLIBC_TUNABLES -u OMP_WAIT_POLICY OMP_NUM_THREADS=$t /usr/bin/python3 bench/softmax_ln_torch.py --env shipped --threads $t > $OUT/r$r.t$t.ln.shipped.log 2>&1
    GLIBC_TUNABLES=$T OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$t /usr/bin/python3 bench/softmax_ln_torch.py --env tuned --threads $t > $OUT/r$r.t$t.ln.tuned.log 2>&1
    if [ $r = 1 ]; then
      ZEN_LN_FROM_OPS=1 OMP_NUM_THREADS=$t build/bench/bench_softmax_ln $t | sed 's/RESULT ln_gelu/RESULT ops.ln_gelu/' > $OUT/r$r.t$t.ln.zenops.log 2>&1
      ZEN_ATTN_FROM_OPS=1 OMP_NUM_THREADS=$t build/bench/bench_attention $t | sed 's/RESULT attn/RESULT ops.attn/' > $OUT/r$r.t$t.attn.zenops.log 2>&1
    fi
    uptime >> $OUT/load.txt
  done
done
echo RUN2_DONE > $OUT/done
