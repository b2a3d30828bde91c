#!/bin/bash
# t0220-plan: lockstep plan in its four formats (text, dot, mermaid, json)
# on the seed example (docs/pipeline-format.md#a-complete-example) and on matrix pipelines; the facts each
# format must show (groups, participants, timeouts, instance names, rollback
# order); and plan on invalid files (exit 3, diagnostics only on stderr).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR (default: found from this script's location).
# Needs jq and Graphviz (dot).
set -u
. "$(dirname "$0")/lib/common.sh"
need jq dot
corpus=$SRC/tests/e2e/check

# The seed example: the shipped one when present, else the copy of the
# example of docs/pipeline-format.md in the check corpus.
seed=$SRC/examples/multi-service/pipeline.yml
[ -f "$seed" ] || seed=$corpus/valid/seed.yml

# The text of an SVG file with Graphviz's character references decoded.
svg_text() {
	sed -e 's/&#45;/-/g' -e 's/&#91;/[/g' -e 's/&#93;/]/g' -e 's/&#61;/=/g' -e 's/&#36;/$/g' \
		-e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e 's/&#39;/'"'"'/g' -e 's/&amp;/\&/g' "$1"
}

# jqt FILTER [ARGS...]: the JSON on stdout satisfies FILTER
jqt() {
	local f=$1
	shift
	jq -e "$@" "$f" "$COUT" >/dev/null 2>&1 || flunk "JSON plan fails: $f"
}
# The lines of stdout between a line matching START and one matching STOP.
section() { awk -v a="$1" -v b="$2" '$0 ~ a {on = 1; next} on && $0 ~ b {exit} on' "$COUT"; }

# ---- the seed example ----

begin "seed, text: groups in order, the deploys in parallel"
cmd plan "$seed"
expect_rc 0
expect_err_empty
grep -Eq '^group 1: (backend-deploy, frontend-deploy|frontend-deploy, backend-deploy) \(parallel\)$' "$COUT" ||
	flunk "no 'group 1: backend-deploy, frontend-deploy (parallel)'"
grep -Eq '^group 2: smoke-tests$' "$COUT" || flunk "no 'group 2: smoke-tests'"
[ "$(grep -c '^group ' "$COUT")" -eq 2 ] || flunk "not exactly two groups"
grep -q '^pipeline multi-service ' "$COUT" || flunk "no pipeline header"
end

begin "seed, text: each barrier's participants, title and timeout"
cmd plan "$seed"
section '^barriers$' '^rollback barriers' >barriers
for id in BE FE; do
	awk -v id="$id" '$1 == id {on = 1; next} on && /^  [^ ]/ {exit} on' barriers >"barrier-$id"
	grep -Eq 'participants +(backend-deploy, frontend-deploy|frontend-deploy, backend-deploy)$' "barrier-$id" ||
		flunk "barrier $id: participants are not backend-deploy and frontend-deploy"
	grep -Eq 'timeout +10m' "barrier-$id" || flunk "barrier $id: no 'timeout 10m'"
	grep -Eq 'group +1$' "barrier-$id" || flunk "barrier $id: not in group 1"
done
grep -Eq '^  BE +Backend service deployment done$' barriers || flunk "BE without its title"
grep -Eq '^  FE +Frontend service deployment done$' barriers || flunk "FE without its title"
grep -Eq 'backend-deploy +step 3 of 4' barrier-BE || flunk "BE: backend-deploy is not at step 3 of 4"
grep -Eq 'frontend-deploy +step 1 of 4' barrier-BE || flunk "BE: frontend-deploy is not at step 1 of 4"
grep -Eq 'backend-deploy +step 4 of 4' barrier-FE || flunk "FE: backend-deploy is not at step 4 of 4"
grep -Eq 'frontend-deploy +step 4 of 4' barrier-FE || flunk "FE: frontend-deploy is not at step 4 of 4"
end

begin "seed, text: each deploy is verified by an http-check of its service"
cmd plan "$seed" --var version=2.0.1 --var backend_port=28081
expect_rc 0
section '^  workflow backend-deploy$' '^  workflow ' >wf-backend
grep -Eq "^ +2 +verify +http-check +Verify the backend serves 2\.0\.1 +http-check http://127\.0\.0\.1:28081/, status 200\.\.399, body matching 'version 2\.0\.1', every 200ms within 30s" wf-backend ||
	flunk "backend-deploy's step 2 is not the check of version 2.0.1"
