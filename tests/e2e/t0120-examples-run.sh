#!/bin/bash
# t0120-examples-run: `lockstep run` on the two examples that t0100 and
# t0220 only check and plan, each copied into a scratch directory (the
# steps write under the pipeline's directory: deploy-root/, results/):
#
# examples/multi-region (one state directory, runs 1 to 4 in order):
#   1. mr-success: exit 0; three matrix instances of deploy, then
#      global-check; every install ends before all-deployed passes, no
#      switch starts before it, all-switched passes after every switch;
#      every region serves 2.0.0 (current -> releases/2.0.0, its page);
#      no rollback;
#   2. mr-fail-region (--var fail_region=us-east, version 2.1.0): us-east's
#      install fails, all-deployed breaks naming it, the other regions fail
#      at the barrier, nobody switches, all three roll back, and no cleanup
#      starts before every revert finished (rollback barrier all-reverted);
#      every region still serves 2.0.0 and 2.1.0 is gone; global-check is
#      skipped; exit 1;
#   3. mr-global-check-fails (version 2.2.0): the example has no var or
#      environment variable that makes check-regions.sh fail, so us-east gets a
#      stale, broken release 2.2.0 beforehand (install.sh keeps an
#      installed release): every region switches, global-check finds that
#      us-east does not serve 2.2.0, and the pipeline's on-failure:
#      rollback-all rolls the three succeeded deploys back; every region
#      serves 2.0.0 again and 2.2.0 is deleted everywhere; exit 1;
#   4. mr-redeploy: 2.2.0 again, now without the broken release: exit 0.
#
# examples/compatibility (its own state directory):
#   5. co-compatible (version 3.2.0): exit 0; eight matrix instances; all
#      of them arrive at all-probed before any writes its part; the report
#      has one row per environment, all compatible;
#   6. co-rc1 (--var version=3.3.0-rc1): exit 1 (report.sh); the four Java
#      21 environments are marked with the known issue of known-issues.txt
#      and the note that java=21 explains it;
#   7. co-rc2 (--var version=3.3.0-rc2): exit 1; only debian-12.5 with Java
#      21 fails, and no single dimension explains it;
#   8. co-no-probe (KNOWN_ISSUES names a missing file): every probe fails,
#      and, ignored (on-failure: ignore), withdraws from all-probed instead
#      of breaking it; nobody writes a part; the report names the eight
#      environments, none with a result, and fails the run: exit 1;
#   9. co-one-missing: one probe cannot write its result at all; the report
#      still names its environment (registered first): exit 1.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
#
# The jq programs below are in single quotes on purpose ($w is jq's).
# shellcheck source-path=SCRIPTDIR disable=SC2016
set -u
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=run/lib.sh
. "$E2E_DIR/run/lib.sh"

# What the example scripts read from the environment, besides what the
# pipelines set themselves.
unset DEPLOY_ROOT KNOWN_ISSUES RESULTS FAIL_REGION REGION VERSION ENV_ID LOCKSTEP_STATE

copy_example multi-region "$tmp/mr"
copy_example compatibility "$tmp/co"
root=$tmp/mr/deploy-root
REGIONS=(eu-west us-east ap-south)

line_count_is() { # FILE LINE N: FILE has exactly N lines equal to LINE
	local n
	[ -f "$1" ] || { echo "  (no file $1)"; return 1; }
	n=$(grep -cxF -- "$2" "$1")
	[ "$n" -eq "$3" ] || { echo "  ($n lines '$2' in ${1##*/}, want $3)"; return 1; }
}

# For the multi-region checks: R, the regions; D, their deploy instances;
# Fs(s) and Ss(s), the step.finished and step.started of step s of every
# instance (null where there is none); seqs(x), their seq numbers when all
# of them exist (else an error); max_lt(x; y): every event of x came
# before every event of y.
MR_DEFS='
def R: ["eu-west", "us-east", "ap-south"];
def D: R | map("deploy[region=" + . + "]");
def Fs(s): [D[] as $w | F($w; s)];
def Ss(s): [D[] as $w | S($w; s)];
def seqs(x): if (x | length) > 0 and all(x[]; type == "object") then x | map(.seq) else error("missing events") end;
def max_lt(x; y): (seqs(x) | max) < (seqs(y) | min);
def WFs(w): [.[] | select(.event == "workflow.finished" and .workflow == w) | .status];
'

