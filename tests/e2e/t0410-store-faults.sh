#!/bin/bash
# t0410-store-faults: what lockstep does when STATE/lockstep.db is damaged
# or held by another process (docs/store.md, "Faults"):
#   1. a damaged file: garbage (not SQLite), a real database truncated in
#      the middle, one whose first page was overwritten after the header,
#      one whose schema is intact but whose table of runs is damaged (it
#      opens, and listing the runs fails), an empty file; and another
#      program's database (a table of its own, or another program's
#      application_id). run, runs, show, logs (and resume, abort): exit
#      4, one line naming the file and the fault, no crash, hang or leak
#      (the ASan build exits 4 too), no step ran, and the file's bytes
#      are unchanged (never repaired, replaced or adopted); but a
#      database of a lockstep from before the mark, and an empty SQLite
#      file, are used (and marked by the next run);
#   2. the write lock held beyond the busy timeout (made short with
#      LOCKSTEP_BUSY_TIMEOUT_MS): (a) when `lockstep run` starts: exit 4,
#      a message saying so and how long lockstep waited, no step ran;
#      (b) while a run is in progress: the run stops (running steps
#      terminated, nothing left behind, no rollback), the summary says
#      where each workflow was left, exit 4, and what was recorded before
#      is intact; (c) readers (runs, show, logs) are not held up by it;
#      (d) the state directory deleted while a run is in progress: the
#      next commit fails, the run stops, exit 4, and it says why;
#   3. LOCKSTEP_BUSY_TIMEOUT_MS is checked: anything but a number of
#      milliseconds is refused with exit 4 before anything runs;
#   4. a new database never shows as an empty file: readers racing 8
#      concurrent first runs never see one.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq and the sqlite3
# shell (Debian: sqlite3).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE LOCKSTEP_BUSY_TIMEOUT_MS
ln -s "$RUNDIR/bin" "$tmp/bin"
need sqlite3

# err_is TEXT: stderr is exactly one line, and it contains TEXT.
err_is() { [ "$(wc -l <"$CERR")" -eq 1 ] && grep -qF -- "$1" "$CERR"; }
sum() { sha256sum <"$1"; }

# A run whose only step leaves $OUT/ran: it shows whether anything ran.
cat >"$tmp/mark.yml" <<'EOF'
name: mark
stages:
  - workflow: a
workflows:
  a:
    steps:
      - id: mark
        run: touch "$OUT/ran"
EOF

# A state directory with two recorded runs, the source of damaged copies.
scenario seed
run_json "$tmp/mark.yml"
expect_rc 0
run_json "$tmp/mark.yml"
expect_rc 0
expect "two runs recorded, the WAL folded into lockstep.db on close" \
	test -s "$STATE/lockstep.db" -a ! -s "$STATE/lockstep.db-wal"
# Where the table of runs is: its root page, and the page size.
RUNS_PAGE=$(sqlite3 -readonly "$STATE/lockstep.db" "SELECT rootpage FROM sqlite_master WHERE name = 'runs'")
PAGE_SIZE=$(sqlite3 -readonly "$STATE/lockstep.db" "PRAGMA page_size")

# ---- 1. a damaged database file ----

# damage KIND DIR: DIR becomes a copy of $STATE whose lockstep.db is
# damaged in the way KIND says.
damage() {
	rm -rf "$2"
	cp -R "$STATE" "$2"
	local db=$2/lockstep.db size
	size=$(stat -c %s "$db")
	case $1 in
	garbage) yes 'this is not a database' | head -c 8192 >"$db" ;;
	truncated) truncate -s $((size / 2)) "$db" ;;
	# Page 1's b-tree header (it follows the 100-byte file header) and
	# its first cell pointers: the schema can no longer be read.
	page1) head -c 64 /dev/zero | tr '\0' '\377' | dd of="$db" bs=1 seek=100 conv=notrunc 2>/dev/null ;;
	# The b-tree header of the runs table's root page: the schema reads
	# fine, so every command opens the file and fails only when it reads
	# the runs (runs lists them after opening).
	runs-page) head -c 16 /dev/zero | tr '\0' '\377' |
		dd of="$db" bs=1 seek=$(((RUNS_PAGE - 1) * PAGE_SIZE)) conv=notrunc 2>/dev/null ;;
	empty) : >"$db" ;;
	# Another program's database where lockstep.db should be: a table of
	# its own and no mark, or another program's mark (GeoPackage's).
	foreign-table) rm -f "$db" "$db-wal" "$db-shm" && sqlite3 "$db" 'CREATE TABLE x (a)' ;;
	foreign-app) rm -f "$db" "$db-wal" "$db-shm" &&
		sqlite3 "$db" 'PRAGMA application_id = 1196444487; CREATE TABLE features (id)' ;;
	esac
}

