#!/bin/sh
# smoke-tests.sh VERSION: both services run VERSION and all their pods
# are available. Uses kubectl with the context in $KUBE_CONTEXT (the
# workflow's env says `local`); KUBECONFIG as lockstep was started with.
set -eu
version=$1
ctx=${KUBE_CONTEXT:-local}
status=0
for svc in backend frontend; do
	out=$(kubectl --context "$ctx" -n "$svc" get deployment "$svc" \
		-o jsonpath='{.spec.template.spec.containers[0].image} {.spec.replicas} {.status.availableReplicas}')
	set -- $out
	image=$1 want=$2 have=${3:-0}
	case $image in
	*:"$version") ;;
	*) echo "smoke-tests.sh: $svc runs $image, not version $version" >&2; status=1; continue ;;
	esac
	if [ "$have" != "$want" ]; then
		echo "smoke-tests.sh: $svc has $have of $want pods available" >&2
		status=1
		continue
	fi
	echo "smoke-tests.sh: ok: $svc runs $image on $have pods"
done
[ "$status" -eq 0 ] && echo "smoke-tests.sh: both services run $version"
exit "$status"