# region_serves REGION VERSION: REGION's current is releases/VERSION and its
# page says so.
region_serves() {
	link_is "$root/$1/current" "releases/$2" &&
		file_has "$root/$1/current/index.html" "region $1, version $2<" &&
		[ "$(cat "$root/$1/current/VERSION")" = "$2" ]
}
all_regions_serve() {
	local r
	for r in "${REGIONS[@]}"; do
		region_serves "$r" "$1" || { echo "  ($r: current -> $(readlink "$root/$r/current" 2>/dev/null))"; return 1; }
	done
}
no_region_has() { # VERSION: no region has release VERSION any more
	local r
	for r in "${REGIONS[@]}"; do
		[ ! -e "$root/$r/releases/$1" ] || { echo "  ($r still has releases/$1)"; return 1; }
	done
}
no_undo_record() {
	local r
	for r in "${REGIONS[@]}"; do
		[ ! -e "$root/$r/previous" ] || { echo "  ($r/previous is left: $(tr '\n' ' ' <"$root/$r/previous"))"; return 1; }
	done
}
# all_logs_have STEP TEXT: the log of STEP of every deploy instance has
# TEXT, where %r stands for the region.
all_logs_have() {
	local r
	for r in "${REGIONS[@]}"; do
		file_has "$(log_of "deploy[region=$r]" "$1")" "${2//%r/$r}" ||
			{ echo "  (deploy[region=$r]/$1: no '${2//%r/$r}')"; return 1; }
	done
}

# ---- 1. multi-region succeeds ----
scenario mr-success
run_json mr/pipeline.yml
expect_rc 0
check_stream
check "run 1 of pipeline multi-region, succeeded" \
	'.[0].run == 1 and .[0].pipeline == "multi-region" and RF.status == "succeeded"'
check "group 0: the three matrix instances of deploy; group 1: global-check" \
	"$MR_DEFS"'ev("group.started") | map([.group, (.workflows | sort)]) == [[0, (D | sort)], [1, ["global-check"]]]'
check "exactly four workflows started: the three deploys and global-check" \
	"$MR_DEFS"'(ev("workflow.started") | map(.workflow) | sort) == (D + ["global-check"] | sort)'
check "every install succeeded, then arrived at all-deployed" \
	"$MR_DEFS"'all(Fs("install")[]; .status == "succeeded" and .exit_code == 0) and all(D[] as $w | lt(F($w; "install"); A("all-deployed"; $w)); .)'
check "all-deployed passes once, after every install finished, with the three regions" \
	"$MR_DEFS"'(ev("barrier.passed") | map(select(.barrier == "all-deployed")) | length) == 1 and max_lt(Fs("install"); [P("all-deployed")]) and (P("all-deployed").participants | sort) == (D | sort)'
check "no switch starts before all-deployed passed" \
	"$MR_DEFS"'max_lt([P("all-deployed")]; Ss("switch"))'
check "every switch succeeded, then arrived at all-switched" \
	"$MR_DEFS"'all(Fs("switch")[]; .status == "succeeded" and .exit_code == 0) and all(D[] as $w | lt(F($w; "switch"); A("all-switched"; $w)); .)'
check "all-switched passes after every switch finished, with the three regions" \
	"$MR_DEFS"'max_lt(Fs("switch"); [P("all-switched")]) and (P("all-switched").participants | sort) == (D | sort)'
check "the barrier steps end after their barrier passed" \
	"$MR_DEFS"'max_lt([P("all-deployed")]; Fs("step-2")) and max_lt([P("all-switched")]; Fs("step-4")) and all((Fs("step-2") + Fs("step-4"))[]; .status == "succeeded")'
check "global-check starts after every deploy finished, and succeeds" \
	"$MR_DEFS"'max_lt([D[] as $w | WF($w)]; [WS("global-check")]) and F("global-check"; "step-1").status == "succeeded" and F("global-check"; "step-1").exit_code == 0'
check "all four workflows succeeded, once each" \
	'(ev("workflow.finished") | map([.workflow, .status, .reason]) | sort) == [["deploy[region=ap-south]", "succeeded", null], ["deploy[region=eu-west]", "succeeded", null], ["deploy[region=us-east]", "succeeded", null], ["global-check", "succeeded", null]]'
