/* A mail server's use of libmtasts, in one delivery:
 *
 *   1. look up the MTA-STS policy of the recipient's domain (blocking, with a
 *      timeout; "not yet" defers the message),
 *   2. decide for each MX host, before connecting (is it in the policy?) and
 *      after the TLS handshake (is the TLS good enough?),
 *   3. record each session for TLS-RPT,
 *   4. at the end of the day, finish the reports and print one.
 *
 * The TLS handshakes are simulated: each MX is given as HOST:OUTCOME, with
 * OUTCOME one of valid, starttls-not-supported, certificate-host-mismatch,
 * certificate-expired, certificate-not-trusted, validation-failure.
 *
 *   ./mail_server [--resolver IP:PORT] [--ca-file FILE] [--https-port N]
 *                 [--state-dir DIR] DOMAIN HOST:OUTCOME...
 *
 * Exit status: 0 delivered, 1 every MX refused, 75 (EX_TEMPFAIL) deferred,
 * 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtasts.h"

/* Print a failed call's code and detail; return 1 when it failed. */
static int failed(const char *what, mtasts_result rc) {
  if (rc == MTASTS_RESULT_OK) return 0;
  char msg[256], detail[512];
  size_t n = 0;
  mtasts_last_error_detail(detail, sizeof detail, &n);
  mtasts_result_message(rc, msg, sizeof msg, &n);
  fprintf(stderr, "%s: %s (%u): %s\n", what, msg, (unsigned)rc, detail);
  return 1;
}

static const char *OUTCOMES[] = {"valid",
                                 "not-attempted",
                                 "starttls-not-supported",
                                 "certificate-host-mismatch",
                                 "certificate-expired",
                                 "certificate-not-trusted",
                                 "validation-failure"};

static int outcome_of(const char *name, uint32_t *out) {
  for (uint32_t i = 0; i < sizeof OUTCOMES / sizeof OUTCOMES[0]; i++) {
    if (strcmp(name, OUTCOMES[i]) == 0) {
      *out = i; /* the values of mtasts_tls_outcome */
      return 1;
    }
  }
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: mail_server [--resolver IP:PORT] [--ca-file FILE] [--https-port N]\n"
          "                   [--state-dir DIR] DOMAIN HOST:OUTCOME...\n");
  return 2;
}