# What lockstep must say after the file's name: the cause as SQLite words
# it (SQLITE_NOTADB, SQLITE_CORRUPT), or in its own words for an empty
# file and for another program's database.
declare -A CAUSE=(
	[garbage]="is damaged or is not a lockstep database (file is not a database). lockstep leaves it as it is"
	[truncated]="is damaged or is not a lockstep database (database disk image is malformed). lockstep leaves it as it is"
	[page1]="is damaged or is not a lockstep database (database disk image is malformed). lockstep leaves it as it is"
	[runs-page]="is damaged or is not a lockstep database (database disk image is malformed). lockstep leaves it as it is"
	[empty]="is damaged or is not a lockstep database (the file is empty). lockstep leaves it as it is"
	[foreign-table]="is not a lockstep database: it holds table x, and neither lockstep's mark nor a schema version (application_id 0, user_version 0). lockstep leaves it as it is: give another --state DIR, or move the file away"
	[foreign-app]="is not a lockstep database: it belongs to another program (application_id 0x47504b47; lockstep's is 0x4c4b5354). lockstep leaves it as it is: give another --state DIR, or move the file away"
)
for kind in garbage truncated page1 runs-page empty foreign-table foreign-app; do
	scenario "corrupt-$kind"
	d=$tmp/$kind
	damage "$kind" "$d"
	db=$d/lockstep.db
	case $kind in truncated | page1 | runs-page)
		# Read-only: the check must not change what lockstep then sees.
		ic=$(sqlite3 -readonly "$db" 'PRAGMA integrity_check' 2>&1)
		expect "SQLite itself finds the file corrupt (integrity_check: ${ic%%$'\n'*})" test "$ic" != ok
	esac
	before=$(sum "$db")
	msg="$db ${CAUSE[$kind]}"
	rm -f "$OUT/ran"
	cmd run "$tmp/mark.yml" --state "$d" --json
	expect_rc 4 "run"
	expect "run: one line naming the file and what is wrong" err_is "lockstep run: $msg"
	expect "run: no event, and the step never ran" test ! -s "$COUT" -a ! -e "$OUT/ran"
	expect "run: no run directory was made" test ! -e "$d/logs/3"
	for c in "runs" "runs --json" "show 1" "show 2 --json" "logs 1" "resume 1" "abort 1"; do
		# shellcheck disable=SC2086
		cmd $c --state "$d"
		expect_rc 4 "$c"
		expect "$c: one line naming the file and what is wrong" err_is "lockstep ${c%% *}: $msg"
		expect "$c: nothing on stdout" test ! -s "$COUT"
	done
	expect "the file's bytes are unchanged" test "$(sum "$db")" = "$before"
	expect "nothing was written beside it either (no WAL content)" test ! -s "$db-wal"
done

# ---- 1b. databases lockstep made before it marked them ----
# A lockstep from before the mark (PRAGMA application_id) left its
# schema, its user_version and no mark: readers read it as it is, the
# next run marks it. An empty SQLite file (no table) is a new database.
scenario unmarked
d=$tmp/older
rm -rf "$d"
cp -R "$STATE" "$d"
expect "a database lockstep makes carries its mark" \
	test "$(sqlite3 -readonly "$d/lockstep.db" 'PRAGMA application_id')" = 1280004948
sqlite3 "$d/lockstep.db" 'PRAGMA application_id = 0'
cmd runs --json --state "$d"
expect_rc 0 "runs on a database of an older lockstep"
expect "it lists the 2 runs" test "$(jq length "$COUT")" = 2
expect "the reader did not mark it" test "$(sqlite3 -readonly "$d/lockstep.db" 'PRAGMA application_id')" = 0
rm -f "$OUT/ran"
cmd run "$tmp/mark.yml" --state "$d" --json
expect_rc 0 "run on a database of an older lockstep"
expect "the step ran" test -e "$OUT/ran"
expect "the run marked the database as lockstep's" \
	test "$(sqlite3 -readonly "$d/lockstep.db" 'PRAGMA application_id')" = 1280004948
