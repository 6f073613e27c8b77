complete -c kubectl-notify -l until -d 'Wait until EXPR holds for every target, e.g. \'.status.ready == true\'' -r
complete -c kubectl-notify -l for -d 'Wait for: condition=TYPE[=STATUS], delete, create, jsonpath=\'{.path}\'[=VALUE], ready (repeatable; all must hold on the same version of the object)' -r
complete -c kubectl-notify -l fail-if -d 'Fail at once (exit 1) when EXPR holds for any target, e.g. \'.status.phase == "Failed"\'' -r
complete -c kubectl-notify -l min -d 'With a selector: at least N of the selected objects must hold (default: all)' -r
complete -c kubectl-notify -l timeout -d 'Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once' -r
complete -c kubectl-notify -l hold -d 'The condition (--until/--for, or --when) must stay true this long, with no version in between breaking it, before it counts: 30s, 5m' -r
complete -c kubectl-notify -l when -d 'Notify only when EXPR becomes true for an object (false → true)' -r
complete -c kubectl-notify -l on-change -d 'Notify only when the value at one of these paths changed, e.g. --on-change .data .spec; the paths start with `.` or `$`, and the first value after them that does not is a target' -r
complete -c kubectl-notify -l events -d 'Notify only for these kinds of change: created,modified,deleted' -r
complete -c kubectl-notify -l throttle -d 'At most one notification per object per DURATION; changes inside the window are folded into one trailing notification with the newest state' -r
complete -c kubectl-notify -l count -d 'Exit 0 after N notifications' -r
complete -c kubectl-notify -l lease -d 'The Lease --leader-elect holds [default: kubectl-notify]' -r
complete -c kubectl-notify -l checkpoint -d 'Keep what was delivered in this ConfigMap (in the namespace) and resume from it on start and takeover: nothing missed across restarts' -r
complete -c kubectl-notify -s l -l selector -d 'Select objects of TYPE by label, e.g. -l team=payments,tier!=cache' -r
complete -c kubectl-notify -l field-selector -d 'Select objects of TYPE by field, e.g. --field-selector metadata.name=foo' -r
complete -c kubectl-notify -s f -l filename -d 'Watch every object of these manifests: a file, a folder (files ending .json, .yaml, .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable' -r
complete -c kubectl-notify -s k -l kustomize -d 'Watch every object `kubectl kustomize DIR` builds' -r
complete -c kubectl-notify -l on-busy -d 'On a notification while the command runs: queue (default), skip, restart' -r -f -a "queue\t''
skip\t''
restart\t''"
complete -c kubectl-notify -l stop-timeout -d 'Grace between SIGTERM and SIGKILL when stopping the command' -r
complete -c kubectl-notify -l exec-timeout -d 'Stop a run of the command that takes longer than this (counts as failed)' -r
complete -c kubectl-notify -l retries -d 'Retry a failed run up to N times, with exponential backoff' -r
complete -c kubectl-notify -l max-failures -d 'Exit with the command\'s code after N failed notifications in a row' -r
complete -c kubectl-notify -s o -l output -d 'Output: human (default), json (one object per line), name, jsonpath=TEMPLATE' -r
complete -c kubectl-notify -l diff -d 'In human output, how to show what changed: full, paths, none' -r -f -a "full\t''
paths\t''
none\t''"
complete -c kubectl-notify -l color -d 'Colour: auto (terminals only; NO_COLOR and CLICOLOR_FORCE honoured), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c kubectl-notify -l sink -d 'Also deliver every notification (wait mode: the met one) to TYPE:TARGET, repeatable; TYPE is webhook, cloudevents, slack, nats, alertmanager, pagerduty, teams, discord, googlechat or mattermost; TARGET the URL, or env:NAME or file:PATH holding it (sink URLs are secrets: keep them out of argv)' -r
complete -c kubectl-notify -l message -d 'The text of chat messages (slack, teams, discord, googlechat, mattermost) and of alerts\' summaries (alertmanager, pagerduty), in -o jsonpath\'s template syntax, e.g. \'{.metadata.name} failed: {.status.message}\' (default: the header line and changed paths)' -r
complete -c kubectl-notify -l alert-name -d 'The alertname label of alertmanager alerts, also in pagerduty\'s dedup_key [default: KubectlNotify]' -r
complete -c kubectl-notify -l label -d 'A label on alertmanager alerts (and a custom detail of pagerduty events), repeatable' -r
complete -c kubectl-notify -l severity -d 'The severity of pagerduty events (and alertmanager\'s severity label): critical, error, warning or info [default: error]' -r
complete -c kubectl-notify -l sink-queue -d 'Notifications waiting per sink; when full, older ones of an object fold into its newest' -r
complete -c kubectl-notify -l flush-timeout -d 'On exit, keep delivering what is pending for up to this long' -r
complete -c kubectl-notify -l kubeconfig -d 'Path to the kubeconfig file to use' -r -F
complete -c kubectl-notify -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-notify -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-notify -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-notify -s n -l namespace -d 'The namespace of the targets (default: the context\'s)' -r
complete -c kubectl-notify -s s -l server -d 'The address and port of the Kubernetes API server' -r
complete -c kubectl-notify -l token -d 'Bearer token for authentication to the API server' -r
complete -c kubectl-notify -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-notify -l as-group -d 'Group to impersonate (repeatable)' -r
complete -c kubectl-notify -l as-uid -d 'UID to impersonate' -r
complete -c kubectl-notify -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-notify -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-notify -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-notify -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)' -r -f -a "true\t''
false\t''"
complete -c kubectl-notify -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-notify -l request-timeout -d 'How long to wait for a single request to the server (0: no limit)' -r
complete -c kubectl-notify -l cache-dir -d 'Cache directory for API discovery, shared with kubectl (default: $KUBECACHEDIR, else ~/.kube/cache; \'\' for none)' -r -f -a "(__fish_complete_directories)"
complete -c kubectl-notify -l name -d 'With --print-manifests: the name of every object [default: kubectl-notify-<hash of the rule>]' -r
complete -c kubectl-notify -l metrics-addr -d 'Serve /metrics (Prometheus text format), /healthz and /readyz on ADDR, e.g. :9090 or 127.0.0.1:9090' -r
complete -c kubectl-notify -l rules -d 'Run many rules in one process: a YAML file of named `kubectl notify` command lines (notify mode), sharing one connection, its watches and this line\'s process-wide flags' -r -F
complete -c kubectl-notify -l log-format -d 'Warnings and errors on stderr: text, or json (one object per line: time, level, message, target)' -r
complete -c kubectl-notify -l any -d 'One target (or one selected object) meeting the condition is enough'
complete -c kubectl-notify -l changes-only -d 'Ignore the state at start: only a version that arrives later counts'
complete -c kubectl-notify -l resolve -d 'With --when: also notify (event "resolved") when EXPR stops holding for an object that fired, or that object is deleted: alerts close themselves'
complete -c kubectl-notify -l initial -d 'Count the state at start as changes (event "initial")'
complete -c kubectl-notify -l leader-elect -d 'Run as one of several replicas: only the holder of a coordination.k8s.io/v1 Lease in the namespace watches and delivers (client-go\'s timings: 15s lease, 10s renew deadline, 2s retry)'
complete -c kubectl-notify -l all -d 'Select every object of TYPE in the namespace'
complete -c kubectl-notify -s A -l all-namespaces -d 'Look in every namespace (implies --all without a selector)'
complete -c kubectl-notify -s R -l recursive -d 'Read the folders given with -f and their sub-folders'
complete -c kubectl-notify -s q -l quiet -d 'Print nothing on success'
complete -c kubectl-notify -s v -l verbose -d 'Report reconnects and retries on stderr (-vv: also requests)'
complete -c kubectl-notify -l print-manifests -d 'Print the manifests that run this command in the cluster (ServiceAccount, least-privilege RBAC, a Deployment in notify mode or a Job in wait mode) instead of running it'
complete -c kubectl-notify -s h -l help -d 'Print help'
complete -c kubectl-notify -s V -l version -d 'Print version'
