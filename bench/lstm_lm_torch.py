#!/usr/bin/python3
"""The work of bench/lstm_lm.c in PyTorch: one training step of an LSTM language model.

    /usr/bin/python3 bench/lstm_lm_torch.py [--threads T ...] [--env NAME]

    nn.Embedding(65, 128) -> nn.LSTM(128, 256, batch_first=True) over 64 steps ->
    nn.Linear(256, 65) on every step -> F.cross_entropy against the next tokens;
    batch 32; backward; torch.optim.Adam step (zero_grad(set_to_none=True) first)

Random token batches (8 fixed, cycled), as zen's. Prints
RESULT torch.<env>.lstm_lm threads=T median_ms=<ms per step> ... tokens_per_s=.. cpu_ms=<CPU per step>
"""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import torchbench

V, E, H, T, B, NBATCH = 65, 128, 256, 64, 32, 8


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.out = nn.Linear(H, V)

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids))
        return self.out(y)


def main():
    args = torchbench.parse_args(__doc__)
    torchbench.header("lstm_lm", args)
    timer = torchbench.Timer(args)
    timer.min_seconds = max(timer.min_seconds, 2.0)
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        model = LM()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        data = torch.randint(0, V, (NBATCH, B, T + 1))
        state = {"step": 0, "loss": 0.0}

        def step():
            batch = data[state["step"] % NBATCH]
            state["step"] += 1
            opt.zero_grad(set_to_none=True)
            logits = model(batch[:, :T])
            loss = F.cross_entropy(logits.reshape(B * T, V), batch[:, 1:].reshape(B * T))
            loss.backward()
            opt.step()
            state["loss"] = loss.item()

        c0, n0 = time.process_time(), state["step"]
        med, mn, reps = timer.time(step)
        cpu_ms = (time.process_time() - c0) * 1e3 / (state["step"] - n0)
        timer.result("lstm_lm", threads, (med, mn, reps), tokens_per_s=f"{B * T / (med * 1e-3):.0f}",
                     cpu_ms=f"{cpu_ms:.2f}", loss=f"{state['loss']:.4f}")


if __name__ == "__main__":
    main()