check "no rollback: no workflow.rollback, no rollback step, nothing at all-reverted, nothing broken" \
	'(ev("workflow.rollback") | length) == 0 and ([.[] | select(.rollback == true)] | length) == 0 and ([.[] | select(.barrier == "all-reverted")] | length) == 0 and (ev("barrier.broken") | length) == 0'
expect "every region serves 2.0.0 (current, index.html, VERSION)" all_regions_serve 2.0.0
expect "each switch log: serving 2.0.0, nothing served before" \
	all_logs_have switch "switch-traffic.sh: %r: serving 2.0.0 (was: nothing)"
undo_is() { # REGION RUN PREVIOUS: REGION/previous records that switch
	[ "$(cat "$root/$1/previous" 2>/dev/null)" = "$(printf 'run=%s\nprevious=%s' "$2" "$3")" ]
}
expect "us-east/previous is run=1, previous= (empty)" undo_is us-east 1 ""
expect "each install log says the release was installed" \
	all_logs_have install "install.sh: %r: release 2.0.0 installed"
for r in "${REGIONS[@]}"; do
	expect "global-check saw $r serve 2.0.0" \
		file_has "$(log_of global-check step-1)" "check-regions.sh: ok: $r serves 2.0.0"
done
expect "steps ran in the pipeline's directory (no deploy-root in the cwd)" test ! -e "$tmp/deploy-root"

# ---- 2. one region's install fails ----
scenario mr-fail-region
run_json mr/pipeline.yml --var fail_region=us-east --var version=2.1.0
expect_rc 1
check_stream
US='deploy[region=us-east]'
BREAK_CAUSE="workflow $US failed at step 'install' (exit status 1)"
BREAK_MSG="barrier all-deployed (The release is installed in every region) broken: $BREAK_CAUSE"
check "run 2 failed" '.[0].run == 2 and RF.status == "failed"'
check "us-east's install fails with exit status 1; the others' succeed" \
	"$MR_DEFS"'F("'"$US"'"; "install").status == "failed" and F("'"$US"'"; "install").exit_code == 1 and ([Fs("install")[] | select(.workflow != "'"$US"'") | .status] == ["succeeded", "succeeded"])'
check "all-deployed breaks after that failure, reason and origin naming us-east" \
	"lt(F(\"$US\"; \"install\"); B(\"all-deployed\")) and B(\"all-deployed\").reason == \"$BREAK_CAUSE\" and B(\"all-deployed\").origin == \"$US\""
check "us-east never arrives; all-deployed and all-switched never pass" \
	"A(\"all-deployed\"; \"$US\") == null and ([ev(\"barrier.passed\")[] | select(.barrier != \"all-reverted\")] | length) == 0"
check "all-switched breaks too, with the same cause (us-east can never reach it)" \
	"B(\"all-switched\").reason == \"$BREAK_CAUSE\""
check "eu-west and ap-south fail at all-deployed, after the break" \
	'all(("deploy[region=eu-west]", "deploy[region=ap-south]") as $w | lt(B("all-deployed"); F($w; "step-2")) and F($w; "step-2").status == "failed"; .)'
check "nobody switches traffic" \
	'[.[] | select(.event == "step.started" and (.step == "switch" or .step == "step-4"))] == []'
check "eu-west and ap-south roll back with the barrier's message" \
	"all((\"deploy[region=eu-west]\", \"deploy[region=ap-south]\") as \$w | WR(\$w).reason == \"$BREAK_MSG\" and lt(F(\$w; \"step-2\"); WR(\$w)); .)"
check "us-east rolls back with its own failure" \
	"WR(\"$US\").reason == \"failed at step 'install' (exit status 1)\" and lt(F(\"$US\"; \"install\"); WR(\"$US\"))"
check "every region runs revert, rollback-2 (the barrier) and cleanup, flagged rollback, all succeeded" \
	"$MR_DEFS"'all(D[] as $w | [of($w)[] | select(.event == "step.started")] | map([.step, .rollback == true]) == (if $w == "'"$US"'" then [["install", false]] else [["install", false], ["step-2", false]] end) + [["revert", true], ["rollback-2", true], ["cleanup", true]]; .) and all((Fs("revert") + Fs("rollback-2") + Fs("cleanup"))[]; .status == "succeeded" and .rollback == true)'
check "all-reverted passes with the three regions, after every revert finished" \
	"$MR_DEFS"'(P("all-reverted").participants | sort) == (D | sort) and max_lt(Fs("revert"); [P("all-reverted")]) and all(D[] as $w | lt(F($w; "revert"); A("all-reverted"; $w)); .)'
