#!/usr/bin/python3
"""Fits the erf and erfc polynomials of src/ops/vmath.h.

Run with Debian's python3 (numpy and mpmath):  /usr/bin/python3 tools/vmath_fit.py

  erf, |x| <= 0.875:    erf(x) = x + x Q(x^2)          Q of degree 5, relative weight
  erfc, a >= 0.875:     erfc(a) = t R(t) exp(-a^2)     t = 1 / (1 + a/2), R of degree 7,
                                                       relative, on [0.875, 10.25]

Near-minimax fits by Lawson's iteratively reweighted least squares on a dense grid, with
mpmath (40 digits) for the reference values. Prints the coefficients (highest degree
first, as vmath.h evaluates them) and the fit error before rounding to float; the float
evaluation is checked by tests/ops/test_vmath.c.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
SPLIT, AMAX = 0.875, 10.25


def lawson(xs, fs, basis, weights, iters=200):
    """Coefficients minimizing (nearly) max |w (f - sum c_k basis_k)| over the grid."""
    A = np.array([[b(x) for b in basis] for x in xs])
    f, w = np.asarray(fs), np.asarray(weights)
    lw = np.full(len(xs), 1.0 / len(xs))
    for _ in range(iters):
        sw = np.sqrt(lw) * w
        c, *_ = np.linalg.lstsq(A * sw[:, None], f * sw, rcond=None)
        e = np.abs((f - A @ c) * w)
        lw = lw * e
        lw /= lw.sum()
    return c, e.max()


def show(name, c, err):
    print(f"{name}: max weighted fit error {err:.2e}")
    for v in reversed(c):
        print(f"    {v:.9e}f")


def main():
    # erf(x)/x - 1 = Q(x^2), weighted relative to erf(x)/x
    xs = np.linspace(1e-4, SPLIT, 3000)
    g = [float(mp.erf(x) / x) for x in xs]
    c, err = lawson(xs, [v - 1 for v in g], [lambda x, k=k: x ** (2 * k) for k in range(6)], [1 / v for v in g])
    show("erf small Q(z), z = x^2", c, err)

    # erfc(a) exp(a^2) / t = R(t), relative
    a = np.linspace(SPLIT, AMAX, 4000)
    t = 1 / (1 + 0.5 * a)
    r = [float(mp.erfc(x) * mp.exp(mp.mpf(x) ** 2) * (1 + mp.mpf(x) / 2)) for x in a]
    c, err = lawson(t, r, [lambda v, k=k: v ** k for k in range(8)], [1 / v for v in r])
    show("erfc R(t), t = 1/(1 + a/2)", c, err)


if __name__ == "__main__":
    main()
