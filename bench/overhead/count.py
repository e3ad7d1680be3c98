#!/usr/bin/env python3
"""Counts a buildtrail --events-out file for the shared bench harness:
prints `exec=N connect=N cred=N lost=N` (peers/TEMPLATE.sh SENSOR_COUNT)."""
import json
import sys

counts = {"exec": 0, "connect": 0, "cred": 0, "lost": 0}
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        e = json.loads(line)
        kind = e.get("kind")
        if kind == "process_exec":
            counts["exec"] += 1
        elif kind == "net_connect":
            counts["connect"] += 1
        elif kind == "secret_access" and e.get("data", {}).get("secret_class") not in (
                "process_memory", "metadata_endpoint"):
            counts["cred"] += 1
        elif kind == "loss":
            counts["lost"] += sum(c for c in e.get("data", {}).get("counts", {}).values())
print(" ".join(f"{k}={v}" for k, v in counts.items()))
