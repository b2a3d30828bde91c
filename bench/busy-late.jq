# The lateness of the probes of a bench/gen-busy.sh pipeline, from its
# `--json` events read with `jq -rs --argjson t TIMEOUT_MS`: one line per
# timeout, "step LATE STATUS" (the probe's duration_ms minus the timeout)
# or "barrier LATE" (barrier.broken minus early's barrier.arrived minus the
# timeout), then "events N". Used by bench/busy-bench.sh and figure 12 of
# bench/run-bench.sh.
def ms: (.ts[0:19] + "Z" | fromdateiso8601) * 1000 + (.ts[20:23] | tonumber);
map(. + {ms: ms}) as $ev
| ($ev | map(select(.event == "step.finished" and (.step | startswith("slow-"))))[]
   | "step \(.duration_ms - $t) \(.status)"),
  (($ev | map(select(.event == "barrier.arrived" and .workflow == "early")) | first) as $a
   | ($ev | map(select(.event == "barrier.broken")) | first) as $b
   | "barrier \($b.ms - $a.ms - $t)"),
  "events \(length)"