section '^  workflow frontend-deploy$' '^  workflow ' >wf-frontend
grep -Eq "^ +3 +verify +http-check +Verify the frontend serves 2\.0\.1 " wf-frontend ||
	flunk "frontend-deploy's step 3 is not the check of version 2.0.1"
cmd plan "$seed" --var version=2.0.1 --var backend_port=28081 --format json
jqt '[.workflows[] | .steps[] | select(.kind == "http-check") | [.url, .expect_body]] == [["http://127.0.0.1:28081/", "version 2.0.1"], ["http://127.0.0.1:18082/", "version 2.0.1"]]'
end

begin "seed, text: rollback lists and rollback order"
cmd plan "$seed"
section '^  workflow backend-deploy$' '^  workflow ' >wf-backend
grep -Eq '^    rollback$' wf-backend || flunk "backend-deploy has no rollback list"
grep -Eq 'rollback-1 +run +.*rollback\.sh backend' wf-backend || flunk "backend-deploy's rollback-1 is not rollback.sh backend"
section '^  workflow smoke-tests$' '^[a-z]' >wf-smoke
grep -q 'rollback: none' wf-smoke || flunk "smoke-tests does not say 'rollback: none'"
section '^rollback order' '^zzz' >order
awk '/^  if group 1 fails:/ {on = 1; next} on && /^  if group/ {exit} on' order >order-g1
grep -Eq 'backend-deploy .*rollback-1' order-g1 || flunk "if group 1 fails, backend-deploy does not run rollback-1"
grep -Eq 'frontend-deploy .*rollback-1' order-g1 || flunk "if group 1 fails, frontend-deploy does not run rollback-1"
awk '/^  if group 2 fails:/ {on = 1; next} on && /^  if group/ {exit} on' order >order-g2
grep -Eq 'smoke-tests +no rollback' order-g2 || flunk "if group 2 fails, smoke-tests should not roll back"
grep -q 'backend-deploy' order-g2 && flunk "with on-failure stop, group 1 must not roll back when group 2 fails"
end

begin "seed, json: pipeline, vars, 2 groups with the right workflows"
cmd plan "$seed" --format json
expect_rc 0
expect_err_empty
jqt '.pipeline == "multi-service" and .on_failure == "stop" and .vars.version == "1.4.2"'
jqt '.groups | length == 2'
jqt '.groups[0].workflows | sort == ["backend-deploy", "frontend-deploy"]'
jqt '.groups[1].workflows == ["smoke-tests"]'
jqt '[.workflows[] | {(.name): .group}] | add == {"backend-deploy": 0, "frontend-deploy": 0, "smoke-tests": 1}'
end

begin "seed, json: BE and FE with participants, steps and timeouts in ms"
cmd plan "$seed" --format json
jqt '.barriers | map(.id) | sort == ["BE", "FE"]'
jqt '.barriers[] | select(.id == "BE") | .participants | map(.workflow) | sort == ["backend-deploy", "frontend-deploy"]'
jqt '.barriers[] | select(.id == "FE") | .participants | map(.workflow) | sort == ["backend-deploy", "frontend-deploy"]'
jqt '.barriers[] | select(.id == "BE") | .participants | map({(.workflow): .step}) | add == {"backend-deploy": "step-3", "frontend-deploy": "step-1"}'
jqt '.barriers[] | select(.id == "FE") | .participants | map({(.workflow): .step}) | add == {"backend-deploy": "step-4", "frontend-deploy": "step-4"}'
jqt '.barriers[] | select(.id == "BE") | .timeout_ms == 600000 and .name == "Backend service deployment done"'
jqt '.barriers[] | select(.id == "FE") | .timeout_ms == 600000 and .name == "Frontend service deployment done"'
# "title" is the deprecated spelling of "name", kept for older tools.
jqt 'all(.barriers[]; .title == .name)'
jqt 'all(.barriers[].participants[]; .line > 0 and .col > 0)'
jqt '.workflows[] | select(.name == "backend-deploy") | .steps[0] | .name == "Rolling deploy" and .timeout_ms == 300000'
jqt '.rollback_barriers == []'
end

