#!/usr/bin/env python3
"""The Python original's extract + transform + load, for side-by-side timing with `cidp up`.

pandas + SQLAlchemy `to_sql`, as in the original `run_industrial_platform.py`: pull every page
of the sensor API, build the DataFrame, dropna, rolling means of vibration and pressure over the
last 3 readings per pump in timestamp order, and load the fact table into SQLite.

    python3 benchmarks/original_etl.py --source http://127.0.0.1:PORT --db /tmp/original.sqlite

Prints one JSON line: {"rows": N, "extract_s": …, "transform_s": …, "load_s": …, "total_s": …}.
Needs pandas, numpy and SQLAlchemy (pip install pandas sqlalchemy).
"""
import argparse
import json
import os
import time
import urllib.request

import pandas as pd
from sqlalchemy import create_engine


def extract(source: str, page_size: int) -> pd.DataFrame:
    rows, cursor = [], None
    while True:
        url = f"{source}/v1/telemetry?limit={page_size}" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            page = json.loads(response.read())
        rows.extend(page["records"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pd.DataFrame(rows)


def transform(df: pd.DataFrame) -> pd.DataFrame:
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df = df.dropna()
    df = df.sort_values(["pump_id", "timestamp"])
    grouped = df.groupby("pump_id")
    df["vibration_rolling_mean"] = grouped["vibration"].rolling(3, min_periods=1).mean().reset_index(level=0, drop=True)
    df["pressure_rolling_mean"] = grouped["pressure"].rolling(3, min_periods=1).mean().reset_index(level=0, drop=True)
    return df


def load(df: pd.DataFrame, db: str) -> None:
    engine = create_engine(f"sqlite:///{db}")
    df.to_sql("fact_telemetry_features", engine, if_exists="replace", index=False)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    if os.path.exists(args.db):
        os.remove(args.db)
    start = time.perf_counter()
    df = extract(args.source, args.page_size)
    extracted = time.perf_counter()
    df = transform(df)
    transformed = time.perf_counter()
    load(df, args.db)
    loaded = time.perf_counter()
    print(json.dumps({"rows": len(df), "extract_s": extracted - start, "transform_s": transformed - extracted,
                      "load_s": loaded - transformed, "total_s": loaded - start}))


if __name__ == "__main__":
    main()
