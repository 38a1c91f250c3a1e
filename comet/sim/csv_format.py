"""Fast ``%g`` formatting of numeric CSV blocks (the trace rows of :mod:`comet.sim.results`).

:func:`format_rows` returns exactly the text of ``np.savetxt(buf, block, fmt=["%.<p>g", ...],
delimiter=",")`` with ``nan`` written as an empty field (what the trace files have always held),
but formats the numbers in one compiled pass instead of one Python ``%`` per value: the CSV
rows were the largest cost of the closed loop outside the thermal step.

How a number is rounded to ``p`` significant digits exactly as C's ``printf`` does: with the
decimal exponent ``x`` (``10^x <= |v| < 10^(x+1)``), ``y = |v| * 10^(p-1-x)`` is computed with
one correctly rounded multiplication or division by an exact power of ten (``|p-1-x| <= 22``),
so ``y`` is within half an ulp (< 1e-7 for ``p <= 9``) of the exact scaled value, and
``rint(y)`` is the correctly rounded digit string unless the exact value lies within that error
of a half-integer. Such near-ties, magnitudes outside [1e-22, 1e22) and precisions above 9 are
left to Python's own formatting (rare: a few values in a million).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["format_rows"]

#: the largest precision the compiled path takes (``y`` < 10**9 keeps the error below 1e-7)
MAX_PRECISION = 9
#: distance from a half-integer (in units of the last digit) below which Python decides
_TIE_MARGIN = 1e-6
#: exact powers of ten 10^0 .. 10^22
_POW10 = np.array([10.0**i for i in range(23)])
#: bytes per value at most: sign, "0.000", p digits, or d.ddd, "e-", 3 exponent digits; comma
_WIDTH = MAX_PRECISION + 8
_FALLBACK = 1  # byte marking a value Python formats


@njit(cache=True)
def _scaled(a: float, x: int, p: int, pow10: np.ndarray) -> float:  # pragma: no cover - compiled
    """``a * 10^(p-1-x)`` with one rounding (the power of ten is exact)."""
    k = p - 1 - x
    if k >= 0:
        return a * pow10[k]
    return a / pow10[-k]


@njit(cache=True)
def _format_kernel(
    block: np.ndarray,
    precision: np.ndarray,
    pow10: np.ndarray,
    out: np.ndarray,
    fallback: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Write the CSV text of ``block`` (rows, cols) into ``out`` (bytes).

    Values the kernel does not format are written as one ``_FALLBACK`` byte and their flat
    indices (``row * cols + col``) stored in ``fallback``. Returns the text length and the
    number of such values.
    """
    digits = np.zeros(MAX_PRECISION, dtype=np.int64)
    pos = 0
    n_fallback = 0
    n_rows, n_cols = block.shape
    for i in range(n_rows):
        for j in range(n_cols):
            if j > 0:
                out[pos] = 44  # ","
                pos += 1
            v = block[i, j]
            p = precision[j]
            if v != v:  # NaN: an empty field
                continue
            neg = v < 0.0 or (v == 0.0 and np.signbit(v))
            a = abs(v)
            if neg:
                out[pos] = 45  # "-"
                pos += 1
            if a == np.inf:
                out[pos] = 105  # "inf"
                out[pos + 1] = 110
                out[pos + 2] = 102
                pos += 3
                continue
            if a == 0.0:
                out[pos] = 48
                pos += 1
                continue
            ok = 1 <= p <= MAX_PRECISION and 1e-22 <= a < 1e22
            lo = pow10[p - 1] if ok else 0.0
            hi = pow10[p] if ok else 0.0
            x = 0
            y = 0.0
            d = 0.0
            if ok:
                x = 0  # decimal exponent: 10^x <= a < 10^(x+1), fixed below if one off
                if a >= 1.0:
                    while x < 21 and a >= pow10[x + 1]:
                        x += 1
                else:
                    x = -1
                    while x > -22 and a * pow10[-x] < 1.0:
                        x -= 1
                for _ in range(2):  # log10 may be one off; rounding may carry to 10^p
                    if abs(p - 1 - x) > 22:
                        ok = False
                        break
                    y = _scaled(a, x, p, pow10)
                    d = np.rint(y)
                    if abs(y - np.floor(y) - 0.5) <= _TIE_MARGIN:  # also decides a carry
                        ok = False
                        break
                    if d >= hi:
                        x += 1
                    elif d < lo:
                        x -= 1
                    else:
                        break
                ok = ok and lo <= d < hi
            if not ok:
                if neg:
                    pos -= 1  # Python writes the sign
                out[pos] = _FALLBACK
                pos += 1
                fallback[n_fallback] = i * n_cols + j
                n_fallback += 1
                continue
            n = int(d)
            for q in range(p - 1, -1, -1):
                digits[q] = n % 10
                n //= 10
            nz = p  # significant digits left once trailing zeros are dropped
            while nz > 1 and digits[nz - 1] == 0:
                nz -= 1
            if -4 <= x < p:  # fixed notation with p - 1 - x decimals
                if x >= 0:
                    for q in range(x + 1):
                        out[pos] = 48 + digits[q]
                        pos += 1
                    if nz > x + 1:
                        out[pos] = 46  # "."
                        pos += 1
                        for q in range(x + 1, nz):
                            out[pos] = 48 + digits[q]
                            pos += 1
                else:
                    out[pos] = 48
                    out[pos + 1] = 46
                    pos += 2
                    for _ in range(-x - 1):
                        out[pos] = 48
                        pos += 1
                    for q in range(nz):
                        out[pos] = 48 + digits[q]
                        pos += 1
            else:  # exponent notation d.ddde+XX
                out[pos] = 48 + digits[0]
                pos += 1
                if nz > 1:
                    out[pos] = 46
                    pos += 1
                    for q in range(1, nz):
                        out[pos] = 48 + digits[q]
                        pos += 1
                out[pos] = 101  # "e"
                out[pos + 1] = 45 if x < 0 else 43
                pos += 2
                e = abs(x)
                if e >= 100:
                    out[pos] = 48 + e // 100
                    pos += 1
                out[pos] = 48 + (e // 10) % 10
                out[pos + 1] = 48 + e % 10
                pos += 2
        out[pos] = 10  # "\n"
        pos += 1
    return pos, n_fallback


def format_rows(block: np.ndarray, precision: np.ndarray) -> str:
    """CSV text of a block of numbers, one line per row, ``%.<p>g`` per column.

    Args:
        block: (rows, cols) values; NaN is written as an empty field.
        precision: (cols,) significant digits of each column (``p`` of ``%.<p>g``).

    Returns:
        The text, each row ended by ``"\\n"``; identical to ``np.savetxt`` with these formats
        and ``","`` as delimiter, ``nan`` fields emptied.
    """
    values = np.ascontiguousarray(block, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError("format_rows needs a 2-D block")
    prec = np.ascontiguousarray(precision, dtype=np.int64)
    if prec.shape != (values.shape[1],):
        raise ValueError("format_rows needs one precision per column")
    out = np.empty(values.shape[0] * (values.shape[1] * _WIDTH + 1), dtype=np.uint8)
    fallback = np.empty(values.size, dtype=np.int64)
    n, n_fallback = _format_kernel(values, prec, _POW10, out, fallback)
    text = out[:n].tobytes().decode("ascii")
    if n_fallback == 0:
        return text
    # the rare values the kernel leaves to Python (near-ties, extreme exponents)
    parts = text.split(chr(_FALLBACK))
    flat = values.reshape(-1)
    n_cols = values.shape[1]
    rest = [f"%.{prec[k % n_cols]}g" % flat[k] for k in fallback[:n_fallback].tolist()]
    return "".join(p + r for p, r in zip(parts, [*rest, ""], strict=True))