begin "seed, json: rollback lists and rollback order"
cmd plan "$seed" --format json
jqt '.workflows[] | select(.name == "backend-deploy") | .rollback | length == 1 and (.[0].run | test("rollback\\.sh backend"))'
jqt '.workflows[] | select(.name == "frontend-deploy") | .rollback | length == 1 and (.[0].run | test("rollback\\.sh frontend"))'
jqt '.workflows[] | select(.name == "smoke-tests") | .rollback == []'
# Whatever its shape, rollback_order says backend-deploy runs rollback-1.
jqt '[.rollback_order | .. | objects | select(.workflow? == "backend-deploy" and ((.steps? // []) | index("rollback-1")))] | length > 0'
jqt '[.rollback_order | .. | objects | select(.workflow? == "smoke-tests" and ((.steps? // []) | length) > 0)] | length == 0'
end

begin "seed, dot: renders with dot -Tsvg, without warnings"
cmd plan "$seed" --format dot
expect_rc 0
expect_err_empty
grep -q '^digraph' "$COUT" || flunk "not a digraph"
dot -Tsvg "$COUT" >plan.svg 2>dot.err || flunk "dot -Tsvg failed"
[ -s dot.err ] && flunk "dot printed: $(head -c 200 dot.err)"
grep -q '<svg' plan.svg || flunk "no SVG"
svg_text plan.svg >plan.txt
for text in backend-deploy frontend-deploy smoke-tests 'Backend service deployment done' \
	'Frontend service deployment done' 'Rolling deploy'; do
	grep -qF "$text" plan.txt || flunk "the SVG does not show '$text'"
done
end

begin "seed, mermaid: a flowchart with every workflow and barrier"
cmd plan "$seed" --format mermaid
expect_rc 0
expect_err_empty
head -1 "$COUT" | grep -q '^flowchart' || flunk "first line does not start with 'flowchart'"
for text in backend-deploy frontend-deploy smoke-tests 'Backend service deployment done' \
	'Frontend service deployment done'; do
	grep -qF "$text" "$COUT" || flunk "no '$text'"
done
awk '{ n = gsub(/"/, "\""); if (n % 2) { print NR ": " $0; bad = 1 } } END { exit bad }' "$COUT" >odd ||
	flunk "a line with unbalanced quotes: $(head -1 odd)"
end

begin "seed, --format=json and -f json are --format json"
cmd plan "$seed" --format json
cp "$COUT" want.json
cmd plan "$seed" --format=json
cmp -s "$COUT" want.json || flunk "--format=json differs"
cmd plan "$seed" -f json
cmp -s "$COUT" want.json || flunk "-f json differs"
end

begin "seed, --var changes the plan's vars"
cmd plan "$seed" --format json --var version=2.0.0
expect_rc 0
jqt '.vars.version == "2.0.0"'
end

# ---- a matrix pipeline ----

cat >matrix.yml <<'EOF'
name: regions
barriers:
  all-deployed:
    name: Installed everywhere
    timeout: 30m
stages:
  - workflow: deploy
    matrix:
      region: [eu-west, us-east, ap-south]
  - workflow: canary
    matrix:
      region: [eu-west]
      tier: [web, api]
  - workflow: global-check
workflows:
  deploy:
    steps:
      - run: ./install.sh ${{ matrix.region }}
      - barrier: all-deployed
      - run: ./switch.sh ${{ matrix.region }}
        timeout: 90s
    rollback:
      - run: ./rollback.sh ${{ matrix.region }}
  canary:
    steps:
      - name: Canary ${{ matrix.tier }} in ${{ matrix.region }}
        run: ./canary.sh ${{ matrix.region }} ${{ matrix.tier }}
      - barrier: canaries-${{ matrix.region }}
  global-check:
    steps:
      - run: ./check.sh
EOF
D='deploy[region=eu-west]'
U='deploy[region=us-east]'
A='deploy[region=ap-south]'

begin "matrix, json: instance names, one group per stage entry"
cmd plan matrix.yml --format json
expect_rc 0
expect_err_empty
jqt '.groups | length == 3'
jqt '.groups[0].workflows | sort == (["deploy[region=eu-west]", "deploy[region=us-east]", "deploy[region=ap-south]"] | sort)'
jqt '.groups[1].workflows | sort == (["canary[region=eu-west,tier=web]", "canary[region=eu-west,tier=api]"] | sort)'
jqt '.groups[2].workflows == ["global-check"]'
jqt '.workflows[] | select(.name == "deploy[region=us-east]") | .matrix == {"region": "us-east"} and .workflow == "deploy"'
jqt '.workflows[] | select(.name == "canary[region=eu-west,tier=api]") | .matrix == {"region": "eu-west", "tier": "api"}'
end