cmd runs --json --state "$d"
expect "it lists the 3 runs" test "$(jq length "$COUT")" = 3

d=$tmp/empty-sqlite
mkdir -p "$d"
sqlite3 "$d/lockstep.db" 'PRAGMA journal_mode = WAL' >/dev/null
expect "an empty SQLite database is not an empty file" test -s "$d/lockstep.db"
cmd runs --state "$d"
expect_rc 0 "runs on an empty SQLite database"
expect "says there are no runs" err_is "lockstep runs: no runs recorded in '$d'"
cmd run "$tmp/mark.yml" --state "$d" --json
expect_rc 0 "run on an empty SQLite database"
expect "it is run 1" test "$(jq -r 'select(.event == "run.started") | .run' "$COUT")" = 1
expect "the run marked the database as lockstep's" \
	test "$(sqlite3 -readonly "$d/lockstep.db" 'PRAGMA application_id')" = 1280004948

# ---- 2. the database locked beyond the busy timeout ----

waiting_in_wait() { ! has_event '.event == "step.finished" and .workflow == "a" and .step == "wait"'; }

# -- (a) locked when the run starts --
scenario locked-at-start
lock_take "$STATE/lockstep.db"
before=$(sum "$STATE/lockstep.db")
rm -f "$OUT/ran"
t0=$(now_ms)
LOCKSTEP_BUSY_TIMEOUT_MS=1000 cmd run "$tmp/mark.yml" --state "$STATE" --json
waited=$(($(now_ms) - t0))
expect_rc 4 "run"
expect "says the database is locked by another process and how long lockstep waited" \
	err_is "lockstep run: $STATE/lockstep.db: cannot record a new run: database is locked (another process holds its write lock: lockstep waited 1 s, then gave up)"
expect "it did wait for the lock (${waited} ms >= 1000 ms)" test "$waited" -ge 1000
expect "no event, and the step never ran" test ! -s "$COUT" -a ! -e "$OUT/ran"
expect "no run directory was made" test ! -e "$STATE/logs/3"
LOCKSTEP_BUSY_TIMEOUT_MS=250 cmd run "$tmp/mark.yml" --state "$STATE" --json
expect "a timeout below a second is said in ms" err_has "lockstep waited 250 ms, then gave up"
LOCKSTEP_BUSY_TIMEOUT_MS=0 cmd run "$tmp/mark.yml" --state "$STATE" --json
expect_rc 4 "LOCKSTEP_BUSY_TIMEOUT_MS=0: gives up at once"
expect "... and says so" err_has "lockstep waited 0 ms, then gave up"
lock_release
expect "nothing was recorded meanwhile" test "$(sum "$STATE/lockstep.db")" = "$before"
run_json "$tmp/mark.yml"
expect_rc 0
expect "once the lock is gone, the next run records as run 3" test "$RUN_ID" = 3

# -- (c) readers while a writer holds the lock --
scenario locked-readers
lock_take "$STATE/lockstep.db"
# A timeout of 0: a reader that needed the lock would fail at once.
for c in "runs" "runs --json" "show 3" "show 3 --json" "logs 3"; do
	# shellcheck disable=SC2086
	LOCKSTEP_BUSY_TIMEOUT_MS=0 cmd $c --state "$STATE"
	expect_rc 0 "$c while another process holds the write lock"
	expect "$c: says nothing on stderr" test ! -s "$CERR"
done
LOCKSTEP_BUSY_TIMEOUT_MS=0 cmd runs --json --state "$STATE"
expect "runs lists the 3 runs" test "$(jq length "$COUT")" = 3
lock_release

# -- (b) locked while a run is in progress --
scenario locked-mid-run
token=t0410-$$-$RANDOM
# a waits in step wait until $OUT/go exists (bounded: 60 s, far more
# than the test needs to take the lock even on a loaded machine), then
# would run step after; b runs a long step. Both have a rollback that
# must not run: nothing could record it.
cat >"$tmp/mid.yml" <<EOF
name: mid
stages:
  - workflow: a
  - workflow: b
    parallel: true
