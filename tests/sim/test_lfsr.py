"""The stochastic-rounding LFSR: the batch `sequence` equals repeated scalar steps; the
polynomial x^32 + x^22 + x^2 + x + 1 is primitive (so the LFSR has period 2**32 - 1); and the
Galois taps constant implements that polynomial."""

from __future__ import annotations

import random

import pytest

from firmware.formats import LFSR_BITS, LFSR_DEFAULT_SEED, LFSR_POLY, LFSR_TAPS
from sim.lfsr import sequence, step

ORDER = (1 << 32) - 1
FACTORS = (3, 5, 17, 257, 65537)     # 2**32 - 1 = 3 * 5 * 17 * 257 * 65537
SEEDS = [1, 2, LFSR_DEFAULT_SEED, 0xFFFFFFFF, 0x80000000, 0x12345678, 0xDEADBEEF]


def clmul(a: int, b: int) -> int:
    """Carry-less (GF(2)[x]) product of two polynomials given as bit masks."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def polymod(a: int, p: int) -> int:
    deg = p.bit_length() - 1
    while a.bit_length() - 1 >= deg:
        a ^= p << (a.bit_length() - 1 - deg)
    return a


def mulmod(a: int, b: int, p: int) -> int:
    return polymod(clmul(a, b), p)


def powmod(a: int, e: int, p: int) -> int:
    result, a = 1, polymod(a, p)
    while e:
        if e & 1:
            result = mulmod(result, a, p)
        a = mulmod(a, a, p)
        e >>= 1
    return result


def test_arithmetic_helpers():
    assert clmul(0b11, 0b11) == 0b101                 # (x + 1)^2 = x^2 + 1 over GF(2)
    assert polymod(1 << 32, LFSR_POLY) == (1 << 22) | 0b111
    assert powmod(2, 5, 0b1011) == mulmod(4, 8, 0b1011)
    # x^3 + x + 1 is primitive of degree 3: x has order 7
    assert powmod(2, 7, 0b1011) == 1 and powmod(2, 1, 0b1011) != 1
    # x^4 + x^2 + 1 = (x^2 + x + 1)^2 is reducible: x^15 != 1 (x has order 6)
    assert powmod(2, 15, 0b10101) != 1 and powmod(2, 6, 0b10101) == 1


def test_polynomial_constant():
    assert LFSR_POLY == (1 << 32) | (1 << 22) | (1 << 2) | (1 << 1) | 1
    assert LFSR_BITS == 32


def test_polynomial_is_primitive():
    x = 0b10
    assert powmod(x, ORDER, LFSR_POLY) == 1
    assert ORDER == 3 * 5 * 17 * 257 * 65537
    for q in FACTORS:
        assert powmod(x, ORDER // q, LFSR_POLY) != 1, q


def test_taps_implement_the_polynomial():
    """Right-shift Galois step with state bit i = coefficient of x^i is multiplication by
    x^-1 mod p; x^-1 = (p - 1) / x = LFSR_POLY >> 1, which must be the taps constant."""
    assert LFSR_TAPS == LFSR_POLY >> 1 == 0x80200003
    assert mulmod(0b10, LFSR_TAPS, LFSR_POLY) == 1
    rng = random.Random(5)
    for s in SEEDS + [rng.getrandbits(32) for _ in range(200)]:
        assert step(s) == mulmod(s, LFSR_TAPS, LFSR_POLY)
        assert 0 < step(s) < 1 << 32 if s else step(s) == 0


def test_period_from_the_algebra():
    """step^k(s) = s * x^-k: k = 2**32 - 1 returns to s, no proper divisor of it does."""
    inv = LFSR_TAPS
    assert powmod(inv, ORDER, LFSR_POLY) == 1
    for q in FACTORS:
        assert powmod(inv, ORDER // q, LFSR_POLY) != 1
    s = LFSR_DEFAULT_SEED
    for k in (1, 2, 3, 1000, 70000):
        t = s
        for _ in range(k):
            t = step(t)
        assert t == mulmod(s, powmod(inv, k, LFSR_POLY), LFSR_POLY)


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 70000])
@pytest.mark.parametrize("seed", [1, LFSR_DEFAULT_SEED, 0xFFFFFFFF, 0x80000000])
def test_sequence_equals_scalar_steps(n, seed):
    draws, last = sequence(seed, n)
    assert draws.shape == (n,)
    expected, s = [], seed
    for _ in range(n):
        s = step(s)
        expected.append(s)
    assert draws.tolist() == expected
    assert last == s == int(draws[-1])
    assert draws.min() > 0 and draws.max() < 1 << 32


def test_sequence_continues_where_it_stopped():
    a, s = sequence(LFSR_DEFAULT_SEED, 777)
    b, t = sequence(s, 1234)
    c, u = sequence(LFSR_DEFAULT_SEED, 777 + 1234)
    assert a.tolist() + b.tolist() == c.tolist() and t == u


def test_sequence_of_nothing():
    draws, state = sequence(0x1234, 0)
    assert draws.size == 0 and state == 0x1234


def test_low_bits_are_balanced():
    """The draws are used through their low lr_shift bits: over 2**16 draws, each low bit is
    set about half the time (a sanity check of the rounding source, not a randomness test)."""
    draws, _ = sequence(LFSR_DEFAULT_SEED, 1 << 16)
    for bit in range(16):
        frac = ((draws >> bit) & 1).mean()
        assert abs(frac - 0.5) < 0.01, bit