begin "matrix, json: barriers from matrix values, participants are instances"
cmd plan matrix.yml --format json
jqt '.barriers | map(.id) | sort == ["all-deployed", "canaries-eu-west"]'
jqt '.barriers[] | select(.id == "all-deployed") | (.participants | map(.workflow) | sort) == (["deploy[region=eu-west]", "deploy[region=us-east]", "deploy[region=ap-south]"] | sort)'
jqt '.barriers[] | select(.id == "all-deployed") | .timeout_ms == 1800000 and .name == "Installed everywhere"'
jqt '.barriers[] | select(.id == "canaries-eu-west") | (.participants | map(.workflow) | sort) == ["canary[region=eu-west,tier=api]", "canary[region=eu-west,tier=web]"]'
jqt '.barriers[] | select(.id == "canaries-eu-west") | .timeout_ms == 600000'
end

begin "matrix, json: expressions expanded per instance"
cmd plan matrix.yml --format json
jqt '.workflows[] | select(.name == "deploy[region=us-east]") | .steps[0].run == "./install.sh us-east"'
jqt '.workflows[] | select(.name == "deploy[region=us-east]") | .steps[2] | .run == "./switch.sh us-east" and .timeout_ms == 90000'
jqt '.workflows[] | select(.name == "deploy[region=ap-south]") | .rollback[0].run == "./rollback.sh ap-south"'
jqt '.workflows[] | select(.name == "canary[region=eu-west,tier=api]") | .steps[0] | .name == "Canary api in eu-west" and .run == "./canary.sh eu-west api"'
jqt '.workflows[] | select(.name == "canary[region=eu-west,tier=web]") | .steps[1].barrier == "canaries-eu-west"'
end

# A run step's default name is the first line of its command; in an
# instance that is the command with the instance's values, not the
# expression text (barrier steps already do this: "barrier canaries-eu-west").
begin "matrix, json: default step names use the expanded command"
cmd plan matrix.yml --format json
jqt '.workflows[] | select(.name == "deploy[region=us-east]") | .steps[0].name == "./install.sh us-east"'
jqt '.workflows[] | select(.name == "deploy[region=ap-south]") | .rollback[0].name == "./rollback.sh ap-south"'
jqt '.workflows[] | select(.name == "canary[region=eu-west,tier=web]") | .steps[1].name == "barrier canaries-eu-west"'
end

begin "matrix, text: instance names in the groups and barriers"
cmd plan matrix.yml
expect_rc 0
expect_err_empty
grep -Fq "group 1: $D, $U, $A (parallel)" "$COUT" || flunk "group 1 does not list the three deploy instances"
grep -Fq "group 2: canary[region=eu-west,tier=web], canary[region=eu-west,tier=api] (parallel)" "$COUT" ||
	flunk "group 2 does not list the two canary instances, keys in the order written"
grep -Fq "group 3: global-check" "$COUT" || flunk "no group 3: global-check"
grep -Fq "  workflow $U" "$COUT" || flunk "no section for workflow $U"
section '^barriers$' '^rollback barriers' >barriers
grep -Eq "participants +deploy\[region=eu-west\], deploy\[region=us-east\], deploy\[region=ap-south\]" barriers ||
	flunk "all-deployed participants are not the three instances"
end

begin "matrix, text: no unexpanded expressions in an instance"
cmd plan matrix.yml
section "^  workflow deploy\\[region=us-east\\]$" '^  workflow ' >wf-us
grep -q 'us-east' wf-us || flunk "the us-east instance does not show its region"
grep -q '\${{' wf-us && flunk "the us-east instance shows an unexpanded expression: $(grep -m1 '\${{' wf-us)"
end