check "no cleanup starts before every region's revert finished and all-reverted passed" \
	"$MR_DEFS"'max_lt(Fs("revert"); Ss("cleanup")) and max_lt([P("all-reverted")]; Ss("cleanup"))'
check "all three end rolled-back, eu-west and ap-south with the barrier's message" \
	"$MR_DEFS"'all(D[] as $w | WFs($w) == ["rolled-back"]; .) and WF("deploy[region=eu-west]").reason == "'"$BREAK_MSG"'"'
check "global-check is skipped: never started, no group 1" \
	'WF("global-check").status == "skipped" and (of("global-check") | map(.event)) == ["workflow.finished"] and ([ev("group.started")[].group]) == [0]'
expect "us-east's install log: it failed as asked, changing nothing" \
	file_has "$(log_of "$US" install)" "install.sh: error: us-east: failing as asked (FAIL_REGION=us-east); nothing was changed"
expect "eu-west really installed 2.1.0 during the run" \
	file_has "$(log_of 'deploy[region=eu-west]' install)" "install.sh: eu-west: release 2.1.0 installed"
expect "ap-south really installed 2.1.0 during the run" \
	file_has "$(log_of 'deploy[region=ap-south]' install)" "install.sh: ap-south: release 2.1.0 installed"
expect "every revert got LOCKSTEP_FAILURE and found no switch to undo" \
	all_logs_have revert "rollback.sh: %r: traffic was not switched; nothing to move back"
expect "eu-west's revert got the barrier's message as LOCKSTEP_FAILURE" \
	file_has "$(log_of 'deploy[region=eu-west]' revert)" "(reason: $BREAK_MSG)"
expect "eu-west's cleanup deleted 2.1.0" \
	file_has "$(log_of 'deploy[region=eu-west]' cleanup)" "cleanup.sh: eu-west: release 2.1.0 deleted"
expect "ap-south's cleanup deleted 2.1.0" \
	file_has "$(log_of 'deploy[region=ap-south]' cleanup)" "cleanup.sh: ap-south: release 2.1.0 deleted"
expect "us-east's cleanup had nothing to delete" \
	file_has "$(log_of "$US" cleanup)" "cleanup.sh: us-east: release 2.1.0 is not installed; nothing to delete"
expect "every region still serves 2.0.0" all_regions_serve 2.0.0
expect "no region has 2.1.0 any more" no_region_has 2.1.0
expect "2.0.0 is still installed in every region" \
	test -f "$root/eu-west/releases/2.0.0/VERSION" -a -f "$root/us-east/releases/2.0.0/VERSION" -a -f "$root/ap-south/releases/2.0.0/VERSION"
expect "no global-check log in run 2" test ! -e "$STATE/logs/2/global-check"

# ---- 3. global-check fails: on-failure: rollback-all ----
scenario mr-global-check-fails
# A stale, broken 2.2.0 in us-east: install.sh keeps an installed release,
# switch-traffic.sh switches to it, check-regions.sh finds the wrong page.
mkdir -p "$root/us-east/releases/2.2.0"
echo 2.2.0 >"$root/us-east/releases/2.2.0/VERSION"
printf '<p>region us-east, version 2.1.9</p>\n' >"$root/us-east/releases/2.2.0/index.html"
run_json mr/pipeline.yml --var version=2.2.0
expect_rc 1
check_stream
# The reason names the failure that started the rollbacks.
RA_MSG="group 2 failed (on-failure: rollback-all): workflow global-check: failed at step 'step-1' (exit status 1)"
check "run 3 failed" '.[0].run == 3 and RF.status == "failed"'
check "both barriers passed with the three regions; nothing broke" \
	"$MR_DEFS"'(P("all-deployed").participants | sort) == (D | sort) and (P("all-switched").participants | sort) == (D | sort) and (ev("barrier.broken") | length) == 0'
check "every region switched, after all-deployed, before all-switched" \
	"$MR_DEFS"'all(Fs("switch")[]; .status == "succeeded") and max_lt([P("all-deployed")]; Ss("switch")) and max_lt(Fs("switch"); [P("all-switched")])'
