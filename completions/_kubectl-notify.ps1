
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-notify' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-notify'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-notify' {
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Wait until EXPR holds for every target, e.g. ''.status.ready == true''')
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'Wait for: condition=TYPE[=STATUS], delete, create, jsonpath=''{.path}''[=VALUE], ready (repeatable; all must hold on the same version of the object)')
            [CompletionResult]::new('--fail-if', '--fail-if', [CompletionResultType]::ParameterName, 'Fail at once (exit 1) when EXPR holds for any target, e.g. ''.status.phase == "Failed"''')
            [CompletionResult]::new('--min', '--min', [CompletionResultType]::ParameterName, 'With a selector: at least N of the selected objects must hold (default: all)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once')
            [CompletionResult]::new('--hold', '--hold', [CompletionResultType]::ParameterName, 'The condition (--until/--for, or --when) must stay true this long, with no version in between breaking it, before it counts: 30s, 5m')
            [CompletionResult]::new('--when', '--when', [CompletionResultType]::ParameterName, 'Notify only when EXPR becomes true for an object (false → true)')
            [CompletionResult]::new('--on-change', '--on-change', [CompletionResultType]::ParameterName, 'Notify only when the value at one of these paths changed, e.g. --on-change .data .spec; the paths start with `.` or `$`, and the first value after them that does not is a target')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Notify only for these kinds of change: created,modified,deleted')
            [CompletionResult]::new('--throttle', '--throttle', [CompletionResultType]::ParameterName, 'At most one notification per object per DURATION; changes inside the window are folded into one trailing notification with the newest state')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit 0 after N notifications')
            [CompletionResult]::new('--lease', '--lease', [CompletionResultType]::ParameterName, 'The Lease --leader-elect holds [default: kubectl-notify]')
            [CompletionResult]::new('--checkpoint', '--checkpoint', [CompletionResultType]::ParameterName, 'Keep what was delivered in this ConfigMap (in the namespace) and resume from it on start and takeover: nothing missed across restarts')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Select objects of TYPE by label, e.g. -l team=payments,tier!=cache')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Select objects of TYPE by label, e.g. -l team=payments,tier!=cache')
            [CompletionResult]::new('--field-selector', '--field-selector', [CompletionResultType]::ParameterName, 'Select objects of TYPE by field, e.g. --field-selector metadata.name=foo')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Watch every object of these manifests: a file, a folder (files ending .json, .yaml, .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Watch every object of these manifests: a file, a folder (files ending .json, .yaml, .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Watch every object `kubectl kustomize DIR` builds')
            [CompletionResult]::new('--kustomize', '--kustomize', [CompletionResultType]::ParameterName, 'Watch every object `kubectl kustomize DIR` builds')
            [CompletionResult]::new('--on-busy', '--on-busy', [CompletionResultType]::ParameterName, 'On a notification while the command runs: queue (default), skip, restart')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'Grace between SIGTERM and SIGKILL when stopping the command')
            [CompletionResult]::new('--exec-timeout', '--exec-timeout', [CompletionResultType]::ParameterName, 'Stop a run of the command that takes longer than this (counts as failed)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retry a failed run up to N times, with exponential backoff')
            [CompletionResult]::new('--max-failures', '--max-failures', [CompletionResultType]::ParameterName, 'Exit with the command''s code after N failed notifications in a row')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output: human (default), json (one object per line), name, jsonpath=TEMPLATE')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output: human (default), json (one object per line), name, jsonpath=TEMPLATE')
            [CompletionResult]::new('--diff', '--diff', [CompletionResultType]::ParameterName, 'In human output, how to show what changed: full, paths, none')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour: auto (terminals only; NO_COLOR and CLICOLOR_FORCE honoured), always, never')
            [CompletionResult]::new('--sink', '--sink', [CompletionResultType]::ParameterName, 'Also deliver every notification (wait mode: the met one) to TYPE:TARGET, repeatable; TYPE is webhook, cloudevents, slack, nats, alertmanager, pagerduty, teams, discord, googlechat or mattermost; TARGET the URL, or env:NAME or file:PATH holding it (sink URLs are secrets: keep them out of argv)')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'The text of chat messages (slack, teams, discord, googlechat, mattermost) and of alerts'' summaries (alertmanager, pagerduty), in -o jsonpath''s template syntax, e.g. ''{.metadata.name} failed: {.status.message}'' (default: the header line and changed paths)')
            [CompletionResult]::new('--alert-name', '--alert-name', [CompletionResultType]::ParameterName, 'The alertname label of alertmanager alerts, also in pagerduty''s dedup_key [default: KubectlNotify]')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'A label on alertmanager alerts (and a custom detail of pagerduty events), repeatable')
            [CompletionResult]::new('--severity', '--severity', [CompletionResultType]::ParameterName, 'The severity of pagerduty events (and alertmanager''s severity label): critical, error, warning or info [default: error]')
            [CompletionResult]::new('--sink-queue', '--sink-queue', [CompletionResultType]::ParameterName, 'Notifications waiting per sink; when full, older ones of an object fold into its newest')
            [CompletionResult]::new('--flush-timeout', '--flush-timeout', [CompletionResultType]::ParameterName, 'On exit, keep delivering what is pending for up to this long')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file to use')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace of the targets (default: the context''s)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace of the targets (default: the context''s)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'The address and port of the Kubernetes API server')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The address and port of the Kubernetes API server')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Bearer token for authentication to the API server')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Username to impersonate for the operation')
            [CompletionResult]::new('--as-group', '--as-group', [CompletionResultType]::ParameterName, 'Group to impersonate (repeatable)')
            [CompletionResult]::new('--as-uid', '--as-uid', [CompletionResultType]::ParameterName, 'UID to impersonate')
            [CompletionResult]::new('--certificate-authority', '--certificate-authority', [CompletionResultType]::ParameterName, 'Path to a certificate file for the certificate authority')
            [CompletionResult]::new('--client-certificate', '--client-certificate', [CompletionResultType]::ParameterName, 'Path to a client certificate file for TLS')
            [CompletionResult]::new('--client-key', '--client-key', [CompletionResultType]::ParameterName, 'Path to a client key file for TLS')
            [CompletionResult]::new('--insecure-skip-tls-verify', '--insecure-skip-tls-verify', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (insecure)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Server name to use for server certificate validation')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long to wait for a single request to the server (0: no limit)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Cache directory for API discovery, shared with kubectl (default: $KUBECACHEDIR, else ~/.kube/cache; '''' for none)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'With --print-manifests: the name of every object [default: kubectl-notify-<hash of the rule>]')
            [CompletionResult]::new('--metrics-addr', '--metrics-addr', [CompletionResultType]::ParameterName, 'Serve /metrics (Prometheus text format), /healthz and /readyz on ADDR, e.g. :9090 or 127.0.0.1:9090')
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'Run many rules in one process: a YAML file of named `kubectl notify` command lines (notify mode), sharing one connection, its watches and this line''s process-wide flags')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Warnings and errors on stderr: text, or json (one object per line: time, level, message, target)')
            [CompletionResult]::new('--any', '--any', [CompletionResultType]::ParameterName, 'One target (or one selected object) meeting the condition is enough')
            [CompletionResult]::new('--changes-only', '--changes-only', [CompletionResultType]::ParameterName, 'Ignore the state at start: only a version that arrives later counts')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'With --when: also notify (event "resolved") when EXPR stops holding for an object that fired, or that object is deleted: alerts close themselves')
            [CompletionResult]::new('--initial', '--initial', [CompletionResultType]::ParameterName, 'Count the state at start as changes (event "initial")')
            [CompletionResult]::new('--leader-elect', '--leader-elect', [CompletionResultType]::ParameterName, 'Run as one of several replicas: only the holder of a coordination.k8s.io/v1 Lease in the namespace watches and delivers (client-go''s timings: 15s lease, 10s renew deadline, 2s retry)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Select every object of TYPE in the namespace')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Look in every namespace (implies --all without a selector)')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Look in every namespace (implies --all without a selector)')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Read the folders given with -f and their sub-folders')
            [CompletionResult]::new('--recursive', '--recursive', [CompletionResultType]::ParameterName, 'Read the folders given with -f and their sub-folders')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on success')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on success')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Report reconnects and retries on stderr (-vv: also requests)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Report reconnects and retries on stderr (-vv: also requests)')
            [CompletionResult]::new('--print-manifests', '--print-manifests', [CompletionResultType]::ParameterName, 'Print the manifests that run this command in the cluster (ServiceAccount, least-privilege RBAC, a Deployment in notify mode or a Job in wait mode) instead of running it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