begin "matrix, dot: renders; mermaid: a flowchart with quoted instance names"
cmd plan matrix.yml --format dot
expect_rc 0
dot -Tsvg "$COUT" >m.svg 2>dot.err || flunk "dot -Tsvg failed: $(head -c 300 dot.err)"
[ -s dot.err ] && flunk "dot printed: $(head -c 200 dot.err)"
svg_text m.svg | grep -qF "$U" || flunk "the SVG does not show $U"
cmd plan matrix.yml --format mermaid
expect_rc 0
head -1 "$COUT" | grep -q '^flowchart' || flunk "mermaid does not start with flowchart"
grep -qF "$U" "$COUT" || flunk "mermaid does not show $U"
awk '{ n = gsub(/"/, "\""); if (n % 2) bad = 1 } END { exit bad }' "$COUT" || flunk "mermaid has unbalanced quotes"
end

if [ -f "$SRC/examples/multi-region/pipeline.yml" ]; then
	begin "examples/multi-region: deploy[region=eu-west] and friends meet at all-deployed"
	cmd plan "$SRC/examples/multi-region/pipeline.yml" --format json
	expect_rc 0
	jqt '.groups[0].workflows | sort == (["deploy[region=eu-west]", "deploy[region=us-east]", "deploy[region=ap-south]"] | sort)'
	jqt '.barriers[] | select(.id == "all-deployed") | (.participants | map(.workflow) | sort) == (["deploy[region=eu-west]", "deploy[region=us-east]", "deploy[region=ap-south]"] | sort) and .timeout_ms == 1800000'
	jqt '.rollback_barriers[] | select(.id == "all-reverted") | .participants | length == 3'
	end
fi

# ---- every valid file of the check corpus, every format ----

for yml in "$corpus"/valid/*.yml; do
	name=valid/$(basename "$yml")
	begin "$name: all four formats"
	for fmt in text dot mermaid json; do
		cd "$corpus/valid" && cmd plan "$(basename "$yml")" --format $fmt
		cd "$tmp" || exit 1
		[ "$rc" -eq 0 ] || flunk "--format $fmt: exit code $rc"
		[ -s "$COUT" ] || flunk "--format $fmt: empty output"
		[ -s "$CERR" ] && flunk "--format $fmt: stderr: $(head -c 200 "$CERR")"
		case $fmt in
		dot)
			dot -Tsvg "$COUT" >/dev/null 2>dot.err || flunk "dot -Tsvg failed: $(head -c 200 dot.err)"
			[ -s dot.err ] && flunk "dot printed: $(head -c 200 dot.err)"
			;;
		mermaid)
			head -1 "$COUT" | grep -q '^flowchart' || flunk "mermaid does not start with flowchart"
			awk '{ n = gsub(/"/, "\""); if (n % 2) bad = 1 } END { exit bad }' "$COUT" ||
				flunk "mermaid has unbalanced quotes"
			;;
		json)
			jq -e 'type == "object" and (.groups | length) > 0' "$COUT" >/dev/null 2>&1 ||
				flunk "json does not parse or has no groups"
			;;
		esac
	done
	end
done

# ---- invalid files: exit 3, the check diagnostics on stderr, nothing on stdout ----

for name in b8-swapped yaml-bad-indent b2-lonely expr-unknown-var; do
	begin "invalid/$name: plan exits 3 in every format, stdout empty"
	cd "$corpus/invalid" && cmd check "$name.yml"
	cd "$tmp" || exit 1
	grep -E ': (error|warning|note): ' "$CERR" >want
	for fmt in text dot mermaid json; do
		cd "$corpus/invalid" && cmd plan "$name.yml" --format $fmt
		cd "$tmp" || exit 1
		[ "$rc" -eq 3 ] || flunk "--format $fmt: exit code $rc, want 3"
		[ -s "$COUT" ] && flunk "--format $fmt: stdout is not empty"
		grep -E ': (error|warning|note): ' "$CERR" >got
		[ -s got ] || flunk "--format $fmt: no diagnostics on stderr"
		diff -q want got >/dev/null || flunk "--format $fmt: the diagnostics differ from check's"
	done
	end
done

begin "plan of a file with warnings: exit 0, warnings on stderr, the plan on stdout"
cd "$corpus/invalid" && cmd plan warnings-only.yml --format json
cd "$tmp" || exit 1
expect_rc 0
grep -q 'warning: barrier unused is declared but no step uses it' "$CERR" || flunk "no warning about barrier unused"
grep -q 'warning: workflow cleanup is never used' "$CERR" || flunk "no warning about workflow cleanup"
jqt '.pipeline == "warnings-only"'
end

finish
