#!/usr/bin/env python3
"""Estimated device time of a render on an H100, from the device counters of its report.

usage: gpu_estimate.py REPORT.json [REPORT.json ...] [--json]

The report must come from a render on a device backend (`--backend cuda-host` on any machine, or
`cuda`), which writes lacquer.device_counters (docs/architecture.md "The device interface"). The
model, to rank designs before a GPU is at hand and to compare with measurement the first day one
is (its figures are assumptions, not measurements):

  kernels   kernel_bytes / 3.0 TB/s   (HBM3, device-to-device copy rate; bytes estimated per launch
                                       by dev::bytes_touched: each array element once)
  launches  launches x 4 us            (launch latency; every launch counted at least this long)
  FFTs      fft_bytes / 3.0 TB/s       (cuFFT's batched float32 R2C/C2R runs near memory bandwidth
                                       for these sizes: its published throughput; two passes
                                       over the data for K > 4096)
  PCIe      (h2d + d2h) / 25 GB/s      (pinned memory, Gen5 x16, one direction at a time)
  syncs     syncs x 15 us              (a stream synchronisation's round trip)

Host stages (decode, the master's verify, encode) are not device time: the report's timing_s gives
them, and in a batch they overlap the device work of other songs.
"""
import json
import sys

HBM = 3.0e12
PCIE = 25e9
LAUNCH = 4e-6
SYNC = 15e-6


def estimate(counters):
    parts = {
        "kernels": counters["kernel_bytes"] / HBM,
        "launches": counters["launches"] * LAUNCH,
        "ffts": counters["fft_bytes"] / HBM,
        "pcie": (counters["h2d_bytes"] + counters["d2h_bytes"]) / PCIE,
        "syncs": counters["syncs"] * SYNC,
    }
    parts["total"] = sum(parts.values())
    return parts


def main(argv):
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    rows = []
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        counters = report.get("lacquer", {}).get("device_counters")
        if counters is None:
            print(f"gpu_estimate: {path}: no lacquer.device_counters (render with --backend cuda-host or cuda)",
                  file=sys.stderr)
            return 1
        parts = estimate(counters)
        host = {k: v for k, v in report.get("timing_s", {}).items()
                if k in ("decode", "reconstruction_bound", "quantise_measure_encode")}
        rows.append({"report": path, "counters": counters, "estimate_s": parts, "host_stages_s": host,
                     "songs_per_hour_device_only": 3600.0 / parts["total"] if parts["total"] > 0 else None})
    if "--json" in argv:
        print(json.dumps(rows, indent=1))
        return 0
    print("| report | kernels (ms) | launches (ms) | FFTs (ms) | PCIe (ms) | syncs (ms) | device total (ms) | songs/h (device only) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e = r["estimate_s"]
        print(f"| {r['report']} | {e['kernels'] * 1e3:.2f} | {e['launches'] * 1e3:.2f} | {e['ffts'] * 1e3:.2f} | "
              f"{e['pcie'] * 1e3:.2f} | {e['syncs'] * 1e3:.2f} | {e['total'] * 1e3:.1f} | "
              f"{r['songs_per_hour_device_only']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
