#!/usr/bin/env python3
"""scikit-learn side of the Random Forest benchmark (docs/BENCHMARKS.md).

Generates the same synthetic telemetry as Swift's `RandomForest.syntheticTelemetry(rows:seed:)`
(value for value: the same SplitMix64 streams, polar Box-Muller with the same portable
logarithm, the same operation order), splits it with the same stratified split as
`ClassificationMetrics.stratifiedSplit(labels:testFraction:seed:)`, fits
RandomForestClassifier(n_estimators=100, class_weight='balanced', random_state=42, n_jobs=2)
on the 80 % and prints one JSON line: fit seconds and holdout ROC-AUC, plus the number of
positives and the sum of all features so that the Swift side can confirm it saw the same data.

Usage: python3 benchmarks/sklearn_forest.py [--rows 100000] [--seed 7] [--n-jobs 2]
The seed 7 is the one `RandomForest.benchmarkFit(rows:)` uses.
"""
import argparse
import json
import math
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
STREAM_SPLIT = 0xF04E570003
STREAM_SYNTHETIC = 0xF04E570004
PUMPS = 10


def mix(value):
    """SplitMix64's finaliser of value + gamma, on Python ints (Swift's `SplitMix64.mix`)."""
    z = (value + GAMMA) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def finalise(z):
    """The SplitMix64 output function on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stream_states(seed, stream, indices):
    """Initial states of `SplitMix64(seed:stream:index:)` for every index (uint64 array)."""
    inner = mix(stream)
    with np.errstate(over="ignore"):
        z = indices.astype(np.uint64) + np.uint64(inner) + np.uint64(GAMMA)
        return finalise(np.uint64(seed) + finalise(z) + np.uint64(GAMMA))


def unit(bits):
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def portable_log(x):
    """Swift's `RandomForest.portableLog`, vectorised: the same operations in the same order."""
    m, e = np.frexp(x)
    mantissa = m * 2.0
    exponent = (e - 1).astype(np.float64)
    big = mantissa > 1.4142135623730951
    mantissa = np.where(big, mantissa * 0.5, mantissa)
    exponent = np.where(big, exponent + 1.0, exponent)
    s = (mantissa - 1.0) / (mantissa + 1.0)
    s2 = s * s
    term = s.copy()
    total = s.copy()
    denominator = 1.0
    for _ in range(12):
        term = term * s2
        denominator += 2.0
        total = total + term / denominator
    return 2.0 * total + exponent * 0.6931471805599453


def synthetic_telemetry(rows, seed):
    """The six feature columns (rows × 6) and the labels of `syntheticTelemetry(rows:seed:)`."""
    states = stream_states(seed, STREAM_SYNTHETIC, np.arange(rows, dtype=np.uint64))
    drawn = np.zeros(rows, dtype=np.uint64)  # draws taken so far by each row's stream

    def draw(idx):
        with np.errstate(over="ignore"):
            drawn[idx] += np.uint64(1)
            return finalise(states[idx] + drawn[idx] * np.uint64(GAMMA))

    def normal_pair():
        first = np.empty(rows)
        second = np.empty(rows)
        pending = np.arange(rows)
        while pending.size:
            u = 2.0 * unit(draw(pending)) - 1.0
            v = 2.0 * unit(draw(pending)) - 1.0
            s = u * u + v * v
            ok = (s > 0) & (s < 1)
            idx, u, v, s = pending[ok], u[ok], v[ok], s[ok]
            factor = np.sqrt(-2.0 * portable_log(s) / s)
            first[idx] = u * factor
            second[idx] = v * factor
            pending = pending[~ok]
        return first, second

    flow_noise, pressure_noise = normal_pair()
    vibration_noise, temperature_noise = normal_pair()
    failure = unit(draw(np.arange(rows))) < 0.05
    pressure = 5.0 + 0.5 * pressure_noise
    vibration = 2.0 + 0.3 * vibration_noise
    temperature = 45.0 + 5.0 * temperature_noise
    pressure = np.where(failure, pressure * 0.6, pressure)
    vibration = np.where(failure, vibration * 2.5, vibration)
    temperature = np.where(failure, temperature + 20.0, temperature)

    def centesimal(v):
        return np.rint(v * 100.0) / 100.0

    flow, pressure, vibration, temperature = (centesimal(500.0 + 50.0 * flow_noise), centesimal(pressure),
                                              centesimal(vibration), centesimal(temperature))

    def rolling(values):
        out = values.copy()
        out[PUMPS:2 * PUMPS] = (values[0:PUMPS] + values[PUMPS:2 * PUMPS]) / 2.0
        out[2 * PUMPS:] = (values[:-2 * PUMPS] + values[PUMPS:-PUMPS] + values[2 * PUMPS:]) / 3.0
        return out

    x = np.column_stack([flow, pressure, vibration, temperature, rolling(vibration), rolling(pressure)])
    return x, failure.astype(np.uint8)


def stratified_split(labels, test_fraction, seed):
    """`ClassificationMetrics.stratifiedSplit`: per class, Fisher-Yates with SplitMix64, round half up."""
    train, test = [], []
    for label in (0, 1):
        rows = np.flatnonzero(labels == label).tolist()
        state = mix((seed + mix((label + mix(STREAM_SPLIT)) & MASK)) & MASK)
        for i in range(len(rows) - 1, 0, -1):
            state = (state + GAMMA) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            z ^= z >> 31
            j = ((i + 1) * z) >> 64
            rows[i], rows[j] = rows[j], rows[i]
        count = math.floor(len(rows) * test_fraction + 0.5)
        test += rows[:count]
        train += rows[count:]
    return np.array(sorted(train)), np.array(sorted(test))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    x, y = synthetic_telemetry(args.rows, args.seed)
    train, test = stratified_split(y, 0.2, args.seed)
    model = RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=42, n_jobs=args.n_jobs)
    start = time.perf_counter()
    model.fit(x[train], y[train])
    seconds = time.perf_counter() - start
    auc = roc_auc_score(y[test], model.predict_proba(x[test])[:, 1])
    print(json.dumps({
        "implementation": "scikit-learn " + __import__("sklearn").__version__,
        "rows": args.rows, "train_rows": int(train.size), "n_jobs": args.n_jobs,
        "fit_seconds": round(seconds, 3), "holdout_roc_auc": auc,
        "positives": int(y.sum()), "feature_sum": float(x.sum()),
    }))


if __name__ == "__main__":
    main()
