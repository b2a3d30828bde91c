"""Names and small helpers that the other modules share: the annotations
and labels the server and the real controllers use, times as the API
server writes them, hashes and random name suffixes, canonical JSON and
Go-style omission of zero values.
"""

import datetime
import hashlib
import json
import random
import time


ANN_PREFIX = "fake-apiserver.lockstep.dev/"
ANN_FAIL = ANN_PREFIX + "fail"
ANN_READY = ANN_PREFIX + "pod-ready-seconds"
REV_ANN = "deployment.kubernetes.io/revision"
REV_HISTORY_ANN = "deployment.kubernetes.io/revision-history"
DESIRED_ANN = "deployment.kubernetes.io/desired-replicas"
MAX_ANN = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
HASH_LABEL = "pod-template-hash"
CR_HASH_LABEL = "controller-revision-hash"
SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_ts(t=None):
    """RFC 3339 UTC time with seconds, as the API server writes it."""
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return time.time()


def short_age(seconds):
    """Age as kubectl prints it: 5s, 3m, 2h, 4d."""
    s = max(0, int(seconds))
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    if s < 48 * 3600:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def safe_hash(data, n=10):
    digest = hashlib.sha256(data.encode()).digest()
    return "".join(SAFE_CHARS[b % len(SAFE_CHARS)] for b in digest[:n])


def rand_suffix(n=5):
    return "".join(random.choice(SAFE_CHARS) for _ in range(n))


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def omit_zero(d):
    return {k: v for k, v in d.items() if v not in (0, None, "", [], {})}