workflows:
  a:
    env: { T0410_TOKEN: "$token" }
    steps:
      - id: wait
        run: i=0; while [ ! -e "\$OUT/go" ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done
      - id: after
        run: touch "\$OUT/after"
    rollback:
      - run: touch "\$OUT/a.rolled-back"
  b:
    env: { T0410_TOKEN: "$token" }
    steps:
      - id: work
        run: ./bin/long work
    rollback:
      - run: touch "\$OUT/b.rolled-back"
EOF
export LOCKSTEP_BUSY_TIMEOUT_MS=300
start_json "$tmp/mid.yml"
unset LOCKSTEP_BUSY_TIMEOUT_MS
if wait_until 20 test -s "$OUT/work.pgid" && wait_event 20 '.event == "step.started" and .workflow == "a" and .step == "wait"'; then
	pass "the run is under way: a waits in a step, b runs a long one"
else
	fail "the run never got under way"
fi
expect "its steps carry the marker in their environment" test -n "$(pids_with_env "T0410_TOKEN=$token")"
lock_take "$STATE/lockstep.db"
expect "a is still waiting in its step when the lock is taken" waiting_in_wait
touch "$OUT/go"
finish_bg 30
lock_release
expect_rc 4
expect "the store's error: locked, and for how long lockstep waited" \
	grep -qF "lockstep run: state store error: $STATE/lockstep.db: cannot record events: database is locked (another process holds its write lock: lockstep waited 300 ms, then gave up)" "$ERR"
expect "it says it stops the run" \
	grep -q "events from seq [0-9]* on are not recorded; stopping the run (no further steps, no rollbacks)" "$ERR"
check "a's step finished; no rollback started" \
	'F("a"; "wait").status == "succeeded" and ([.[] | select(.event == "workflow.rollback" or (.event == "step.started" and .rollback == true))] | length == 0)'
# The engine has already decided a's next step when the commit fails
# (its step.started is in the failed batch), but its process, which
# waits for that commit, is never spawned.
expect "no process started after the store failed: neither step after nor any rollback ran" \
	test ! -e "$OUT/after" -a ! -e "$OUT/a.rolled-back" -a ! -e "$OUT/b.rolled-back"
expect "b's running step got SIGTERM" test -f "$OUT/work.term"
expect "nothing of it is left in its process group" group_gone "$OUT/work.pgid"
expect "no process with the run's marker is left" none_with_env "T0410_TOKEN=$token"
check "the events still reached stdout, to the end" '.[-1].event == "run.finished" and .[-1].status == "aborted"'
expect "the summary says where a was left" grep -Eq '^  a +aborted' "$ERR"
expect "... and where b was left" grep -Eq '^  b +aborted' "$ERR"
expect "... and that the run was not fully recorded" grep -q "run $RUN_ID was not fully recorded in $STATE/lockstep.db" "$ERR"
from=$(sed -n 's/.*events from seq \([0-9]*\) on are not recorded.*/\1/p' "$ERR" | head -1)
cmd show "$RUN_ID" --state "$STATE" --json
expect_rc 0 "show the run afterwards"
if jq -e --slurpfile x <(head -n $((${from:-1} - 1)) "$EVENTS") \
	'.events == $x and .status == "interrupted"' "$COUT" >/dev/null; then
	pass "the database holds exactly events 1..$((${from:-1} - 1)), and the run shows as interrupted"
else
	fail "the database does not hold exactly what was recorded before the lock"
fi
# Whatever failed above: leave no step behind for a minute.
reap_leftovers

# ---- 2d. the state directory deleted during a run ----
# rm -rf STATE while a step runs: SQLite goes on writing into the
# deleted file, so without a check the run would end 0 with its history
# gone. The next commit notices: a store failure (the run stops, no
# further step, no rollback), a message that says so, exit 4.
scenario state-deleted
doomed=$tmp/doomed
cat >"$tmp/doomed.yml" <<'EOF'
name: doomed
stages:
  - workflow: a
workflows:
  a:
    steps:
      - id: wait
        run: i=0; while [ ! -e "$OUT/go" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
      - id: after
        run: touch "$OUT/after"
    rollback:
      - run: touch "$OUT/rolled-back"
EOF
saved_state=$STATE
STATE=$doomed
start_json "$tmp/doomed.yml"
STATE=$saved_state
if wait_event 20 '.event == "step.started" and .workflow == "a" and .step == "wait"'; then
	pass "the run is under way, its step waits"
else
	fail "the run never got under way"
fi
rm -rf "$doomed"
touch "$OUT/go"
finish_bg 30
expect_rc 4
expect "it says the database is gone" \
	grep -qF "lockstep run: state store error: $doomed/lockstep.db was deleted or moved away during the run: lockstep cannot record the run any more" "$ERR"
expect "it says it stops the run" \
	grep -q "events from seq [0-9]* on are not recorded; stopping the run (no further steps, no rollbacks)" "$ERR"
expect "... and that the run was not fully recorded" grep -q "run $RUN_ID was not fully recorded in $doomed/lockstep.db" "$ERR"
expect "no further step ran, and no rollback" test ! -e "$OUT/after" -a ! -e "$OUT/rolled-back"
# Which commit notices first (the one with the step's process, or the
# one with its end) is a race: step wait ends succeeded, or aborted when
# the run stopped first. Step after may be decided in the failed batch,
# but its process is never spawned (checked above): it ends aborted.
check "the events still reached stdout, to the end: the run aborted" \
	'F("a"; "wait") != null and (F("a"; "after") == null or F("a"; "after").status == "aborted") and .[-1].event == "run.finished" and .[-1].status == "aborted"'
expect "no database was made again in its place" test ! -e "$doomed/lockstep.db"

# ---- 3. LOCKSTEP_BUSY_TIMEOUT_MS is checked ----
scenario busy-timeout-knob
for bad in abc -5 1e3 " 5" 5ms 3600001 99999999999999999999; do
	rm -f "$OUT/ran"
	LOCKSTEP_BUSY_TIMEOUT_MS=$bad cmd run "$tmp/mark.yml" --state "$STATE"
	expect_rc 4 "run with LOCKSTEP_BUSY_TIMEOUT_MS='$bad'"
	expect "'$bad': the message names the variable and what it takes" \
		err_is "lockstep run: LOCKSTEP_BUSY_TIMEOUT_MS is '$bad': it must be a whole number of milliseconds from 0 to 3600000"
	expect "'$bad': nothing ran" test ! -e "$OUT/ran"
done
LOCKSTEP_BUSY_TIMEOUT_MS=abc cmd runs --state "$STATE"
expect_rc 4 "readers refuse it too"
for good in "" 0 3600000; do
	LOCKSTEP_BUSY_TIMEOUT_MS=$good cmd runs --state "$STATE"
	expect_rc 0 "LOCKSTEP_BUSY_TIMEOUT_MS='$good' is fine"
done

# ---- 4. a new database is never seen empty ----
# SQLite creates a database file empty and writes its header a moment
# later; lockstep makes it under another name and links it into place, so
# a reader (or a writer) never takes a run being created for a damaged,
# empty file. Readers race 8 first runs on a new state directory.
scenario new-database
conc=$tmp/conc
# reader_loop N: reads $conc until $tmp/conc.done exists (at most 500 reads).
reader_loop() {
	local n=0
	while [ ! -e "$tmp/conc.done" ] && [ "$n" -lt 500 ]; do
		[ -d "$conc" ] || continue
		n=$((n + 1))
		"$LOCKSTEP" runs --state "$conc" >/dev/null 2>"$tmp/conc.reader.$1" </dev/null 7>&- ||
			cat "$tmp/conc.reader.$1" >>"$tmp/conc.readers"
	done
	echo "$n" >>"$tmp/conc.reads"
}
readers=()
for i in 1 2 3; do
	reader_loop "$i" &
	readers+=($!)
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
	timeout -k 2 60 "$LOCKSTEP" run "$tmp/mark.yml" --state "$conc" >"$tmp/conc.$i" 2>&1 </dev/null 7>&- &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { bad=$((bad + 1)); head -3 "$tmp/conc.$((i + 1))" | sed 's/^/     ! /'; }
done
touch "$tmp/conc.done"
for p in "${readers[@]}"; do
	wait "$p"
done
reads=$(awk '{ n += $1 } END { print n + 0 }' "$tmp/conc.reads")
expect "all 8 first runs succeeded ($bad failed)" test "$bad" -eq 0
if [ -s "$tmp/conc.readers" ]; then
	fail "a reader failed while the database was being created ($reads reads)"
	head -3 "$tmp/conc.readers" | sed 's/^/     ! /'
else
	pass "no reader failed while the database was being created ($reads reads)"
fi
cmd runs --state "$conc" --json
expect "8 runs recorded" test "$(jq length "$COUT")" = 8
expect "no temporary database was left behind" test -z "$(find "$conc" -maxdepth 1 -name 'lockstep.db.new.*')"

finish
