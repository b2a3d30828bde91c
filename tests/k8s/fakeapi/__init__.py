"""The fake Kubernetes API server's code, one concept per module.

tests/k8s/fake-apiserver.py, next to this package, is what tests start: it
makes the package importable and runs server.main(). Nothing here but the
modules; roughly from the bottom up:

  common        annotation and label names, times, hashes, canonical JSON
  options       the command line (parse_args) and ARGS, the parsed options
  resources     resource types: what discovery lists and the store keys by
  errors        ApiError, which becomes a Status body
  selectors     label and field selectors
  patches       strategic merge, JSON merge and JSON patches; what
                server-side apply removes
  protobuf      Kubernetes protobuf request bodies decoded to JSON
  defaults      defaulting, as the API server does it
  store         the objects, the resource version counter, watch history
  writes        create, update, delete, garbage collection
  pods          simulated pods: template hash, failures, status, events
  deployments   the Deployment controller (ReplicaSets, rolling updates)
  revisions     ControllerRevisions of StatefulSets and DaemonSets
  statefulsets  the StatefulSet controller
  daemonsets    the DaemonSet controller
  controllers   the loop that runs the controllers every --tick
  discovery     /version, /api, /apis, aggregated discovery
  openapi       OpenAPI v2 (gnostic protobuf) and v3 documents
  tables        the Tables that `kubectl get` prints
  routes        resource URL paths parsed into a Route
  handler       the HTTP handler: documents, reads, watches, writes, and
                the JSON lines request log
  server        start-up: seed objects, URL and kubeconfig files, serving,
                signals

Python 3 standard library only.
"""
