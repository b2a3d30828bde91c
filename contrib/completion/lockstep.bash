# bash completion for lockstep(1): commands, their options, option values,
# pipeline files, and run ids (from `lockstep runs --json`, in the state
# directory of --state, $LOCKSTEP_STATE or ./.lockstep).
#
# Installed as share/bash-completion/completions/lockstep, where
# bash-completion loads it on first use; or source it from ~/.bashrc. It
# needs nothing but bash: the bash-completion package is not required.
# shellcheck shell=bash

_lockstep_commands="check plan run runs show logs resume abort help"

# _lockstep_options COMMAND: the options of COMMAND.
_lockstep_options() {
	case $1 in
	check) echo "--json --var --kubectl --help" ;;
	plan) echo "--format --var --kubectl --help" ;;
	run) echo "--var --state --json --no-rollback --kill-grace --max-log --max-parallel --kubectl --help" ;;
	runs) echo "--state --json --limit --pipeline --status --help" ;;
	show) echo "--state --json --help" ;;
	logs) echo "--state --follow --help" ;;
	resume | abort) echo "--state --json --kill-grace --max-parallel --kubectl --help" ;;
	esac
}

# _lockstep_run_ids STATE: `last` and the ids of the newest runs recorded
# in STATE (empty: the default). Quiet when there are none.
_lockstep_run_ids() {
	local -a state=()
	[ -n "$1" ] && state=(--state "$1")
	echo last
	"${_lockstep_bin:-lockstep}" runs "${state[@]}" --json --limit 50 2>/dev/null |
		grep -o '"run":[0-9]*' | cut -d: -f2
}

_lockstep() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd="" state="" i w npos=0
	_lockstep_bin=${COMP_WORDS[0]}
	COMPREPLY=()
	# bash splits `--state=DIR` into three words at '=' (COMP_WORDBREAKS).
	if [ "$cur" = = ]; then
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		cur=
	elif [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	# The command, the --state given so far, and how many arguments
	# (not options or their values) come before the word completed.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--state=*) state=${w#--state=} ;;
		--state)
			state=${COMP_WORDS[i + 1]}
			[ "$state" = = ] && state=${COMP_WORDS[i + 2]}
			;;
		esac
		if [ -z "$cmd" ]; then
			case $w in -*) ;; *) cmd=$w ;; esac
			continue
		fi
		case $w in
		--var | --kubectl | --format | -f | --state | --kill-grace | --max-log | --max-parallel | \
			--limit | --pipeline | --status)
			if [ "$cmd" != logs ] || [ "$w" != -f ]; then
				((i++))
				[ "${COMP_WORDS[i]}" = = ] && ((i++))
			fi
			;;
		-*) ;;
		*) npos=$((npos + 1)) ;;
		esac
	done

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_lockstep_commands" -- "$cur")
		fi
		return 0
	fi

	# The value of an option.
	case $prev in
	--state)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0
		;;
	--kubectl)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	--format | -f)
		if [ "$cmd" = plan ]; then
			mapfile -t COMPREPLY < <(compgen -W "text dot mermaid json" -- "$cur")
			return 0
		fi
		;;
	--status)
		mapfile -t COMPREPLY < <(compgen -W "running succeeded failed aborted interrupted" -- "$cur")
		return 0
		;;
	--var | --kill-grace | --max-log | --max-parallel | --limit | --pipeline)
		return 0
		;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lockstep_options "$cmd")" -- "$cur")
		return 0
	fi
	case $cmd in
	check | plan | run)
		# Pipeline files, and directories on the way to them (the
		# pattern needs extglob, which is put back as it was).
		local glob
		glob=$(shopt -p extglob)
		shopt -s extglob
		mapfile -t COMPREPLY < <(compgen -f -X '!*.@(yml|yaml)' -- "$cur"; compgen -d -- "$cur")
		eval "$glob"
		compopt -o filenames 2>/dev/null
		;;
	show | logs | resume | abort)
		[ "$npos" -eq 0 ] && mapfile -t COMPREPLY < <(compgen -W "$(_lockstep_run_ids "$state")" -- "$cur")
		;;
	help)
		[ "$npos" -eq 0 ] && mapfile -t COMPREPLY < <(compgen -W "${_lockstep_commands% help}" -- "$cur")
		;;
	esac
	return 0
}

complete -F _lockstep lockstep