check "the three deploys first succeed; global-check starts after them" \
	"$MR_DEFS"'all(D[] as $w | [.[] | select(.event == "workflow.finished" and .workflow == $w)][0].status == "succeeded"; .) and max_lt([D[] as $w | [.[] | select(.event == "workflow.finished" and .workflow == $w)][0]]; [WS("global-check")])'
check "global-check fails with exit status 1" \
	'F("global-check"; "step-1").status == "failed" and F("global-check"; "step-1").exit_code == 1 and WF("global-check").status == "failed" and WR("global-check") == null'
check "then each deploy rolls back (rollback-all)" \
	"$MR_DEFS"'max_lt([WF("global-check")]; [D[] as $w | WR($w)]) and all(D[] as $w | WR($w).reason == "'"$RA_MSG"'"; .)'
check "each deploy finishes twice: succeeded, then rolled-back" \
	"$MR_DEFS"'all(D[] as $w | WFs($w) == ["succeeded", "rolled-back"]; .) and all(D[] as $w | WF($w).reason == "'"$RA_MSG"'"; .)'
check "every region's rollback steps: revert, rollback-2, cleanup, all succeeded" \
	"$MR_DEFS"'all(D[] as $w | [of($w)[] | select(.event == "step.started" and .rollback == true) | .step] == ["revert", "rollback-2", "cleanup"]; .) and all((Fs("revert") + Fs("rollback-2") + Fs("cleanup"))[]; .status == "succeeded")'
check "all-reverted passes with the three regions, after every revert finished" \
	"$MR_DEFS"'(P("all-reverted").participants | sort) == (D | sort) and max_lt(Fs("revert"); [P("all-reverted")])'
check "no cleanup starts before every region's revert finished and all-reverted passed" \
	"$MR_DEFS"'max_lt(Fs("revert"); Ss("cleanup")) and max_lt([P("all-reverted")]; Ss("cleanup"))'
check "run.finished after every rollback" "$MR_DEFS"'max_lt([D[] as $w | WF($w)]; [RF])'
expect "global-check found that us-east does not serve 2.2.0" \
	file_has "$(log_of global-check step-1)" "check-regions.sh: FAIL: us-east does not serve 2.2.0"
expect "... and that eu-west did" \
	file_has "$(log_of global-check step-1)" "check-regions.sh: ok: eu-west serves 2.2.0"
expect "every region had switched from 2.0.0 to 2.2.0" \
	all_logs_have switch "switch-traffic.sh: %r: serving 2.2.0 (was: releases/2.0.0)"
expect "every revert moved the traffic back to 2.0.0" \
	all_logs_have revert "rollback.sh: %r: serving releases/2.0.0 again"
expect "every revert got the rollback-all reason as LOCKSTEP_FAILURE" \
	all_logs_have revert "rollback.sh: %r: rolling back (reason: $RA_MSG)"
expect "every cleanup deleted 2.2.0" all_logs_have cleanup "cleanup.sh: %r: release 2.2.0 deleted"
expect "every region serves 2.0.0 again" all_regions_serve 2.0.0
expect "no region has 2.2.0 any more (us-east's broken one included)" no_region_has 2.2.0
expect "the reverts consumed their undo records" no_undo_record

# ---- 4. the same version, without the broken release ----
scenario mr-redeploy
run_json mr/pipeline.yml --var version=2.2.0
expect_rc 0
check "run 4 succeeded, no rollback" \
	'.[0].run == 4 and RF.status == "succeeded" and (ev("workflow.rollback") | length) == 0'
expect "every region serves 2.2.0" all_regions_serve 2.2.0
expect "us-east installed a fresh 2.2.0" \
	file_has "$(log_of "$US" install)" "install.sh: us-east: release 2.2.0 installed"
expect "us-east/previous is run=4, previous=releases/2.0.0" undo_is us-east 4 releases/2.0.0

# ---- compatibility ----
STATE=$tmp/state-co
OSES=(debian-12.5 debian-12.8)
JAVAS=(17 21)
CLOUDS=(aws gcp)
# The known issues of the two release candidates, as known-issues.txt has
# them (VERSION OS JAVA CLOUD ISSUE...).
issue_of() {
	awk -v v="$1" '$1 == v { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print; exit }' "$tmp/co/known-issues.txt"
}
ISSUE_RC1=$(issue_of 3.3.0-rc1)
ISSUE_RC2=$(issue_of 3.3.0-rc2)
if [ -z "$ISSUE_RC1" ] || [ -z "$ISSUE_RC2" ]; then
	fail "known-issues.txt has no issue for 3.3.0-rc1 or 3.3.0-rc2"
