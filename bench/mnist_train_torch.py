#!/usr/bin/python3
"""The work of bench/mnist_train.c in PyTorch: the reference model, one MNIST epoch, and
inference at batch 1000 and batch 1.

    /usr/bin/python3 bench/mnist_train_torch.py [--threads T] [--epochs E] [--env NAME] [--mnist DIR]

The model is the same as zen's, written in torch.nn the way a PyTorch user would
(channels-first, so Flatten needs no permute):
    Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(5408, 128) -> ReLU ->
    Linear(128, 10), cross-entropy on the logits against one-hot targets (= softmax +
    categorical_crossentropy), Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-7: Keras's), batch 64.

What is timed, as in zen's bench: each epoch is a shuffled pass over the 60000 training
images with the per-step batch gather (x[idx], y[idx]), forward, loss, backward, Adam step
and the accuracy count (zen's fit computes the accuracy metric every step too). Reading the
IDX files, scaling to [0, 1] and one-hot encoding are done once before and are not timed.
A warm-up pass over 2080 samples comes first. Inference: model(x) under torch.inference_mode
over the 10000 test images at batch 1000 and batch 1.

Prints RESULT lines (bench/bench.h protocol) named torch.<env>.<name>, read by
bench/mnist_compare.py: mnist_train (median_ms per epoch, samples_per_s, cpu_s),
mnist_predict_b1000, mnist_predict_b1 (median_ms per 10000 images, images_per_s),
mnist_memory (peak_rss_mb = VmHWM; data_rss_mb = VmRSS after loading the data).
"""
import argparse
import gzip
import os
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            nd = data[3]
            dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise FileNotFoundError(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--env", default="shipped", help="name of the environment, for the RESULT lines")
    ap.add_argument("--mnist", default=os.environ.get("ZEN_MNIST", os.path.expanduser("~/.cache/zen/datasets/mnist")))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)

    x_train = torch.from_numpy(read_idx(os.path.join(args.mnist, "train-images-idx3-ubyte")).astype(np.float32) / 255.0)
    x_train = x_train.reshape(-1, 1, 28, 28).contiguous()
    y_train = F.one_hot(torch.from_numpy(read_idx(os.path.join(args.mnist, "train-labels-idx1-ubyte")).astype(np.int64)),
                        10).float()
    x_test = torch.from_numpy(read_idx(os.path.join(args.mnist, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0)
    x_test = x_test.reshape(-1, 1, 28, 28).contiguous()
    data_rss = status_mb("VmRSS")

    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def epoch(n, batch=64):
        perm = torch.randperm(n)
        correct, loss_sum = 0, 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb.argmax(1)).sum().item()
        return loss_sum / n, correct / n

    model.train()
    epoch(2080)
    times, cpus = [], []
    for e in range(args.epochs):
        c0, t0 = cpu_seconds(), time.perf_counter()
        loss, acc = epoch(x_train.shape[0])
        times.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
        print(f"# torch {args.env} epoch {e + 1}: {times[-1]:.3f} s, loss {loss:.4f}, accuracy {acc:.4f}", flush=True)
    med, best = statistics.median(times), min(times)
    n = x_train.shape[0]
    name = f"torch.{args.env}"
    print(f"RESULT {name}.mnist_train threads={args.threads} median_ms={med * 1e3:.1f} best_ms={best * 1e3:.1f} "
          f"samples_per_s={n / med:.0f} best_samples_per_s={n / best:.0f} cpu_s={statistics.median(cpus):.3f} "
          f"loss={loss:.4f} accuracy={acc:.4f}", flush=True)

    model.eval()

    preds = torch.empty(x_test.shape[0], 10)

    def predict(batch):  # outputs kept, as zen_model_predict returns them
        with torch.inference_mode():
            for i in range(0, x_test.shape[0], batch):
                preds[i:i + batch] = model(x_test[i:i + batch])

    nt = x_test.shape[0]
    for batch, reps, label in ((1000, 5, "b1000"), (1, 3, "b1")):
        with torch.inference_mode():
            for i in range(0, 2 * batch if batch > 1 else 200, batch):
                model(x_test[i:i + batch])
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            predict(batch)
            ts.append(time.perf_counter() - t0)
        m = statistics.median(ts)
        print(f"RESULT {name}.mnist_predict_{label} threads={args.threads} median_ms={m * 1e3:.1f} "
              f"images_per_s={nt / m:.0f}", flush=True)
    print(f"RESULT {name}.mnist_memory threads={args.threads} median_ms=0 "
          f"peak_rss_mb={status_mb('VmHWM'):.1f} data_rss_mb={data_rss:.1f}", flush=True)


if __name__ == "__main__":
    main()
