
use builtin;
use str;

set edit:completion:arg-completer[kubectl-notify] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'kubectl-notify'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'kubectl-notify'= {
            cand --until 'Wait until EXPR holds for every target, e.g. ''.status.ready == true'''
            cand --for 'Wait for: condition=TYPE[=STATUS], delete, create, jsonpath=''{.path}''[=VALUE], ready (repeatable; all must hold on the same version of the object)'
            cand --fail-if 'Fail at once (exit 1) when EXPR holds for any target, e.g. ''.status.phase == "Failed"'''
            cand --min 'With a selector: at least N of the selected objects must hold (default: all)'
            cand --timeout 'Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once'
            cand --hold 'The condition (--until/--for, or --when) must stay true this long, with no version in between breaking it, before it counts: 30s, 5m'
            cand --when 'Notify only when EXPR becomes true for an object (false → true)'
            cand --on-change 'Notify only when the value at one of these paths changed, e.g. --on-change .data .spec; the paths start with `.` or `$`, and the first value after them that does not is a target'
            cand --events 'Notify only for these kinds of change: created,modified,deleted'
            cand --throttle 'At most one notification per object per DURATION; changes inside the window are folded into one trailing notification with the newest state'
            cand --count 'Exit 0 after N notifications'
            cand --lease 'The Lease --leader-elect holds [default: kubectl-notify]'
            cand --checkpoint 'Keep what was delivered in this ConfigMap (in the namespace) and resume from it on start and takeover: nothing missed across restarts'
            cand -l 'Select objects of TYPE by label, e.g. -l team=payments,tier!=cache'
            cand --selector 'Select objects of TYPE by label, e.g. -l team=payments,tier!=cache'
            cand --field-selector 'Select objects of TYPE by field, e.g. --field-selector metadata.name=foo'
            cand -f 'Watch every object of these manifests: a file, a folder (files ending .json, .yaml, .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable'
            cand --filename 'Watch every object of these manifests: a file, a folder (files ending .json, .yaml, .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable'
            cand -k 'Watch every object `kubectl kustomize DIR` builds'
            cand --kustomize 'Watch every object `kubectl kustomize DIR` builds'
            cand --on-busy 'On a notification while the command runs: queue (default), skip, restart'
            cand --stop-timeout 'Grace between SIGTERM and SIGKILL when stopping the command'
            cand --exec-timeout 'Stop a run of the command that takes longer than this (counts as failed)'
            cand --retries 'Retry a failed run up to N times, with exponential backoff'
            cand --max-failures 'Exit with the command''s code after N failed notifications in a row'
            cand -o 'Output: human (default), json (one object per line), name, jsonpath=TEMPLATE'
            cand --output 'Output: human (default), json (one object per line), name, jsonpath=TEMPLATE'
            cand --diff 'In human output, how to show what changed: full, paths, none'
            cand --color 'Colour: auto (terminals only; NO_COLOR and CLICOLOR_FORCE honoured), always, never'
            cand --sink 'Also deliver every notification (wait mode: the met one) to TYPE:TARGET, repeatable; TYPE is webhook, cloudevents, slack, nats, alertmanager, pagerduty, teams, discord, googlechat or mattermost; TARGET the URL, or env:NAME or file:PATH holding it (sink URLs are secrets: keep them out of argv)'
            cand --message 'The text of chat messages (slack, teams, discord, googlechat, mattermost) and of alerts'' summaries (alertmanager, pagerduty), in -o jsonpath''s template syntax, e.g. ''{.metadata.name} failed: {.status.message}'' (default: the header line and changed paths)'
            cand --alert-name 'The alertname label of alertmanager alerts, also in pagerduty''s dedup_key [default: KubectlNotify]'
            cand --label 'A label on alertmanager alerts (and a custom detail of pagerduty events), repeatable'
            cand --severity 'The severity of pagerduty events (and alertmanager''s severity label): critical, error, warning or info [default: error]'
            cand --sink-queue 'Notifications waiting per sink; when full, older ones of an object fold into its newest'
            cand --flush-timeout 'On exit, keep delivering what is pending for up to this long'
            cand --kubeconfig 'Path to the kubeconfig file to use'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'The namespace of the targets (default: the context''s)'
            cand --namespace 'The namespace of the targets (default: the context''s)'
            cand -s 'The address and port of the Kubernetes API server'
            cand --server 'The address and port of the Kubernetes API server'
            cand --token 'Bearer token for authentication to the API server'
            cand --as 'Username to impersonate for the operation'
            cand --as-group 'Group to impersonate (repeatable)'
            cand --as-uid 'UID to impersonate'
            cand --certificate-authority 'Path to a certificate file for the certificate authority'
            cand --client-certificate 'Path to a client certificate file for TLS'
            cand --client-key 'Path to a client key file for TLS'
            cand --insecure-skip-tls-verify 'Do not verify the server''s certificate (insecure)'
            cand --tls-server-name 'Server name to use for server certificate validation'
            cand --request-timeout 'How long to wait for a single request to the server (0: no limit)'
            cand --cache-dir 'Cache directory for API discovery, shared with kubectl (default: $KUBECACHEDIR, else ~/.kube/cache; '''' for none)'
            cand --name 'With --print-manifests: the name of every object [default: kubectl-notify-<hash of the rule>]'
            cand --metrics-addr 'Serve /metrics (Prometheus text format), /healthz and /readyz on ADDR, e.g. :9090 or 127.0.0.1:9090'
            cand --rules 'Run many rules in one process: a YAML file of named `kubectl notify` command lines (notify mode), sharing one connection, its watches and this line''s process-wide flags'
            cand --log-format 'Warnings and errors on stderr: text, or json (one object per line: time, level, message, target)'
            cand --any 'One target (or one selected object) meeting the condition is enough'
            cand --changes-only 'Ignore the state at start: only a version that arrives later counts'
            cand --resolve 'With --when: also notify (event "resolved") when EXPR stops holding for an object that fired, or that object is deleted: alerts close themselves'
            cand --initial 'Count the state at start as changes (event "initial")'
            cand --leader-elect 'Run as one of several replicas: only the holder of a coordination.k8s.io/v1 Lease in the namespace watches and delivers (client-go''s timings: 15s lease, 10s renew deadline, 2s retry)'
            cand --all 'Select every object of TYPE in the namespace'
            cand -A 'Look in every namespace (implies --all without a selector)'
            cand --all-namespaces 'Look in every namespace (implies --all without a selector)'
            cand -R 'Read the folders given with -f and their sub-folders'
            cand --recursive 'Read the folders given with -f and their sub-folders'
            cand -q 'Print nothing on success'
            cand --quiet 'Print nothing on success'
            cand -v 'Report reconnects and retries on stderr (-vv: also requests)'
            cand --verbose 'Report reconnects and retries on stderr (-vv: also requests)'
            cand --print-manifests 'Print the manifests that run this command in the cluster (ServiceAccount, least-privilege RBAC, a Deployment in notify mode or a Job in wait mode) instead of running it'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