int main(int argc, char **argv) {
  mtasts_service_config *config = NULL;
  if (failed("config", mtasts_service_config_new(&config))) return 1;
  int i = 1;
  for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    const char *opt = argv[i], *val = argv[i + 1];
    mtasts_result rc;
    if (strcmp(opt, "--resolver") == 0)
      rc = mtasts_service_config_set_resolver(config, val, strlen(val));
    else if (strcmp(opt, "--ca-file") == 0)
      rc = mtasts_service_config_set_ca_file(config, val, strlen(val));
    else if (strcmp(opt, "--https-port") == 0)
      rc = mtasts_service_config_set_https_port(config, (uint16_t)atoi(val));
    else if (strcmp(opt, "--state-dir") == 0)
      rc = mtasts_service_config_set_state_dir(config, val, strlen(val));
    else {
      mtasts_service_config_free(config);
      return usage();
    }
    if (failed(opt, rc)) {
      mtasts_service_config_free(config);
      return 2;
    }
  }
  if (argc - i < 2) {
    mtasts_service_config_free(config);
    return usage();
  }
  const char *domain = argv[i++];

  /* The service is made once, at start-up, and shared by every delivery. */
  mtasts_service *sts = NULL;
  mtasts_result rc = mtasts_service_new(config, &sts);
  mtasts_service_config_free(config);
  if (failed("service", rc)) return 1;
  printf("libmtasts %s\n", mtasts_version());

  /* 1. The policy of the recipient's domain. */
  mtasts_lookup *lookup = NULL;
  rc = mtasts_service_lookup(sts, domain, strlen(domain), 5000, &lookup);
  if (rc == MTASTS_RESULT_NOT_YET || rc == MTASTS_RESULT_BUSY) {
    printf("%s: policy not known yet: defer the message (4.4.3)\n", domain);
    mtasts_service_free(sts);
    return 75;
  }
  if (failed("lookup", rc)) {
    mtasts_service_free(sts);
    return 1;
  }
  const mtasts_policy *policy = NULL;
  mtasts_lookup_policy(lookup, &policy);
  mtasts_str s, t;
  if (policy == NULL) {
    printf("%s: no MTA-STS policy\n", domain);
  } else {
    mtasts_mode mode = 0;
    uint32_t max_age = 0;
    mtasts_policy_mode(policy, &mode);
    mtasts_policy_max_age(policy, &max_age);
    mtasts_policy_id(policy, &s);
    printf("%s: policy id %.*s, mode %s, max_age %u, mx:", domain, (int)s.len, s.data,
           mode == MTASTS_MODE_ENFORCE   ? "enforce"
           : mode == MTASTS_MODE_TESTING ? "testing"
                                         : "none",
           (unsigned)max_age);
    for (size_t k = 0; k < mtasts_policy_mx_count(policy); k++) {
      mtasts_policy_mx_at(policy, k, &s);
      printf(" %.*s", (int)s.len, s.data);
    }
    printf("\n");
  }
  for (size_t k = 0; k < mtasts_lookup_warning_count(lookup); k++) {
    mtasts_lookup_warning_at(lookup, k, &t, &s);
    printf("warning [%.*s] %.*s\n", (int)t.len, t.data, (int)s.len, s.data);
  }

  /* The TLS-RPT key of this policy (keep it with the policy in a real MTA),
   * and today's aggregate (one per UTC day). */
  mtasts_policy_key *key = NULL;
  rc = policy != NULL ? mtasts_policy_key_for_policy(domain, strlen(domain), policy, &key)
                      : mtasts_policy_key_no_policy_found(domain, strlen(domain), &key);
  if (failed("policy key", rc)) return 1;
  mtasts_day_aggregate *day = NULL;
  if (failed("day", mtasts_day_aggregate_new_containing((int64_t)time(NULL), &day))) return 1;
  if (mtasts_lookup_failure(lookup, &t, &s) == MTASTS_RESULT_OK) {
    /* The policy could not be fetched: that is a failure to report too. */
    printf("policy failure: %.*s (%.*s)\n", (int)t.len, t.data, (int)s.len, s.data);
    mtasts_failure *f = NULL;
    mtasts_failure_new(t.data, t.len, &f);
    mtasts_failure_set_failure_reason_code(f, s.data, s.len);
    mtasts_day_aggregate_record_failure(day, key, f, NULL);
    mtasts_failure_free(f);
  }

  /* 2. and 3. Each MX in preference order. */
  int delivered = 0;
  for (; i < argc && !delivered; i++) {
    char host[256];
    const char *colon = strrchr(argv[i], ':');
    uint32_t outcome = 0;
    size_t hlen = colon != NULL ? (size_t)(colon - argv[i]) : 0;
    if (colon == NULL || hlen == 0 || hlen >= sizeof host || !outcome_of(colon + 1, &outcome)) {
      fprintf(stderr, "bad MX argument `%s` (HOST:OUTCOME)\n", argv[i]);
      continue;
    }
    memcpy(host, argv[i], hlen);
    host[hlen] = '\0';

    /* Before connecting: may we use this MX at all? */
    mtasts_decision *d = NULL;
    mtasts_action action = 0;
    if (failed("decide", mtasts_decide(policy, host, hlen, MTASTS_TLS_OUTCOME_NOT_ATTEMPTED, NULL,
                                       0, MTASTS_DANE_NOT_APPLICABLE, &d)))
      break;
    mtasts_decision_action(d, &action);
    if (action == MTASTS_ACTION_TRY_NEXT_MX) {
      /* Not connected, but reported: validation-failure, mx-not-in-policy. */
      mtasts_failure *f = NULL;
      mtasts_decision_failure_at(d, 0, &t, &s);
      printf("%s: not in the policy: skipped (TLS-RPT failure %.*s %.*s)\n", host, (int)t.len,
             t.data, (int)s.len, s.data);
      mtasts_failure_new(t.data, t.len, &f);
      mtasts_failure_set_failure_reason_code(f, s.data, s.len);
      mtasts_failure_set_receiving_mx_hostname(f, host, hlen);
      mtasts_failure_set_sending_mta_ip(f, "192.0.2.25", 10);
      failed("record", mtasts_day_aggregate_record_failure(day, key, f, NULL));
      mtasts_failure_free(f);
      mtasts_decision_free(d);
      continue;
    }
    mtasts_decision_free(d);

    /* After STARTTLS (simulated): deliver or not, and record the session. */
    if (failed("decide", mtasts_decide(policy, host, hlen, outcome, NULL, 0,
                                       MTASTS_DANE_NOT_APPLICABLE, &d)))
      break;
    mtasts_decision_action(d, &action);
    for (size_t k = 0; k < mtasts_decision_failure_count(d); k++) {
      mtasts_decision_failure_at(d, k, &t, &s);
      printf("%s: TLS-RPT failure %.*s%s%.*s\n", host, (int)t.len, t.data, s.data ? " " : "",
             (int)s.len, s.data ? s.data : "");
    }
    failed("record", mtasts_day_aggregate_record_decision(day, key, d, "192.0.2.25", 10, NULL, 0,
                                                          NULL));
    if (action == MTASTS_ACTION_DELIVER || action == MTASTS_ACTION_DELIVER_REQUIRE_TLS) {
      printf("%s: deliver%s\n", host,
             action == MTASTS_ACTION_DELIVER_REQUIRE_TLS ? " (TLS required)" : "");
      delivered = 1;
    } else if (action == MTASTS_ACTION_TRY_NEXT_MX) {
      printf("%s: refused: try the next MX\n", host);
    }
    mtasts_decision_free(d);
  }
  if (!delivered)
    printf("every MX refused: look the _mta-sts record up again, then defer\n");

  /* 4. After midnight: the day's reports. */
  mtasts_finished_day *fin = NULL;
  if (!failed("finish", mtasts_day_aggregate_finish(day, "Example Mail", 12,
                                                    "tlsrpt@mail.example.net", 23,
                                                    "mail.example.net", 16, "n1", 2, &fin))) {
    for (size_t k = 0; k < mtasts_finished_day_report_count(fin); k++) {
      uint64_t ok = 0, bad = 0;
      mtasts_finished_day_report_filename(fin, k, &s);
      mtasts_finished_day_report_sessions(fin, k, &ok, &bad);
      printf("report %.*s: %llu successful, %llu failed\n", (int)s.len, s.data,
             (unsigned long long)ok, (unsigned long long)bad);
      mtasts_finished_day_report_json(fin, k, &s);
      printf("%.*s\n", (int)s.len, s.data);
    }
    mtasts_finished_day_free(fin);
  }

  mtasts_day_aggregate_free(day);
  mtasts_policy_key_free(key);
  mtasts_lookup_free(lookup);
  mtasts_service_free(sts);
  return delivered ? 0 : 1;
}
