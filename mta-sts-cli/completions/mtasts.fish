# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mtasts_global_optspecs
    string join \n json h/help V/version
end

function __fish_mtasts_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mtasts_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mtasts_using_subcommand
    set -l cmd (__fish_mtasts_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mtasts -n "__fish_mtasts_needs_command" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_needs_command" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_needs_command" -s V -l version -d 'Print version'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "policy" -d 'Work with policy files (`/.well-known/mta-sts.txt`)'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "record" -d 'Work with `_mta-sts` and `_smtp._tls` TXT records'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "report" -d 'Work with TLS-RPT reports (JSON, gzip or e-mail)'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "cert" -d 'Check MX host certificates'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "check" -d 'Check a domain end to end: TXT record, policy fetch, MX hosts (SMTP STARTTLS probe), TLS-RPT record'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "daemon" -d 'Run the MTA-STS policy daemon for Postfix (socketmap for smtp_tls_policy_maps)'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "tlsrpt" -d 'TLS-RPT for Postfix: collect its libtlsrpt datagrams, send the daily reports'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "domain" -d 'Host MTA-STS for your domains: add, change, remove them, the DNS records to publish, verify, promote to enforce'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "serve" -d 'Serve the policies of every hosted domain over HTTPS (SNI, ACME certificates)'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "alerts" -d 'List the alerts of the site store with their delivery state; run the probes or deliver once'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "user" -d 'Accounts of the dashboards and the JSON API of `mtasts serve`: add, list, remove, new token'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "man" -d 'Print the man page of mtasts, or write one page per command with --out DIR'
complete -c mtasts -n "__fish_mtasts_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -f -a "parse" -d 'Parse a policy file and print its fields (lenient reader by default)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -f -a "lint" -d 'Parse a policy file leniently and give advice; exit 1 on any error finding'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -f -a "match" -d 'Show which `mx` pattern matches each MX host; exit 1 unless all match'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -f -a "generate" -d 'Write a new policy and the matching TXT record'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and not __fish_seen_subcommand_from parse lint match generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from parse" -l strict -d 'Use the strict RFC 8461 grammar instead of the lenient reader'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from parse" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from parse" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from lint" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from lint" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from match" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from match" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l mode -d 'The policy mode' -r -f -a "enforce\t'Refuse delivery to MX hosts that fail validation'
testing\t'Deliver anyway, report failures'
none\t'Withdraw the policy'"
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l mx -d 'An MX host pattern (`mail.example.com`, `*.example.net`; U-labels are converted to A-labels). Repeat for several; required unless the mode is `none`' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l max-age -d 'How long senders may cache the policy, in seconds (0 to 31557600; under 86400 draws the lint warning)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l id -d 'The policy id for the TXT record [default: current UTC time as YYYYMMDDhhmmss]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l domain -d 'The Policy Domain [default: the placeholder `example.com`]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l rua -d 'A TLS-RPT reporting address (`mailto:` or `https:`) for the `_smtp._tls` record; repeat for several' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l output-dir -d 'Write `mta-sts.txt` (the policy body) and `dns.txt` (the DNS records in zone-file syntax) into DIR (created if missing) instead of printing them' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "parse" -d 'Parse a policy file and print its fields (lenient reader by default)'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "lint" -d 'Parse a policy file leniently and give advice; exit 1 on any error finding'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "match" -d 'Show which `mx` pattern matches each MX host; exit 1 unless all match'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Write a new policy and the matching TXT record'
complete -c mtasts -n "__fish_mtasts_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and not __fish_seen_subcommand_from parse help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and not __fish_seen_subcommand_from parse help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and not __fish_seen_subcommand_from parse help" -f -a "parse" -d 'Select and parse the record of a DNS TXT answer (one argument per RR); the kind (`v=STSv1` or `v=TLSRPTv1`) is detected'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and not __fish_seen_subcommand_from parse help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and __fish_seen_subcommand_from parse" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and __fish_seen_subcommand_from parse" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and __fish_seen_subcommand_from help" -f -a "parse" -d 'Select and parse the record of a DNS TXT answer (one argument per RR); the kind (`v=STSv1` or `v=TLSRPTv1`) is detected'
complete -c mtasts -n "__fish_mtasts_using_subcommand record; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "parse" -d 'Read one report and print it in the strict RFC 8460 JSON form'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "summarize" -d 'Summarize reports: totals, per domain, MX host, result type, organisation and day, duplicates and alerts'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "export" -d 'Export reports as flat rows (parsedmarc-compatible CSV, or NDJSON)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "ingest" -d 'Store reports (files, or one e-mail on stdin for a mail alias pipe) in the site store, once each, with their DKIM result'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "aggregate" -d 'Count libtlsrpt datagrams (one JSON object per line) under one UTC day and write that day\'s reports, one per policy domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and not __fish_seen_subcommand_from parse summarize export ingest aggregate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from parse" -l max-size -d 'Largest report JSON (after gzip decompression) and largest decoded e-mail part, in bytes [default: 33554432 (32 MiB)]. An e-mail message may be twice this size, at least 64 MiB' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from parse" -l strict -d 'Use the strict RFC 8460 JSON reader instead of the lenient one'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from parse" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from parse" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l max-size -d 'Largest report JSON (after gzip decompression) and largest decoded e-mail part, in bytes [default: 33554432 (32 MiB)]. An e-mail message may be twice this size, at least 64 MiB' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l state -d 'Read the reports stored in the embedded site store under DIR (`report ingest --state DIR`) instead of files' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l database -d 'Read the reports stored in this PostgreSQL site database instead of files' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l since -l from -d 'Only reports whose date range starts on DATE (UTC) or later' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l until -l to -d 'Only reports whose date range starts on DATE (UTC) or earlier; also the last day of the readiness window' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l domain -d 'Only the policies of this policy domain (repeat for several); reports without one are left out' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l top -d 'Show at most N rows per table (text output; the most recent days in the table by day; --json lists everything)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l readiness-days -d 'The length of the readiness window, in UTC days' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l max-groups -d 'Distinct keys kept per grouping (MX hosts, policy domains, organisations, days, result types, alerts); later new keys are counted under `(other)`, with a warning. Bounds memory whatever the input' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -s v -l verbose -d 'List every reader warning per input (`warning: NAME: ...`) instead of one line counting them'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l strict-inputs -d 'Fail on inputs that are no report at all (mail without a report part, files that are neither JSON, gzip nor e-mail, empty files) found in a directory or an mbox, instead of skipping them with a warning'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l no-fail-on-alerts -d 'Exit 0 even when an alert has severity error (default: status 3)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from summarize" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l format -d 'The output format' -r -f -a "csv\t'RFC 4180 CSV with a header row (CRLF line ends; control characters in values escaped, `\\u{1b}` style)'
ndjson\t'One JSON object per line'"
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l max-size -d 'Largest report JSON (after gzip decompression) and largest decoded e-mail part, in bytes [default: 33554432 (32 MiB)]. An e-mail message may be twice this size, at least 64 MiB' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l state -d 'Read the reports stored in the embedded site store under DIR (`report ingest --state DIR`) instead of files' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l database -d 'Read the reports stored in this PostgreSQL site database instead of files' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l since -l from -d 'Only reports whose date range starts on DATE (UTC) or later' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l until -l to -d 'Only reports whose date range starts on DATE (UTC) or earlier; also the last day of the readiness window' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l domain -d 'Only the policies of this policy domain (repeat for several); reports without one are left out' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l formula-guard -d 'Prefix `\'` to CSV text values that start with `=`, `+`, `-` or `@`, so spreadsheets do not run them as formulas (alters the data; CSV only). Control characters in values are always escaped'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -s v -l verbose -d 'List every reader warning per input (`warning: NAME: ...`) instead of one line counting them'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l strict-inputs -d 'Fail on inputs that are no report at all (mail without a report part, files that are neither JSON, gzip nor e-mail, empty files) found in a directory or an mbox, instead of skipping them with a warning'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l database -d 'A PostgreSQL connection string shared by several ingest nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l dkim-resolver -d 'The only DNS server asked for DKIM keys (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l retain-days -d 'Keep reports received at most N days ago (pruned at most once an hour); 0 keeps everything' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-webhook -d 'POST each new alert as JSON to this https:// URL (Slack and Mattermost show its `text`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-smtp -d 'Mail each new alert through this SMTP relay: smtp://HOST[:PORT] (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a local relay) or smtps://HOST[:PORT]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-to -d 'A recipient of alert mail (repeat for several)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-from -d 'The sender of alert mail (From: and envelope)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-smtp-ca-file -d 'Trust anchors (PEM) for the relay\'s certificate instead of the system\'s' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l alert-quiet -d 'The same alert (domain, result type, MX host) is raised at most once in this many hours; repeats update its counts' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l max-size -d 'Largest report JSON (after gzip decompression) and largest decoded e-mail part, in bytes [default: 33554432 (32 MiB)]. An e-mail message may be twice this size, at least 64 MiB' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l maildir -d 'Ingest the unprocessed messages of this Maildir (those in new/, and in cur/ without the S flag): stored or duplicate ones are moved to cur/ flagged S, rejected ones to DIR/.rejected; with the store unavailable they stay (exit 75)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l imap -d 'Ingest the messages of an IMAP mailbox (implicit TLS): imaps://USER@HOST[:PORT]/MAILBOX; processed ones are moved to --imap-done-folder, rejected ones to TLSRPT-Rejected' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l password-file -d 'The IMAP password: the first line of this file' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l imap-done-folder -d 'The IMAP folder stored and duplicate reports are moved to (created when missing) [default: TLSRPT-Done]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l imap-root -d 'Trust only the CA certificates of this PEM file for the IMAP server (default: the system\'s roots)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l require-dkim -d 'Reject mail whose DKIM result is fail or none (default: accept and record)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l prune -d 'Prune now (reports received more than --retain-days days ago), whenever the last prune was; FILEs are optional with it'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l watch -d 'With --maildir or --imap: keep going (inotify, IMAP IDLE) until SIGINT or SIGTERM'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from ingest" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l day -d 'The UTC day the reports cover' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l org -d '`organization-name` of the reports' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l contact -d '`contact-info` of the reports: an e-mail address at the submitter\'s domain' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l submitter -d 'The submitter\'s domain (report-id, file names, `TLS-Report-Submitter`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l unique-id -d 'The unique part of the report ids (1 to 64 ASCII letters and digits)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from aggregate" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "parse" -d 'Read one report and print it in the strict RFC 8460 JSON form'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "summarize" -d 'Summarize reports: totals, per domain, MX host, result type, organisation and day, duplicates and alerts'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export reports as flat rows (parsedmarc-compatible CSV, or NDJSON)'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "ingest" -d 'Store reports (files, or one e-mail on stdin for a mail alias pipe) in the site store, once each, with their DKIM result'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "aggregate" -d 'Count libtlsrpt datagrams (one JSON object per line) under one UTC day and write that day\'s reports, one per policy domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and not __fish_seen_subcommand_from check help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Check that a certificate is valid for an MX host (names and validity period only; chain validation is the TLS library\'s job)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from check" -l mx -d 'The MX host name the certificate must be valid for' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from check" -l at -d 'Check at this time instead of now (RFC 3339, e.g. `2030-01-01T00:00:00Z`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from check" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check that a certificate is valid for an MX host (names and validity period only; chain validation is the TLS library\'s job)'
complete -c mtasts -n "__fish_mtasts_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l domains-file -d 'Also check the domains listed in FILE (`-` for stdin): one per line, blank lines and `#` comments ignored, at most 10 MiB; an invalid name is reported as that domain\'s error' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l concurrency -d 'Check at most N domains at once' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l format -d 'Output format (`--json` is `--format json`)' -r -f -a "text\t'One readable block per domain, then a summary line per domain'
json\t'The report object (one domain) or an array of them'
csv\t'A header and one row per domain'"
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l timeout -d 'Timeout in seconds of the policy fetch and of each MX probe' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l resolver -d 'The only DNS server to use (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l ca-file -d 'Trust anchors (PEM) used instead of the system\'s, for policy hosts and MX certificates' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l extra-ca-file -d 'Extra trust anchors (PEM) added to the system\'s (ignored with --ca-file)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l https-port -d 'Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l smtp-port -d 'Port for every MX probe (each MX is still reached at its A/AAAA addresses)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l no-smtp -d 'Do not probe the MX hosts over SMTP (outbound port 25 blocked): they are looked up and matched, and reported as not probed (--smtp-port is then unused)'
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l listen -d 'TCP address to listen on; repeat for several. Replaces `listen` of the configuration file' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l unix -d 'Unix-domain socket to listen on; repeat for several. Replaces `unix` of the configuration file' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l state -d 'Directory of the persistent policy cache (`policies.redb`); default: the file\'s `state_dir`, else memory only' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l database -d 'Share the policy cache with other MTAs in PostgreSQL (`postgresql://user@host/db`, or `host=/run/postgresql dbname=mail`; no TLS: use a Unix socket, loopback or a trusted network) instead of a state directory. Replaces `database` of the configuration file' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l config -d 'The TOML configuration file (re-read on SIGHUP)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l metrics -d 'Serve Prometheus metrics (GET /metrics, plain HTTP, no authentication) on this address; replaces `metrics` of the configuration file. A change needs a restart' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l resolver -d 'The only DNS server to use (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l ca-file -d 'Trust anchors (PEM) used instead of the system\'s, for policy hosts' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l extra-ca-file -d 'Extra trust anchors (PEM) added to the system\'s (ignored with --ca-file)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l https-port -d 'Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l log-format -d 'Log lines on stderr as `text` (`info: message key=value ...`) or `json` (one object per line)' -r -f -a "text\t'`<level>: <message> key=value ...`'
json\t'One JSON object per line'"
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -s v -l verbose -d 'Log more: `-v` debug events, `-vv` trace events (default: info)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -f -a "cache" -d 'Inspect or flush the persistent policy cache of a stopped daemon'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and not __fish_seen_subcommand_from cache help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -f -a "list" -d 'One line per cached domain: domain, mode, policy id, fetched at, expires at, policy size in bytes (\'-\' where there is no policy)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -f -a "show" -d 'One cached entry and its policy body'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -f -a "flush" -d 'Remove the entry of DOMAIN, or every entry'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from cache" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "cache" -d 'Inspect or flush the persistent policy cache of a stopped daemon'
complete -c mtasts -n "__fish_mtasts_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and not __fish_seen_subcommand_from collect send help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and not __fish_seen_subcommand_from collect send help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and not __fish_seen_subcommand_from collect send help" -f -a "collect" -d 'Run the TLS-RPT collector: receive Postfix\'s libtlsrpt datagrams on an AF_UNIX datagram socket and keep each UTC day\'s aggregate in the state directory'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and not __fish_seen_subcommand_from collect send help" -f -a "send" -d 'Make and deliver the TLS-RPT reports of a UTC day from the state directory (yesterday by default), and retry failed deliveries'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and not __fish_seen_subcommand_from collect send help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l socket -d 'The AF_UNIX datagram socket to receive on (a stale socket file there is replaced)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l state -d 'The state directory (journal, partials, reports); created if missing' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l node -d 'This node\'s name (A-Z a-z 0-9 . _ -, at most 64) [default: the one in STATE/node, else the host name]; stored in STATE/node' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l socket-mode -d 'Permissions of the socket file, in octal: who may send' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l grace -d 'Seconds a UTC day stays open after it ended, for datagrams received before midnight and still being written' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l log-format -d 'Log lines on stderr as `text` (`info: message key=value ...`) or `json` (one object per line)' -r -f -a "text\t'`<level>: <message> key=value ...`'
json\t'One JSON object per line'"
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -s v -l verbose -d 'Log more: `-v` debug events (one per journaled batch), `-vv` trace events (default: info)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from collect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l state -d 'The state directory the collector writes (partials, reports)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l day -d 'The UTC day to report (YYYY-MM-DD) [default: yesterday, and the days waiting for a retry]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l config -d 'The reporter\'s configuration (TOML: `[report]`, `[dkim]`, `[smtp]`, `[https]`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l out -d 'Where --dry-run writes (created if missing)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l dry-run -d 'Render and write the .json.gz and .eml files into --out DIR; deliver nothing (the _smtp._tls records are still looked up, to address the mail)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l no-dkim -d 'Send report mail without a DKIM signature (tests only: receivers must ignore unsigned reports, RFC 8460 section 3)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l skip-unreadable -d 'Report a day even when some of its partials cannot be read (leaving them out, and exiting 1)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from send" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from help" -f -a "collect" -d 'Run the TLS-RPT collector: receive Postfix\'s libtlsrpt datagrams on an AF_UNIX datagram socket and keep each UTC day\'s aggregate in the state directory'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from help" -f -a "send" -d 'Make and deliver the TLS-RPT reports of a UTC day from the state directory (yesterday by default), and retry failed deliveries'
complete -c mtasts -n "__fish_mtasts_using_subcommand tlsrpt; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "add" -d 'Host a new domain: its policy, served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "set" -d 'Change a hosted domain\'s mode, mx patterns, max_age or rua (a new policy id when the body changes)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "remove" -d 'Stop hosting a domain: serve mode none until cached policies expire, then delete it'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "list" -d 'List the hosted domains'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "show" -d 'Show a hosted domain: policy body, id, history of ids, days in the current mode'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "records" -d 'Print the DNS records to publish for a hosted domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "configure" -d 'Show or change the site settings (CNAME target, serving addresses)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "verify" -d 'Check the live DNS of a hosted domain against the site: _mta-sts id, mta-sts CNAME, _smtp._tls rua, MX coverage'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "promote" -d 'Move a hosted domain from testing to enforce when it is safe'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and not __fish_seen_subcommand_from add set remove list show records configure verify promote help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l mx -d 'The MX host patterns (`mx1.example.com`, `*.example.net`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l mode -d 'The policy mode' -r -f -a "testing\t'Report failures, deliver anyway'
enforce\t'Refuse delivery to MX hosts that fail validation'
none\t'Senders ignore the policy'"
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l max-age -d 'The policy\'s max_age in seconds' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l rua -d 'TLS-RPT report addresses (mailto: or https: URIs) [default: mailto:tlsrpt@DOMAIN]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l mode -d 'A new mode' -r -f -a "testing\t'Report failures, deliver anyway'
enforce\t'Refuse delivery to MX hosts that fail validation'
none\t'Senders ignore the policy'"
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l mx -d 'New MX host patterns (replacing all)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l max-age -d 'A new max_age in seconds' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l rua -d 'New TLS-RPT report addresses (replacing all)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l no-wait -d 'Print the new id at once (as pending) instead of waiting until every node serves the new body'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from remove" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from remove" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from remove" -l now -d 'Delete at once instead of serving mode none first'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from remove" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from list" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from list" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from list" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from show" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from show" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from show" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from records" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from records" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from records" -l target -d 'The hosting name for the CNAME [default: the configured target]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from records" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from records" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l target -d 'The hosting name the mta-sts CNAMEs point at' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l address -d 'The IP addresses of the serving nodes (replacing all)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l no-addresses -d 'Remove the addresses setting'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from configure" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -l resolver -d 'The only DNS server to use (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -l target -d 'The host name mta-sts.DOMAIN should be a CNAME to [default: the site\'s configured target]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l days -d 'Days the domain must have been in testing' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l reports -d 'TLS-RPT reports received for the domain: files, directories (read recursively), mbox files, or `-` for stdin (as `mtasts report summarize` reads them)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l max-size -d 'Largest report JSON (after gzip decompression) and decoded e-mail part, in bytes [default: 33554432 (32 MiB)]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l timeout -d 'Timeout in seconds of each MX probe' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l resolver -d 'The only DNS server to use (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l ca-file -d 'Trust anchors (PEM) used instead of the system\'s, for policy hosts and MX certificates' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l extra-ca-file -d 'Extra trust anchors (PEM) added to the system\'s (ignored with --ca-file)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l https-port -d 'Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l smtp-port -d 'Port for every MX probe (each MX is still reached at its A/AAAA addresses)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l force -d 'Promote even when conditions fail'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "add" -d 'Host a new domain: its policy, served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change a hosted domain\'s mode, mx patterns, max_age or rua (a new policy id when the body changes)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Stop hosting a domain: serve mode none until cached policies expire, then delete it'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the hosted domains'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a hosted domain: policy body, id, history of ids, days in the current mode'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "records" -d 'Print the DNS records to publish for a hosted domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "configure" -d 'Show or change the site settings (CNAME target, serving addresses)'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the live DNS of a hosted domain against the site: _mta-sts id, mta-sts CNAME, _smtp._tls rua, MX coverage'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Move a hosted domain from testing to enforce when it is safe'
complete -c mtasts -n "__fish_mtasts_using_subcommand domain; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l https -d 'The HTTPS listener (e.g. [::]:443)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l http -d 'A plain HTTP listener for ACME HTTP-01 challenges only (404 for everything else; e.g. [::]:80)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l cert-dir -d 'Certificates laid out as certbot\'s live/ directory: DIR/<host>/fullchain.pem and DIR/<host>/privkey.pem' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l acme-directory -d 'Obtain and renew certificates from this ACME directory URL (e.g. https://acme-v02.api.letsencrypt.org/directory)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l acme-contact -d 'The ACME account\'s contact (mailto:...); repeat for several' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l acme-root -d 'Trust this PEM certificate for the ACME server\'s HTTPS instead of the system\'s roots (a test CA such as pebble\'s)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l acme-challenge -d 'The ACME challenge: tls-alpn-01 (on the HTTPS listener) or http-01 (needs --http)' -r -f -a "tls-alpn-01\t'TLS-ALPN-01 (RFC 8737) on the HTTPS listener'
http-01\t'HTTP-01 on the --http listener'"
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l metrics -d 'Serve Prometheus metrics (GET /metrics, plain HTTP, no authentication) on this address' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l max-connections -d 'Connections served at once (HTTPS and HTTP); more wait in the listen backlog' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l retain-days -d 'Keep reports received by POST /v1/tlsrpt at most N days ago (pruned at most once an hour); 0 keeps everything' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-webhook -d 'POST each new alert as JSON to this https:// URL (Slack and Mattermost show its `text`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-smtp -d 'Mail each new alert through this SMTP relay: smtp://HOST[:PORT] (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a local relay) or smtps://HOST[:PORT]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-to -d 'A recipient of alert mail (repeat for several)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-from -d 'The sender of alert mail (From: and envelope)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-smtp-ca-file -d 'Trust anchors (PEM) for the relay\'s certificate instead of the system\'s' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l alert-quiet -d 'The same alert (domain, result type, MX host) is raised at most once in this many hours; repeats update its counts' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l probe-every -d 'Probe every hosted domain (MX certificates expiring within 14 days, MX hosts the policy does not cover, a stale _mta-sts id) this often, in hours; 0 turns the probes off' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l log-format -d 'Log lines on stderr as `text` (`info: message key=value ...`) or `json` (one object per line)' -r -f -a "text\t'`<level>: <message> key=value ...`'
json\t'One JSON object per line'"
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -s v -l verbose -d 'Log more: `-v` debug events, `-vv` trace events (default: info)'
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -l domain -d 'Only the alerts of this domain' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -l limit -d 'At most this many alerts' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -f -a "probe" -d 'Probe every hosted domain once and raise alerts for what is found'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -f -a "deliver" -d 'Send the alert deliveries that are due (first attempts and retries)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and not __fish_seen_subcommand_from probe deliver help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l resolver -d 'The only DNS server to use (IP:PORT); default: the system\'s resolvers' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l ca-file -d 'Trust anchors (PEM) used instead of the system\'s, for policy hosts and MX certificates' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l extra-ca-file -d 'Extra trust anchors (PEM) added to the system\'s (ignored with --ca-file)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l https-port -d 'Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l smtp-port -d 'Port for every MX probe (each MX is still reached at its A/AAAA addresses)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-webhook -d 'POST each new alert as JSON to this https:// URL (Slack and Mattermost show its `text`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-smtp -d 'Mail each new alert through this SMTP relay: smtp://HOST[:PORT] (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a local relay) or smtps://HOST[:PORT]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-to -d 'A recipient of alert mail (repeat for several)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-from -d 'The sender of alert mail (From: and envelope)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-smtp-ca-file -d 'Trust anchors (PEM) for the relay\'s certificate instead of the system\'s' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l alert-quiet -d 'The same alert (domain, result type, MX host) is raised at most once in this many hours; repeats update its counts' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from probe" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-webhook -d 'POST each new alert as JSON to this https:// URL (Slack and Mattermost show its `text`)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-smtp -d 'Mail each new alert through this SMTP relay: smtp://HOST[:PORT] (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a local relay) or smtps://HOST[:PORT]' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-to -d 'A recipient of alert mail (repeat for several)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-from -d 'The sender of alert mail (From: and envelope)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-smtp-ca-file -d 'Trust anchors (PEM) for the relay\'s certificate instead of the system\'s' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l alert-quiet -d 'The same alert (domain, result type, MX host) is raised at most once in this many hours; repeats update its counts' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l resolver -d 'The only DNS server to use for the webhook host (IP:PORT)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l ca-file -d 'Trust anchors (PEM) for the webhook\'s certificate instead of the system\'s' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from deliver" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "probe" -d 'Probe every hosted domain once and raise alerts for what is found'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "deliver" -d 'Send the alert deliveries that are due (first attempts and retries)'
complete -c mtasts -n "__fish_mtasts_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -f -a "add" -d 'Add an account and print its login token (shown once)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -f -a "list" -d 'List the accounts'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -f -a "remove" -d 'Delete an account (its token and sessions stop working)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -f -a "token" -d 'Give an account a new login token (the old one stops working)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and not __fish_seen_subcommand_from add list remove token help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -l domain -d 'A domain the account sees (repeat for several)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -l admin -d 'The account sees every domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from list" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from list" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from list" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from remove" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from remove" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from remove" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from token" -l state -d 'The directory of the embedded site store (`DIR/site.sqlite3`)' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from token" -l database -d 'A PostgreSQL connection string shared by several hosting nodes (postgres://user@host/db)' -r
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from token" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add an account and print its login token (shown once)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the accounts'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Delete an account (its token and sessions stop working)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "token" -d 'Give an account a new login token (the old one stops working)'
complete -c mtasts -n "__fish_mtasts_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand completions" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand man" -l out -d 'Write every page (roff, section 1) into this directory instead of printing the top-level page' -r -F
complete -c mtasts -n "__fish_mtasts_using_subcommand man" -l json -d 'Print JSON on stdout instead of text (accepted by every command)'
complete -c mtasts -n "__fish_mtasts_using_subcommand man" -s h -l help -d 'Print help'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "policy" -d 'Work with policy files (`/.well-known/mta-sts.txt`)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "record" -d 'Work with `_mta-sts` and `_smtp._tls` TXT records'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "report" -d 'Work with TLS-RPT reports (JSON, gzip or e-mail)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "cert" -d 'Check MX host certificates'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "check" -d 'Check a domain end to end: TXT record, policy fetch, MX hosts (SMTP STARTTLS probe), TLS-RPT record'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "daemon" -d 'Run the MTA-STS policy daemon for Postfix (socketmap for smtp_tls_policy_maps)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "tlsrpt" -d 'TLS-RPT for Postfix: collect its libtlsrpt datagrams, send the daily reports'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "domain" -d 'Host MTA-STS for your domains: add, change, remove them, the DNS records to publish, verify, promote to enforce'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "serve" -d 'Serve the policies of every hosted domain over HTTPS (SNI, ACME certificates)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "alerts" -d 'List the alerts of the site store with their delivery state; run the probes or deliver once'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "user" -d 'Accounts of the dashboards and the JSON API of `mtasts serve`: add, list, remove, new token'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "man" -d 'Print the man page of mtasts, or write one page per command with --out DIR'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and not __fish_seen_subcommand_from policy record report cert check daemon tlsrpt domain serve alerts user completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "parse" -d 'Parse a policy file and print its fields (lenient reader by default)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "lint" -d 'Parse a policy file leniently and give advice; exit 1 on any error finding'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "match" -d 'Show which `mx` pattern matches each MX host; exit 1 unless all match'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "generate" -d 'Write a new policy and the matching TXT record'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from record" -f -a "parse" -d 'Select and parse the record of a DNS TXT answer (one argument per RR); the kind (`v=STSv1` or `v=TLSRPTv1`) is detected'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "parse" -d 'Read one report and print it in the strict RFC 8460 JSON form'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "summarize" -d 'Summarize reports: totals, per domain, MX host, result type, organisation and day, duplicates and alerts'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "export" -d 'Export reports as flat rows (parsedmarc-compatible CSV, or NDJSON)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "ingest" -d 'Store reports (files, or one e-mail on stdin for a mail alias pipe) in the site store, once each, with their DKIM result'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "aggregate" -d 'Count libtlsrpt datagrams (one JSON object per line) under one UTC day and write that day\'s reports, one per policy domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "check" -d 'Check that a certificate is valid for an MX host (names and validity period only; chain validation is the TLS library\'s job)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "cache" -d 'Inspect or flush the persistent policy cache of a stopped daemon'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from tlsrpt" -f -a "collect" -d 'Run the TLS-RPT collector: receive Postfix\'s libtlsrpt datagrams on an AF_UNIX datagram socket and keep each UTC day\'s aggregate in the state directory'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from tlsrpt" -f -a "send" -d 'Make and deliver the TLS-RPT reports of a UTC day from the state directory (yesterday by default), and retry failed deliveries'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "add" -d 'Host a new domain: its policy, served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "set" -d 'Change a hosted domain\'s mode, mx patterns, max_age or rua (a new policy id when the body changes)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "remove" -d 'Stop hosting a domain: serve mode none until cached policies expire, then delete it'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "list" -d 'List the hosted domains'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "show" -d 'Show a hosted domain: policy body, id, history of ids, days in the current mode'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "records" -d 'Print the DNS records to publish for a hosted domain'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "configure" -d 'Show or change the site settings (CNAME target, serving addresses)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "verify" -d 'Check the live DNS of a hosted domain against the site: _mta-sts id, mta-sts CNAME, _smtp._tls rua, MX coverage'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from domain" -f -a "promote" -d 'Move a hosted domain from testing to enforce when it is safe'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from alerts" -f -a "probe" -d 'Probe every hosted domain once and raise alerts for what is found'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from alerts" -f -a "deliver" -d 'Send the alert deliveries that are due (first attempts and retries)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "add" -d 'Add an account and print its login token (shown once)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "list" -d 'List the accounts'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "remove" -d 'Delete an account (its token and sessions stop working)'
complete -c mtasts -n "__fish_mtasts_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "token" -d 'Give an account a new login token (the old one stops working)'