fi

# W: the eight probe instances; arrivals before any write-part, as above.
CO_DEFS='
def W: [("debian-12.5", "debian-12.8") as $o | ("17", "21") as $j | ("aws", "gcp") as $c | "probe[os=\($o),java=\($j),cloud=\($c)]"];
def Fs(s): [W[] as $w | F($w; s)];
def Ss(s): [W[] as $w | S($w; s)];
def As(b): [W[] as $w | A(b; $w)];
def seqs(x): if (x | length) > 0 and all(x[]; type == "object") then x | map(.seq) else error("missing events") end;
def max_lt(x; y): (seqs(x) | max) < (seqs(y) | min);
'

# co_common: the checks every run of the example in which every probe
# works must pass.
co_common() {
	check_stream
	check "group 0: the eight matrix instances of probe; group 1: compatibility-report" \
		"$CO_DEFS"'ev("group.started") | map([.group, (.workflows | sort)]) == [[0, (W | sort)], [1, ["compatibility-report"]]]'
	check "every probe succeeded, then its instance arrived at all-probed" \
		"$CO_DEFS"'all(Fs("probe")[]; .status == "succeeded" and .exit_code == 0) and all(W[] as $w | lt(F($w; "probe"); A("all-probed"; $w)); .)'
	check "all-probed passes once, with the eight instances" \
		"$CO_DEFS"'(ev("barrier.passed") | length) == 1 and (P("all-probed").participants | sort) == (W | sort) and (ev("barrier.broken") | length) == 0'
	check "every instance arrived at all-probed before any write-part started" \
		"$CO_DEFS"'max_lt(As("all-probed"); Ss("write-part")) and max_lt([P("all-probed")]; Ss("write-part"))'
	check "every write-part succeeded; every probe instance succeeded" \
		"$CO_DEFS"'all(Fs("write-part")[]; .status == "succeeded") and all(W[] as $w | WF($w) | .status == "succeeded" and .reason == null; .)'
	check "compatibility-report starts after every probe instance finished" \
		"$CO_DEFS"'max_lt([W[] as $w | WF($w)]; [WS("compatibility-report")])'
	check "no probe instance rolls back" "$CO_DEFS"'all(W[] as $w | WR($w) == null; .) and ([.[] | select(.rollback == true)] | length) == 0'
}
# report_rows_are REPORT DEFAULT_RESULT_NOTE SPECIAL...: the report has
# exactly eight rows, one per environment: `| os | java | cloud | pass |
# compatible |`, except for the environments named OS/JAVA/CLOUD in
# SPECIAL (an associative array's keys), whose row ends as its value.
report_rows_are() {
	local report=$1 os java cloud want n
	local -n special=$2
	[ -f "$report" ] || { echo "  (no $report)"; return 1; }
	n=$(grep -c '^| debian-' "$report")
	[ "$n" -eq 8 ] || { echo "  ($n environment rows, want 8)"; return 1; }
	for os in "${OSES[@]}"; do
		for java in "${JAVAS[@]}"; do
			for cloud in "${CLOUDS[@]}"; do
				want="pass | compatible"
				[ -n "${special[$os/$java/$cloud]:-}" ] && want=${special[$os/$java/$cloud]}
				line_count_is "$report" "| $os | $java | $cloud | $want |" 1 || return 1
			done
		done
	done
}
# probes_are RESULTS_DIR VERSION N_FAIL: eight probe result files for
# VERSION, N_FAIL of them result=fail, the others result=pass; eight parts.
probes_are() {
	local dir=$1 f n_pass=0 n_fail=0 n=0
	for f in "$dir"/probes/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		grep -qx "version=$2" "$f" || { echo "  (${f##*/}: not version $2)"; return 1; }
		grep -qx 'result=pass' "$f" && n_pass=$((n_pass + 1))
		grep -qx 'result=fail' "$f" && n_fail=$((n_fail + 1))
	done
	if [ "$n" -ne 8 ] || [ "$n_fail" -ne "$3" ] || [ "$n_pass" -ne $((8 - $3)) ]; then
		echo "  ($n probe files, $n_pass pass, $n_fail fail)"
		return 1
	fi
	n=$(find "$dir/parts" -name '*.row' | wc -l)
	[ "$n" -eq 8 ] || { echo "  ($n parts)"; return 1; }
}

