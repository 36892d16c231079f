#!/usr/bin/python3
"""GPT-2 generation speed in plain PyTorch with a key/value cache — the twin of `zen generate`.

  bench/gpt2_generate_torch.py --out DIR [--size small|tiny|char-a] [--prompt 16] [--tokens 64] [--threads N]

Writes a randomly initialised GPT-2 of the given size as a Hugging Face checkpoint in DIR
(config.json + model.safetensors; small = GPT-2's 124M shape: 12 layers, 12 heads, width 768,
context 1024, vocabulary 50257) unless DIR already holds one, then times greedy decoding: the
prompt fed once, then one token at a time over the cache (the same work zen_lm does). Prints
"torch: prompt P tokens in S s; N tokens in S s (X tokens/s)". bench/gpt2_generate.sh runs
both sides.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from make_fixtures import write_safetensors  # noqa: E402
from gen.gpt2_ref import CONFIG, gelu_new, layer_norm, random_gpt2  # noqa: E402

SIZES = {
    "small": dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024, n_ctx=1024, vocab_size=50257),
    "tiny": dict(n_embd=64, n_layer=2, n_head=4, n_positions=64, n_ctx=64, vocab_size=256),
    # benchmark (a) of issue 5: the char-GPT of the training benchmark (6 layers, 6 heads, width 384, context 256, 65 symbols)
    "char-a": dict(n_embd=384, n_layer=6, n_head=6, n_positions=256, n_ctx=256, vocab_size=65),
}


def step(sd, cfg, ids, cache):
    """Logits of the last of ids [1, S] placed after the cached positions; extends cache."""
    d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = d // nh
    past = cache[0][0].shape[2] if cache else 0
    S = ids.shape[1]
    h = sd["wte.weight"][ids] + sd["wpe.weight"][past : past + S][None]
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(h, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], eps)
        q, k, v = (a @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]).split(d, dim=-1)
        q, k, v = (t.view(1, S, nh, hd).transpose(1, 2) for t in (q, k, v))
        if len(cache) > i:
            k = torch.cat([cache[i][0], k], 2)
            v = torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
        else:
            cache.append((k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        if S > 1:  # the prompt: causal, aligned to the end of the keys
            T = k.shape[2]
            s = s.masked_fill(torch.ones(S, T, dtype=torch.bool).triu(T - S + 1), float("-inf"))
        o = torch.softmax(s, dim=-1) @ v
        o = o.transpose(1, 2).reshape(1, S, d)
        h = h + o @ sd[p + "attn.c_proj.weight"] + sd[p + "attn.c_proj.bias"]
        m = layer_norm(h, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], eps)
        m = gelu_new(m @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"])
        h = h + m @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]
    h = layer_norm(h[:, -1:], sd["ln_f.weight"], sd["ln_f.bias"], eps)
    return (h @ sd["wte.weight"].T)[0, -1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="small", choices=SIZES)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ids-out", help="write the greedy token ids here (to compare with zen's)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = dict(CONFIG, **SIZES[a.size])
    os.makedirs(a.out, exist_ok=True)
    st = os.path.join(a.out, "model.safetensors")
    if not os.path.exists(st):
        gen = torch.Generator().manual_seed(1)
        sd = random_gpt2(cfg, gen)
        write_safetensors(st, sd)
        with open(os.path.join(a.out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    with open(os.path.join(a.out, "config.json")) as f:
        cfg = json.load(f)
    sd = random_gpt2(cfg, torch.Generator().manual_seed(1))  # the weights of the file (same seed)
    ids = torch.arange(a.prompt)[None] % cfg["vocab_size"]
    with torch.no_grad():
        cache = []
        t0 = time.perf_counter()
        logits = step(sd, cfg, ids, cache)
        t_prompt = time.perf_counter() - t0
        t0 = time.perf_counter()
        made = []
        for _ in range(a.tokens):
            tok = int(torch.argmax(logits))
            made.append(tok)
            logits = step(sd, cfg, torch.tensor([[tok]]), cache)
        t_gen = time.perf_counter() - t0
    print(f"torch: prompt {a.prompt} tokens in {t_prompt:.3f} s; {a.tokens} tokens in {t_gen:.3f} s "
          f"({a.tokens / t_gen:.1f} tokens/s)")
    if a.ids_out:
        with open(a.ids_out, "w") as f:
            f.write(" ".join(map(str, made)) + "\n")


if __name__ == "__main__":
    main()
