#!/usr/bin/env python3
"""How requests spread over time, from a stamped request log.

    spread.py WINDOW_MS TEXT LOG

Each line of LOG starts with the time it was written, in seconds since the
epoch (bash's $EPOCHREALTIME). Of the lines that contain TEXT, prints:

    COUNT SPAN_MS MOST

COUNT lines, SPAN_MS from the first to the last, and MOST, the largest
number of them within any WINDOW_MS.
"""
import sys


def main():
    window = float(sys.argv[1])
    text = sys.argv[2]
    with open(sys.argv[3]) as f:
        times = sorted(float(line.split(None, 1)[0]) * 1000 for line in f if text in line)
    most = 0
    lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        most = max(most, hi - lo + 1)
    span = times[-1] - times[0] if times else 0
    print(len(times), int(span), most)


if __name__ == "__main__":
    main()