# ---- 5. compatible ----
scenario co-compatible
run_json co/pipeline.yml
expect_rc 0
co_common
check "run 1 of pipeline compatibility, succeeded" \
	'.[0].run == 1 and .[0].pipeline == "compatibility" and RF.status == "succeeded" and WF("compatibility-report").status == "succeeded"'
res=$tmp/co/results/run-$RUN_ID
# shellcheck disable=SC2034 # read through a nameref
declare -A NONE=()
expect "the results are under results/run-1 (run.id)" test "$RUN_ID" = 1 -a -d "$res/probes"
expect "eight probe results of 3.2.0, all pass; eight parts" probes_are "$res" 3.2.0 0
expect "the report is for 3.2.0" line_count_is "$res/compatibility-report.md" "# Compatibility of 3.2.0" 1
expect "the report has one compatible row per environment" report_rows_are "$res/compatibility-report.md" NONE
expect "the report's summary: 8 of 8 compatible" \
	line_count_is "$res/compatibility-report.md" "8 environments, 8 compatible, 0 not compatible or unknown." 1
expect "report.sh printed the report into its log" \
	file_has "$(log_of compatibility-report report)" "8 environments, 8 compatible, 0 not compatible or unknown."
expect "steps ran in the pipeline's directory (no results/ in the cwd)" test ! -e "$tmp/results"

# ---- 6. 3.3.0-rc1: Java 21 is not supported ----
scenario co-rc1
run_json co/pipeline.yml --var version=3.3.0-rc1
expect_rc 1
co_common
check "the run fails in compatibility-report (exit status 1)" \
	'RF.status == "failed" and F("compatibility-report"; "report").status == "failed" and F("compatibility-report"; "report").exit_code == 1 and WF("compatibility-report").status == "failed"'
res=$tmp/co/results/run-$RUN_ID
# shellcheck disable=SC2034 # read through a nameref
declare -A RC1=()
# shellcheck disable=SC2034
for os in "${OSES[@]}"; do
	for cloud in "${CLOUDS[@]}"; do
		RC1[$os/21/$cloud]="fail | $ISSUE_RC1 (every environment with java=21 fails, and only those)"
	done
done
expect "eight probe results of 3.3.0-rc1, four fail; eight parts" probes_are "$res" 3.3.0-rc1 4
expect "the report is for 3.3.0-rc1" line_count_is "$res/compatibility-report.md" "# Compatibility of 3.3.0-rc1" 1
expect "the report marks the four Java 21 rows with the known issue, java=21 as its cause" \
	report_rows_are "$res/compatibility-report.md" RC1
expect "the report's summary: 4 of 8 compatible" \
	line_count_is "$res/compatibility-report.md" "8 environments, 4 compatible, 4 not compatible or unknown." 1
expect "report.sh says why it fails" \
	file_has "$(log_of compatibility-report report)" "report.sh: 4 of 8 environments are not compatible with 3.3.0-rc1"
expect "the probe of debian-12.8, Java 21, gcp logged the issue" \
	file_has "$(log_of 'probe[os=debian-12.8,java=21,cloud=gcp]' probe)" "3.3.0-rc1 is NOT compatible: $ISSUE_RC1"
expect "the earlier run's report is untouched" \
	line_count_is "$tmp/co/results/run-1/compatibility-report.md" "8 environments, 8 compatible, 0 not compatible or unknown." 1

# ---- 7. 3.3.0-rc2: debian 12.5 with Java 21 only ----
scenario co-rc2
run_json co/pipeline.yml --var version=3.3.0-rc2
expect_rc 1
co_common
check "the run fails in compatibility-report" \
	'RF.status == "failed" and F("compatibility-report"; "report").exit_code == 1'
res=$tmp/co/results/run-$RUN_ID
# shellcheck disable=SC2034 # read through a nameref
declare -A RC2=(
	[debian-12.5/21/aws]="fail | $ISSUE_RC2"
	[debian-12.5/21/gcp]="fail | $ISSUE_RC2"
)
expect "eight probe results of 3.3.0-rc2, two fail; eight parts" probes_are "$res" 3.3.0-rc2 2
expect "the report marks debian-12.5 with Java 21 only, with no single cause" \
	report_rows_are "$res/compatibility-report.md" RC2
