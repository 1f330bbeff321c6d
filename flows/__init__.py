"""Prefect flows around the `m5ser` library: `build-m5ser` (build_m5ser.py) and `train-m5ser` (train.py)."""
