#!/usr/bin/env python3
"""Generates the pandas rolling-mean fixture embedded in
Tests/WorkersTests/TransformPandasFixture.swift.

A deterministic dataset of 200 rows over 5 pumps (40 hours), timestamps interleaved
across pumps in source order, with a few missing readings (NaN), runs of equal values and
awkward magnitudes. pandas computes the features as the original pipeline does:

    df.dropna().sort_values(['pump_id', 'timestamp'])
      .groupby('pump_id')[col].rolling(3, min_periods=1).mean()

Output: CSV on stdout in source (timestamp) order, doubles with 17 significant digits,
empty means for dropped rows. Usage: python3 benchmarks/rolling_fixture.py > fixture.csv
"""
import numpy as np
import pandas as pd

PUMPS = 5
HOURS = 40
rng = np.random.default_rng(20240611)

rows = []
for hour in range(HOURS):
    for pump in range(1, PUMPS + 1):
        # Offsets within the hour shuffle the pumps' order hour by hour.
        ts = 1_700_000_000 + hour * 3600 + int(rng.integers(0, 3000))
        failure = int(rng.random() < 0.05)
        flow = rng.normal(500, 50)
        pressure = rng.normal(5, 0.5) * (0.6 if failure else 1)
        vibration = rng.normal(2, 0.3) * (2.5 if failure else 1)
        temperature = rng.normal(45, 5) + (20 if failure else 0)
        rows.append([ts, f"P_{pump:03d}", flow, pressure, vibration, temperature, failure])

df = pd.DataFrame(rows, columns=["timestamp", "pump_id", "flow_rate", "pressure",
                                 "vibration", "temperature", "failure"])
df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)

# Awkward values, all within the validation ranges.
p1 = df.index[df.pump_id == "P_001"]
df.loc[p1[3:7], "vibration"] = 0.1          # a run of equal values
df.loc[p1[7], "vibration"] = 0.2
df.loc[p1[8], "vibration"] = 0.3
p2 = df.index[df.pump_id == "P_002"]
df.loc[p2[5], "pressure"] = 1e-9
df.loc[p2[6], "pressure"] = 49.999999999
df.loc[p2[7], "pressure"] = 1e-9
df.loc[p2[10:13], "vibration"] = 0.0         # zeros, then a value
df.loc[p2[13], "vibration"] = 99.99999999999
p3 = df.index[df.pump_id == "P_003"]
df.loc[p3[0], "pressure"] = 0.1
df.loc[p3[1], "pressure"] = 0.7
df.loc[p3[2], "pressure"] = 0.2
# Missing readings: pandas' dropna removes these rows before the rolling means.
df.loc[p3[4], "vibration"] = np.nan
p4 = df.index[df.pump_id == "P_004"]
df.loc[p4[0], "pressure"] = np.nan
df.loc[p4[9], "flow_rate"] = np.nan
p5 = df.index[df.pump_id == "P_005"]
df.loc[p5[20], "temperature"] = np.nan

clean = df.dropna().sort_values(["pump_id", "timestamp"])
grouped = clean.groupby("pump_id")
for col in ["vibration", "pressure"]:
    means = grouped[col].rolling(3, min_periods=1).mean()
    df[f"{col}_rolling_mean"] = means.reset_index(level=0, drop=True)

def fmt(x):
    return "" if pd.isna(x) else format(float(x), ".17g")

print("timestamp,pump_id,flow_rate,pressure,vibration,temperature,failure,"
      "vibration_rolling_mean,pressure_rolling_mean")
for r in df.itertuples(index=False):
    print(",".join([str(r.timestamp), r.pump_id, fmt(r.flow_rate) or "nan", fmt(r.pressure) or "nan",
                    fmt(r.vibration) or "nan", fmt(r.temperature) or "nan", str(r.failure),
                    fmt(r.vibration_rolling_mean), fmt(r.pressure_rolling_mean)]))