expect "the report's summary: 6 of 8 compatible" \
	line_count_is "$res/compatibility-report.md" "8 environments, 6 compatible, 2 not compatible or unknown." 1

# ---- 8. no probe can run: the ignored failures withdraw from all-probed ----
scenario co-no-probe
export KNOWN_ISSUES=$tmp/no-such-known-issues.txt
run_json co/pipeline.yml
unset KNOWN_ISSUES
expect_rc 1
check_stream
check "every probe fails with exit status 1" \
	"$CO_DEFS"'(Fs("probe") | length) == 8 and all(Fs("probe")[]; .status == "failed" and .exit_code == 1)'
check "every probe instance ends succeeded, its failure ignored, without rollback" \
	"$CO_DEFS"'all(W[] as $w | WF($w) | .status == "succeeded" and .reason == "failure ignored: failed at step '"'probe'"' (exit status 1)"; .) and (ev("workflow.rollback") | length) == 0'
check "nobody arrives at all-probed, and it does not break" \
	'([.[] | select(.event == "barrier.arrived")] | length) == 0 and (ev("barrier.broken") | length) == 0'
check "no part is written: write-part never starts" \
	'[ev("step.started")[] | select(.step != "probe" and .step != "report")] == []'
check "compatibility-report runs after them and fails the run" \
	"$CO_DEFS"'max_lt([W[] as $w | WF($w)]; [WS("compatibility-report")]) and F("compatibility-report"; "report").exit_code == 1 and RF.status == "failed"'
expect "the probes say why" \
	file_has "$(log_of 'probe[os=debian-12.5,java=17,cloud=aws]' probe)" "probe.sh: error: cannot read $tmp/no-such-known-issues.txt"
res=$tmp/co/results/run-$RUN_ID
# Each probe registered its environment before it failed: the report
# names all eight, none with a result.
expect "the report names the eight environments, each without a result" \
	test "$(grep -c '^| debian-[^|]* | | | unknown | no result: its probe failed (see its log) |$' "$res/compatibility-report.md")" -eq 8
expect "the report's summary: 0 of 8 compatible" \
	line_count_is "$res/compatibility-report.md" "8 environments, 0 compatible, 8 not compatible or unknown." 1
expect "report.sh says why it fails" \
	file_has "$(log_of compatibility-report report)" "report.sh: 8 of 8 environments are not compatible with 3.2.0"
expect "the summary says nobody passed all-probed: every participant withdrew" \
	grep -Eq '^  all-probed  passed at \+[0-9.]+m?s +\(every participant withdrew\)$' "$ERR"
"$LOCKSTEP" show "$RUN_ID" --state "$STATE" >"$tmp/co-show.txt" 2>&1
expect "show says so too, and that each of the eight withdrew" \
	test "$(grep -c '^    probe\[.*\]  did not arrive (withdrew)$' "$tmp/co-show.txt")" -eq 8 -a \
	"$(grep -c '^  all-probed (Every environment has been probed): passed at .* (every participant withdrew)$' "$tmp/co-show.txt")" -eq 1

# ---- 9. one probe fails before it records anything ----
# Its result file cannot be written (a directory is in the way of the
# temporary file); it still registered itself, so the report names it.
scenario co-one-missing
next=$(("$("$LOCKSTEP" runs --state "$STATE" --json | jq length)" + 1))
mkdir -p "$tmp/co/results/run-$next/probes/debian-12.8_java21_gcp.tmp"
run_json co/pipeline.yml
expect_rc 1
check "the run is run $next; the probe of debian-12.8, Java 21, gcp fails, the others do not" \
	"$CO_DEFS"'.[0].run == '"$next"' and F("probe[os=debian-12.8,java=21,cloud=gcp]"; "probe").exit_code != 0 and ([Fs("probe")[] | select(.status == "succeeded")] | length) == 7'
check "the run fails in compatibility-report" 'RF.status == "failed" and F("compatibility-report"; "report").exit_code == 1'
res=$tmp/co/results/run-$next
expect "the report names it, without a result" \
	line_count_is "$res/compatibility-report.md" "| debian-12.8_java21_gcp | | | unknown | no result: its probe failed (see its log) |" 1
expect "the report's summary: 7 of 8 compatible" \
	line_count_is "$res/compatibility-report.md" "8 environments, 7 compatible, 1 not compatible or unknown." 1

finish
