#!/usr/bin/env python3
"""Counts a buildtrail --events-out file for the shared bench harness:
prints `exec=N connect=N cred=N lost=N` (peers/TEMPLATE.sh SENSOR_COUNT).

--daemon: the file is a daemon's, whose runner (the harness's peer script)
also starts helper commands (its readiness polls, its stop loop); only the
workload's process tree counts: the build whose first exec runs a script
under workloads/, and every process descended from it."""
import json
import sys

daemon = "--daemon" in sys.argv[1:]
path = [a for a in sys.argv[1:] if not a.startswith("--")][0]
events = [json.loads(line) for line in open(path, encoding="utf-8")]

keep = None
if daemon:
    runner_keys = {e["process"].get("key") for e in events if e.get("kind") == "build_start"}
    parent = {}
    roots = set()
    for e in events:
        p = e.get("process", {})
        if p.get("key") and p.get("parent_key"):
            parent.setdefault(p["key"], p["parent_key"])
        if (e.get("kind") == "process_exec" and p.get("parent_key") in runner_keys
                and any("/workloads/" in a for a in e.get("data", {}).get("argv", []))):
            roots.add(p["key"])

    def in_workload(key, seen=0):
        while key and seen < 10000:
            if key in roots:
                return True
            key, seen = parent.get(key), seen + 1
        return False
    keep = in_workload

counts = {"exec": 0, "connect": 0, "cred": 0, "lost": 0}
for e in events:
    kind = e.get("kind")
    if kind == "loss":
        counts["lost"] += sum(c for c in e.get("data", {}).get("counts", {}).values())
        continue
    if keep and not keep(e.get("process", {}).get("key")):
        continue
    if kind == "process_exec":
        counts["exec"] += 1
    elif kind == "net_connect":
        counts["connect"] += 1
    elif kind == "secret_access" and e.get("data", {}).get("secret_class") not in (
            "process_memory", "metadata_endpoint"):
        counts["cred"] += 1
print(" ".join(f"{k}={v}" for k, v in counts.items()))
