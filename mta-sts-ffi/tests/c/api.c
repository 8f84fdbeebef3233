/* The whole API without the network: values, parse errors, the error text
 * buffers, outputs left alone on errors, NULL for every pointer argument of
 * every function, and _free(NULL).
 *
 * argv[1]: DER certificate for mx1.example.test, valid now
 * argv[2]: DER certificate for mx1.example.test, expired
 * argv[3]: a TLS-RPT report e-mail (examples/data/reports/mail-auth/rpt01.eml)
 */
#include <stdint.h>
#include <time.h>

#include "common.h"

static const char POLICY[] =
    "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.backup.example.test\n"
    "max_age: 604800\n";

/* A lenient-only body: blank line, max_age above one year. */
static const char LENIENT[] =
    "version: STSv1\nmode: testing\n\nmx: mx.example.net\nmax_age: 99999999\n";

static const char ED25519_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIEFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
    "-----END PRIVATE KEY-----\n";

static void test_messages(void) {
  char buf[256];
  size_t n = 99;
  OK(mtasts_result_message(MTASTS_RESULT_OK, buf, sizeof buf, &n));
  CHECK(strcmp(buf, "success") == 0 && n == 7);
  OK(mtasts_result_message(MTASTS_RESULT_NOT_YET, buf, sizeof buf, &n));
  CHECK(strncmp(buf, "not ready yet", 13) == 0 && n == strlen(buf));
  OK(mtasts_result_message(12345, buf, sizeof buf, &n));
  CHECK(strcmp(buf, "unknown result code 12345") == 0);

  /* Too small: cut, NUL-terminated, the count of bytes written. */
  char small[5];
  memset(small, 'x', sizeof small);
  CHECK_RC(mtasts_result_message(MTASTS_RESULT_OK, small, sizeof small, &n),
           MTASTS_RESULT_BUFFER_TOO_SMALL);
  CHECK(strcmp(small, "succ") == 0 && n == 4);
  /* One byte: only the NUL. */
  char one[1] = {'x'};
  CHECK_RC(mtasts_result_message(MTASTS_RESULT_OK, one, 1, &n),
           MTASTS_RESULT_BUFFER_TOO_SMALL);
  CHECK(one[0] == '\0' && n == 0);
  /* Zero length: nothing written (buf may be NULL), n = 0. */
  n = 99;
  CHECK_RC(mtasts_result_message(MTASTS_RESULT_OK, NULL, 0, &n),
           MTASTS_RESULT_BUFFER_TOO_SMALL);
  CHECK(n == 0);
  char untouched[4] = {'a', 'b', 'c', 'd'};
  CHECK_RC(mtasts_result_message(MTASTS_RESULT_OK, untouched, 0, &n),
           MTASTS_RESULT_BUFFER_TOO_SMALL);
  CHECK(untouched[0] == 'a');
  NUL(mtasts_result_message(MTASTS_RESULT_OK, NULL, 10, &n));
  NUL(mtasts_result_message(MTASTS_RESULT_OK, buf, sizeof buf, NULL));

  /* The detail of the last failure on this thread. */
  mtasts_policy *p = NULL;
  CHECK_RC(mtasts_policy_parse((const uint8_t *)S("version: STSv1\nmode: enforcing\n"), &p),
           MTASTS_RESULT_POLICY_INVALID);
  CHECK(p == NULL);
  char detail[512];
  OK(mtasts_last_error_detail(detail, sizeof detail, &n));
  CHECK(strstr(detail, "enforcing") != NULL && n == strlen(detail));
  /* A success does not clear it (like errno); the message call neither. */
  CHECK(strcmp(mtasts_version(), MTASTS_VERSION) == 0);
  OK(mtasts_result_message(MTASTS_RESULT_OK, buf, sizeof buf, &n));
  OK(mtasts_last_error_detail(detail, sizeof detail, &n));
  CHECK(strstr(detail, "enforcing") != NULL);
  char tiny[8];
  CHECK_RC(mtasts_last_error_detail(tiny, sizeof tiny, &n), MTASTS_RESULT_BUFFER_TOO_SMALL);
  CHECK(n == 7 && strlen(tiny) == 7);
  CHECK_RC(mtasts_last_error_detail(NULL, 0, &n), MTASTS_RESULT_BUFFER_TOO_SMALL);
  NUL(mtasts_last_error_detail(NULL, 5, &n));
  NUL(mtasts_last_error_detail(detail, sizeof detail, NULL));
}

static void test_policy(void) {
  mtasts_policy *p = NULL;
  OK(mtasts_policy_parse((const uint8_t *)S(POLICY), &p));
  mtasts_mode mode = 0;
  OK(mtasts_policy_mode(p, &mode));
  CHECK(mode == MTASTS_MODE_ENFORCE);
  uint32_t max_age = 0;
  OK(mtasts_policy_max_age(p, &max_age));
  CHECK(max_age == 604800);
  CHECK(mtasts_policy_mx_count(p) == 2);
  mtasts_str s = {0};
  OK(mtasts_policy_mx_at(p, 0, &s));
  CHECK(str_is(s, "mx1.example.test"));
  OK(mtasts_policy_mx_at(p, 1, &s));
  CHECK(str_is(s, "*.backup.example.test"));
  mtasts_str keep = {(const char *)0x1, 777};
  CHECK_RC(mtasts_policy_mx_at(p, 2, &keep), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  CHECK(keep.data == (const char *)0x1 && keep.len == 777); /* untouched */
  CHECK_RC(mtasts_policy_id(p, &keep), MTASTS_RESULT_NOT_FOUND);
  CHECK(keep.len == 777);
  CHECK(mtasts_policy_warning_count(p) == 0);

  CHECK(mtasts_policy_matches_mx(p, S("mx1.example.test")));
  CHECK(mtasts_policy_matches_mx(p, S("MX1.Example.Test.")));
  CHECK(mtasts_policy_matches_mx(p, S("a.backup.example.test")));
  CHECK(!mtasts_policy_matches_mx(p, S("a.b.backup.example.test")));
  CHECK(!mtasts_policy_matches_mx(p, S("evil.example.org")));
  CHECK(!mtasts_policy_matches_mx(p, "\xff\xfe", 2)); /* not UTF-8 */

  mtasts_policy *c = NULL;
  OK(mtasts_policy_clone(p, &c));
  mtasts_policy_free(p);
  CHECK(mtasts_policy_matches_mx(c, S("mx1.example.test")));
  mtasts_policy_free(c);

  /* Lenient: accepted with warnings; strict: refused. */
  OK(mtasts_policy_parse((const uint8_t *)S(LENIENT), &p));
  OK(mtasts_policy_max_age(p, &max_age));
  CHECK(max_age == 31557600);
  OK(mtasts_policy_mode(p, &mode));
  CHECK(mode == MTASTS_MODE_TESTING);
  CHECK(mtasts_policy_warning_count(p) == 2);
  mtasts_str code = {0}, msg = {0};
  OK(mtasts_policy_warning_at(p, 0, &code, &msg));
  CHECK(str_is(code, "blank-line") && str_has(msg, "line 3"));
  OK(mtasts_policy_warning_at(p, 1, NULL, &msg)); /* the code is optional */
  CHECK(str_has(msg, "capped"));
  CHECK_RC(mtasts_policy_warning_at(p, 2, &code, &msg), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_policy_free(p);

  mtasts_policy *sentinel = (mtasts_policy *)0x1;
  CHECK_RC(mtasts_policy_parse_strict((const uint8_t *)S(LENIENT), &sentinel),
           MTASTS_RESULT_POLICY_INVALID);
  CHECK(sentinel == (mtasts_policy *)0x1);
  OK(mtasts_policy_parse_strict((const uint8_t *)S(POLICY), &p));
  mtasts_policy_free(p);

  /* Parse errors: grammar, UTF-8, size. */
  CHECK_RC(mtasts_policy_parse((const uint8_t *)S("version: STSv1\nmode: enforce\nmax_age: x\n"), &p),
           MTASTS_RESULT_POLICY_INVALID);
  CHECK(detail_has("max_age"));
  CHECK_RC(mtasts_policy_parse((const uint8_t *)"version: STSv1\nmode: \xff\n", 22, &p),
           MTASTS_RESULT_POLICY_INVALID);
  size_t big_len = 70000;
  uint8_t *big = malloc(big_len);
  memset(big, 'a', big_len);
  CHECK_RC(mtasts_policy_parse(big, big_len, &p), MTASTS_RESULT_POLICY_INVALID);
  CHECK(detail_has("65536"));
  free(big);
  CHECK_RC(mtasts_policy_parse((const uint8_t *)"", 0, &p), MTASTS_RESULT_POLICY_INVALID);
}

static void test_records(void) {
  mtasts_sts_record *r = NULL;
  OK(mtasts_sts_record_parse(S("v=STSv1; id=20160831085700Z; ext=1"), &r));
  mtasts_str s = {0}, v = {0};
  OK(mtasts_sts_record_id(r, &s));
  CHECK(str_is(s, "20160831085700Z"));
  CHECK(mtasts_sts_record_extension_count(r) == 1);
  OK(mtasts_sts_record_extension_at(r, 0, &s, &v));
  CHECK(str_is(s, "ext") && str_is(v, "1"));
  CHECK_RC(mtasts_sts_record_extension_at(r, 1, &s, &v), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_sts_record_free(r);
  mtasts_sts_record *keep = (mtasts_sts_record *)0x1;
  CHECK_RC(mtasts_sts_record_parse(S("v=STSv1; id=not-alnum!;"), &keep),
           MTASTS_RESULT_STS_RECORD_INVALID);
  CHECK(keep == (mtasts_sts_record *)0x1);
  CHECK_RC(mtasts_sts_record_parse(S("v=spf1 -all"), &keep), MTASTS_RESULT_STS_RECORD_INVALID);
  CHECK_RC(mtasts_sts_record_parse("v=STSv1; id=\xc3", 13, &keep), MTASTS_RESULT_INVALID_UTF8);

  mtasts_tlsrpt_record *t = NULL;
  OK(mtasts_tlsrpt_record_parse(
      S("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example/v1,ftp://x.example/"), &t));
  CHECK(mtasts_tlsrpt_record_is_usable(t));
  CHECK(mtasts_tlsrpt_record_rua_count(t) == 3);
  mtasts_rua_kind kind = 0;
  mtasts_str addr = {0};
  OK(mtasts_tlsrpt_record_rua_at(t, 0, &s, &kind, &addr));
  CHECK(str_is(s, "mailto:tlsrpt@example.com") && kind == MTASTS_RUA_KIND_MAILTO &&
        str_is(addr, "tlsrpt@example.com"));
  OK(mtasts_tlsrpt_record_rua_at(t, 1, &s, &kind, &addr));
  CHECK(kind == MTASTS_RUA_KIND_HTTPS && addr.data == NULL && addr.len == 0);
  OK(mtasts_tlsrpt_record_rua_at(t, 2, &s, &kind, NULL));
  CHECK(kind == MTASTS_RUA_KIND_UNSUPPORTED);
  CHECK_RC(mtasts_tlsrpt_record_rua_at(t, 3, &s, &kind, NULL), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_tlsrpt_record_free(t);
  OK(mtasts_tlsrpt_record_parse(S("v=TLSRPTv1; rua=ftp://x.example/"), &t));
  CHECK(!mtasts_tlsrpt_record_is_usable(t));
  mtasts_tlsrpt_record_free(t);
  CHECK_RC(mtasts_tlsrpt_record_parse(S("v=TLSRPTv1;"), &t), MTASTS_RESULT_TLSRPT_RECORD_INVALID);
}

static void test_decide(const unsigned char *good, size_t good_len, const unsigned char *expired,
                        size_t expired_len) {
  mtasts_policy *p = NULL;
  OK(mtasts_policy_parse((const uint8_t *)S(POLICY), &p));
  mtasts_decision *d = NULL;
  mtasts_action a = 0;
  mtasts_str t = {0}, r = {0};

  OK(mtasts_decide(p, S("mx1.example.test"), MTASTS_TLS_OUTCOME_VALID, NULL, 0,
                   MTASTS_DANE_NOT_APPLICABLE, &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_DELIVER_REQUIRE_TLS);
  CHECK(mtasts_decision_success(d));
  CHECK(mtasts_decision_failure_count(d) == 0);
  mtasts_decision_free(d);

  /* Not in the policy: refused under enforce, reported as mx-not-in-policy. */
  OK(mtasts_decide(p, S("evil.example.org"), MTASTS_TLS_OUTCOME_VALID, NULL, 0,
                   MTASTS_DANE_NOT_APPLICABLE, &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_TRY_NEXT_MX);
  CHECK(!mtasts_decision_success(d));
  CHECK(mtasts_decision_failure_count(d) == 1);
  OK(mtasts_decision_failure_at(d, 0, &t, &r));
  CHECK(str_is(t, "validation-failure") && str_is(r, "mx-not-in-policy"));
  mtasts_decision_free(d);

  /* Expired certificate, with a reason. */
  OK(mtasts_decide(p, S("mx1.example.test"), MTASTS_TLS_OUTCOME_CERTIFICATE_EXPIRED,
                   S("notAfter passed"), MTASTS_DANE_NOT_APPLICABLE, &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_TRY_NEXT_MX);
  OK(mtasts_decision_failure_at(d, 0, &t, NULL));
  CHECK(str_is(t, "certificate-expired"));
  OK(mtasts_decision_failure_at(d, 0, &t, &r));
  CHECK(str_is(r, "notAfter passed"));
  CHECK_RC(mtasts_decision_failure_at(d, 1, &t, &r), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_decision_free(d);

  /* Before connecting; DANE overrides; no policy. */
  OK(mtasts_decide(p, S("mx1.example.test"), MTASTS_TLS_OUTCOME_NOT_ATTEMPTED, NULL, 0,
                   MTASTS_DANE_NOT_APPLICABLE, &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_CONNECT);
  mtasts_decision_free(d);
  OK(mtasts_decide(p, S("evil.example.org"), MTASTS_TLS_OUTCOME_VALID, NULL, 0, MTASTS_DANE_PASSED,
                   &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_DELIVER_REQUIRE_TLS);
  mtasts_decision_free(d);
  OK(mtasts_decide(NULL, S("any.example"), MTASTS_TLS_OUTCOME_STARTTLS_NOT_SUPPORTED, NULL, 0,
                   MTASTS_DANE_NOT_APPLICABLE, &d));
  OK(mtasts_decision_action(d, &a));
  CHECK(a == MTASTS_ACTION_DELIVER);
  CHECK(!mtasts_decision_success(d));
  mtasts_decision_free(d);

  /* Unknown enum values never reach Rust as enums. */
  mtasts_decision *keep = (mtasts_decision *)0x1;
  CHECK_RC(mtasts_decide(p, S("mx1.example.test"), 99, NULL, 0, 0, &keep),
           MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_decide(p, S("mx1.example.test"), 0, NULL, 0, 7, &keep),
           MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK(keep == (mtasts_decision *)0x1);
  OK(mtasts_tls_outcome_result_type(MTASTS_TLS_OUTCOME_STARTTLS_NOT_SUPPORTED, &t));
  CHECK(str_is(t, "starttls-not-supported"));
  OK(mtasts_tls_outcome_result_type(MTASTS_TLS_OUTCOME_VALID, &t));
  CHECK(t.data == NULL && t.len == 0);
  CHECK_RC(mtasts_tls_outcome_result_type(42, &t), MTASTS_RESULT_INVALID_ARGUMENT);

  /* Certificates. */
  mtasts_tls_outcome o = 99;
  char reason[256];
  size_t n = 0;
  int64_t now = (int64_t)time(NULL);
  OK(mtasts_cert_check(good, good_len, S("mx1.example.test"), now, &o, reason, sizeof reason, &n));
  CHECK(o == MTASTS_TLS_OUTCOME_VALID && n == strlen(reason) && strstr(reason, "valid") != NULL);
  OK(mtasts_cert_check(good, good_len, S("other.example.test"), now, &o, reason, sizeof reason,
                       &n));
  CHECK(o == MTASTS_TLS_OUTCOME_CERTIFICATE_HOST_MISMATCH);
  CHECK(strstr(reason, "mx1.example.test") != NULL);
  OK(mtasts_cert_check(expired, expired_len, S("mx1.example.test"), now, &o, NULL, 0, NULL));
  CHECK(o == MTASTS_TLS_OUTCOME_CERTIFICATE_EXPIRED);
  OK(mtasts_cert_check(good, good_len, S("mx1.example.test"), 0, &o, reason, 10, &n));
  CHECK(o == MTASTS_TLS_OUTCOME_VALIDATION_FAILURE && n == 9); /* not yet valid in 1970; cut */
  OK(mtasts_cert_check((const uint8_t *)"junk", 4, S("mx1.example.test"), now, &o, reason,
                       sizeof reason, &n));
  CHECK(o == MTASTS_TLS_OUTCOME_VALIDATION_FAILURE);
  mtasts_policy_free(p);
}

/* Record, finish, render; read the outputs back as reports. */
static void test_aggregate_and_reports(const unsigned char *eml, size_t eml_len) {
  mtasts_policy *p = NULL;
  OK(mtasts_policy_parse((const uint8_t *)S(POLICY), &p));
  mtasts_policy_key *key = NULL, *none = NULL, *tlsa = NULL;
  OK(mtasts_policy_key_for_policy(S("Example.Test"), p, &key));
  mtasts_str s = {0};
  OK(mtasts_policy_key_domain(key, &s));
  CHECK(str_is(s, "example.test"));
  OK(mtasts_policy_key_no_policy_found(S("example.org"), &none));
  mtasts_str recs[1] = {{S("3 1 1 0123abcd")}};
  mtasts_str mxs[1] = {{S("mx.example.net")}};
  OK(mtasts_policy_key_new(MTASTS_POLICY_TYPE_TLSA, S("mx.example.net"), recs, 1, mxs, 1, &tlsa));
  mtasts_policy_key *keep = (mtasts_policy_key *)0x1;
  CHECK_RC(mtasts_policy_key_new(5, S("x.example"), NULL, 0, NULL, 0, &keep),
           MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_policy_key_no_policy_found(S("bad domain!"), &keep),
           MTASTS_RESULT_DOMAIN_INVALID);
  CHECK(keep == (mtasts_policy_key *)0x1);

  mtasts_day_aggregate *day = NULL;
  CHECK_RC(mtasts_day_aggregate_new(S("2024-02-30"), &day), MTASTS_RESULT_DAY_INVALID);
  CHECK(day == NULL);
  OK(mtasts_day_aggregate_new(S("2024-05-01"), &day));
  OK(mtasts_day_aggregate_day(day, &s));
  CHECK(str_is(s, "2024-05-01"));
  mtasts_recorded rec = 99;
  for (int i = 0; i < 9; i++) OK(mtasts_day_aggregate_record_success(day, key, NULL));
  OK(mtasts_day_aggregate_record_success(day, none, &rec));
  CHECK(rec == MTASTS_RECORDED_COUNTED);
  OK(mtasts_day_aggregate_record_success(day, tlsa, NULL));

  mtasts_failure *f = NULL;
  OK(mtasts_failure_new(S("certificate-expired"), &f));
  OK(mtasts_failure_set_receiving_mx_hostname(f, S("mx1.example.test")));
  OK(mtasts_failure_set_receiving_mx_helo(f, S("mx1.example.test")));
  OK(mtasts_failure_set_failure_reason_code(f, S("certificate has expired")));
  OK(mtasts_failure_set_additional_information(f, S("https://example.test/why")));
  OK(mtasts_failure_set_receiving_ip(f, S("2001:db8::25")));
  OK(mtasts_failure_set_sending_mta_ip(f, S("192.0.2.10")));
  CHECK_RC(mtasts_failure_set_sending_mta_ip(f, S("192.0.2.999")), MTASTS_RESULT_IP_INVALID);
  OK(mtasts_day_aggregate_record_failure(day, key, f, &rec));
  OK(mtasts_day_aggregate_record_failure(day, key, f, &rec));
  CHECK(rec == MTASTS_RECORDED_COUNTED);
  mtasts_failure_free(f);
  CHECK_RC(mtasts_failure_new(S(""), &f), MTASTS_RESULT_INVALID_ARGUMENT);

  /* A field over 2048 bytes is refused when recorded; nothing is counted. */
  OK(mtasts_failure_new(S("validation-failure"), &f));
  char *long_text = malloc(3000);
  memset(long_text, 'z', 3000);
  OK(mtasts_failure_set_failure_reason_code(f, long_text, 3000));
  free(long_text);
  CHECK_RC(mtasts_day_aggregate_record_failure(day, key, f, NULL),
           MTASTS_RESULT_AGGREGATE_INVALID);
  mtasts_failure_free(f);

  /* Decisions recorded directly. */
  mtasts_decision *d = NULL;
  OK(mtasts_decide(p, S("evil.example.org"), MTASTS_TLS_OUTCOME_VALID, NULL, 0, 0, &d));
  OK(mtasts_day_aggregate_record_decision(day, key, d, S("192.0.2.10"), NULL, 0, &rec));
  mtasts_decision_free(d);
  OK(mtasts_decide(NULL, S("mx.example.org"), MTASTS_TLS_OUTCOME_STARTTLS_NOT_SUPPORTED, NULL, 0,
                   0, &d));
  OK(mtasts_day_aggregate_record_decision(day, none, d, S("192.0.2.10"), S("198.51.100.7"), NULL));
  mtasts_decision_free(d);
  OK(mtasts_decide(p, S("mx1.example.test"), MTASTS_TLS_OUTCOME_NOT_ATTEMPTED, NULL, 0, 0, &d));
  CHECK_RC(mtasts_day_aggregate_record_decision(day, key, d, NULL, 0, NULL, 0, NULL),
           MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_day_aggregate_record_decision(day, key, d, S("nope"), NULL, 0, NULL),
           MTASTS_RESULT_IP_INVALID);
  mtasts_decision_free(d);

  uint64_t ok = 0, failed = 0;
  OK(mtasts_day_aggregate_totals(day, &ok, &failed));
  CHECK(ok == 11 && failed == 4);
  CHECK(mtasts_day_aggregate_policy_count(day) == 3);

  mtasts_finished_day *fin = NULL;
  CHECK_RC(mtasts_day_aggregate_finish(day, S("Example Mail"), S("not-an-address"),
                                       S("mail.example.test"), S("n1"), &fin),
           MTASTS_RESULT_AGGREGATE_INVALID);
  CHECK(fin == NULL && detail_has("contact-info"));
  OK(mtasts_day_aggregate_finish(day, S("Example Mail"), S("tlsrpt@mail.example.test"),
                                 S("mail.example.test"), S("n1"), &fin));
  CHECK(mtasts_finished_day_report_count(fin) == 3);
  mtasts_day_aggregate_free(day);
  mtasts_policy_key_free(key);
  mtasts_policy_key_free(none);
  mtasts_policy_key_free(tlsa);
  mtasts_policy_free(p);

  /* Reports by domain: example.org, example.test, mx.example.net. */
  OK(mtasts_finished_day_report_policy_domain(fin, 1, &s));
  CHECK(str_is(s, "example.test"));
  OK(mtasts_finished_day_report_sessions(fin, 1, &ok, &failed));
  CHECK(ok == 9 && failed == 3);
  OK(mtasts_finished_day_report_filename(fin, 1, &s));
  CHECK(str_is(s, "mail.example.test!example.test!1714521600!1714607999!n1.json.gz"));
  mtasts_str json = {0};
  OK(mtasts_finished_day_report_json(fin, 1, &json));
  CHECK(str_has(json, "\"report-id\":\"2024-05-01.example.test.n1@mail.example.test\""));
  CHECK(str_has(json, "\"failed-session-count\":2"));
  CHECK(str_has(json, "\"failure-reason-code\":\"mx-not-in-policy\""));
  CHECK_RC(mtasts_finished_day_report_json(fin, 3, &json), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  OK(mtasts_finished_day_unreported(fin, &ok, &failed));
  CHECK(ok == 0 && failed == 0);
  CHECK(mtasts_finished_day_folded_failure_details(fin) == 0);

  /* The JSON, the gzip and the e-mail read back as the same report. */
  mtasts_report_summary *rs = NULL;
  mtasts_input_kind kind = 0;
  OK(mtasts_report_read_strict((const uint8_t *)json.data, json.len, &rs));
  OK(mtasts_report_summary_input_kind(rs, &kind));
  CHECK(kind == MTASTS_INPUT_KIND_JSON);
  CHECK(mtasts_report_summary_successful_sessions(rs) == 9);
  CHECK(mtasts_report_summary_failed_sessions(rs) == 3);
  mtasts_str normalized = {0};
  OK(mtasts_report_summary_json(rs, &normalized));
  CHECK(normalized.len == json.len && memcmp(normalized.data, json.data, json.len) == 0);
  mtasts_report_summary_free(rs);

  mtasts_bytes gz = {0};
  OK(mtasts_finished_day_report_gzip(fin, 1, &gz));
  CHECK(gz.len > 20 && gz.data[0] == 0x1f && gz.data[1] == 0x8b);
  OK(mtasts_report_read(gz.data, gz.len, &rs));
  OK(mtasts_report_summary_input_kind(rs, &kind));
  CHECK(kind == MTASTS_INPUT_KIND_GZIP);
  CHECK(mtasts_report_summary_result_type_count(rs) == 2);
  uint64_t count = 0;
  OK(mtasts_report_summary_result_type_at(rs, 0, &s, &count));
  CHECK(str_is(s, "certificate-expired") && count == 2);
  OK(mtasts_report_summary_result_type_at(rs, 1, &s, &count));
  CHECK(str_is(s, "validation-failure") && count == 1);
  mtasts_report_summary_free(rs);

  mtasts_str to[1] = {{S("tlsrpt@example.test")}};
  mtasts_buffer *mail = NULL;
  OK(mtasts_finished_day_report_email(fin, 1, S("TLS reports <tlsrpt@mail.example.test>"), to, 1,
                                      1714611600, S("m1"), &mail));
  const uint8_t *mail_data = mtasts_buffer_data(mail);
  size_t mail_len = mtasts_buffer_len(mail);
  CHECK(mail_len > 500 && memcmp(mail_data, "From: ", 6) == 0);
  mtasts_buffer *keep_buf = (mtasts_buffer *)0x1;
  CHECK_RC(mtasts_finished_day_report_email(fin, 1, S("no at sign"), to, 1, 1714611600, S("m1"),
                                            &keep_buf),
           MTASTS_RESULT_RENDER_FAILED);
  CHECK_RC(mtasts_finished_day_report_email(fin, 1, S("a@b.example"), NULL, 0, 1714611600, S("m1"),
                                            &keep_buf),
           MTASTS_RESULT_RENDER_FAILED);
  CHECK(keep_buf == (mtasts_buffer *)0x1);

  mtasts_buffer *signed_mail = NULL;
  OK(mtasts_dkim_sign(S(ED25519_PEM), S("mail.example.test"), S("tlsrpt2024"), mail_data, mail_len,
                      1714611600, &signed_mail));
  CHECK(mtasts_buffer_len(signed_mail) > mail_len);
  CHECK(memcmp(mtasts_buffer_data(signed_mail), "DKIM-Signature: v=1; a=ed25519-sha256;", 38) == 0);
  CHECK_RC(mtasts_dkim_sign(S("not a key"), S("mail.example.test"), S("s"), mail_data, mail_len,
                            1714611600, &keep_buf),
           MTASTS_RESULT_DKIM_FAILED);

  OK(mtasts_report_read(mtasts_buffer_data(signed_mail), mtasts_buffer_len(signed_mail), &rs));
  OK(mtasts_report_summary_input_kind(rs, &kind));
  CHECK(kind == MTASTS_INPUT_KIND_EMAIL);
  OK(mtasts_report_summary_report_id(rs, &s));
  CHECK(str_is(s, "2024-05-01.example.test.n1@mail.example.test"));
  OK(mtasts_report_summary_organization_name(rs, &s));
  CHECK(str_is(s, "Example Mail"));
  int64_t start = 0, end = 0;
  OK(mtasts_report_summary_date_range(rs, &start, &end));
  CHECK(start == 1714521600 && end == 1714607999);
  CHECK(mtasts_report_summary_policy_domain_count(rs) == 1);
  OK(mtasts_report_summary_policy_domain_at(rs, 0, &s, &ok, &failed));
  CHECK(str_is(s, "example.test") && ok == 9 && failed == 3);
  CHECK_RC(mtasts_report_summary_policy_domain_at(rs, 1, &s, &ok, &failed),
           MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_report_summary_free(rs);
  mtasts_buffer_free(signed_mail);
  mtasts_buffer_free(mail);
  mtasts_finished_day_free(fin);

  /* A real report e-mail (mail-auth's sample). */
  OK(mtasts_report_read(eml, eml_len, &rs));
  OK(mtasts_report_summary_input_kind(rs, &kind));
  CHECK(kind == MTASTS_INPUT_KIND_EMAIL);
  CHECK(mtasts_report_summary_policy_domain_count(rs) >= 1);
  CHECK(mtasts_report_summary_successful_sessions(rs) + mtasts_report_summary_failed_sessions(rs) >
        0);
  mtasts_report_summary_free(rs);

  /* Lenient reading: a missing contact-info is a warning; strict refuses. */
  static const char NO_CONTACT[] =
      "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":\"2024-02-22T00:00:00Z\","
      "\"end-datetime\":\"2024-02-22T23:59:59Z\"},\"report-id\":\"r1\",\"policies\":[{\"policy\":"
      "{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"Example.COM\"},\"summary\":{"
      "\"total-successful-session-count\":3,\"total-failure-session-count\":1}}]}";
  OK(mtasts_report_read((const uint8_t *)S(NO_CONTACT), &rs));
  size_t nw = mtasts_report_summary_warning_count(rs);
  int contact_warned = 0;
  for (size_t i = 0; i < nw; i++) {
    OK(mtasts_report_summary_warning_at(rs, i, &s));
    if (str_has(s, "contact-info")) contact_warned = 1;
  }
  CHECK(nw >= 1 && contact_warned);
  CHECK_RC(mtasts_report_summary_warning_at(rs, nw, &s), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  OK(mtasts_report_summary_policy_domain_at(rs, 0, &s, &ok, &failed));
  CHECK(str_is(s, "example.com") && ok == 3 && failed == 1);
  mtasts_report_summary_free(rs);
  mtasts_report_summary *keep_rs = (mtasts_report_summary *)0x1;
  CHECK_RC(mtasts_report_read_strict((const uint8_t *)S(NO_CONTACT), &keep_rs),
           MTASTS_RESULT_REPORT_INVALID);
  CHECK_RC(mtasts_report_read((const uint8_t *)S("{\"organization-name\": 1}"), &keep_rs),
           MTASTS_RESULT_REPORT_INVALID);
  CHECK(detail_has("organization-name"));
  CHECK_RC(mtasts_report_read((const uint8_t *)S("hello"), &keep_rs), MTASTS_RESULT_REPORT_INVALID);
  CHECK(keep_rs == (mtasts_report_summary *)0x1);

  /* A day from a time. */
  OK(mtasts_day_aggregate_new_containing(1459500000, &day));
  OK(mtasts_day_aggregate_day(day, &s));
  CHECK(str_is(s, "2016-04-01"));
  mtasts_day_aggregate_free(day);
  CHECK_RC(mtasts_day_aggregate_new_containing(-5, &day), MTASTS_RESULT_DAY_INVALID);
}

static void test_service_config(void) {
  mtasts_service_config *c = NULL;
  OK(mtasts_service_config_new(&c));
  CHECK_RC(mtasts_service_config_set_resolver(c, S("not an address")),
           MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_service_config_set_https_port(c, 0), MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_service_config_set_fetch_timeout_ms(c, 0), MTASTS_RESULT_INVALID_ARGUMENT);
  CHECK_RC(mtasts_service_config_set_worker_threads(c, 17), MTASTS_RESULT_INVALID_ARGUMENT);
  OK(mtasts_service_config_set_resolver(c, S("127.0.0.1:9")));
  OK(mtasts_service_config_set_ca_file(c, S("/nonexistent/ca.pem")));
  mtasts_service *svc = (mtasts_service *)0x1;
  CHECK_RC(mtasts_service_new(c, &svc), MTASTS_RESULT_IO);
  CHECK(svc == (mtasts_service *)0x1 && detail_has("/nonexistent/ca.pem"));
  mtasts_service_config_free(c);
}

/* NULL for every pointer argument of every function; _free(NULL). The
 * handles passed next to the NULL are real, so only the NULL is wrong. */
static void test_null_arguments(const unsigned char *der, size_t der_len) {
  mtasts_str s = {0}, s2 = {0};
  mtasts_bytes b = {0};
  uint64_t u1 = 0, u2 = 0;
  int64_t i1 = 0, i2 = 0;
  uint32_t u32 = 0;
  size_t n = 0;
  char buf[64];

  mtasts_policy *p = NULL;
  OK(mtasts_policy_parse((const uint8_t *)S(POLICY), &p));
  mtasts_policy *po = NULL;
  NUL(mtasts_policy_parse(NULL, 5, &po));
  NUL(mtasts_policy_parse(NULL, 0, &po));
  NUL(mtasts_policy_parse((const uint8_t *)S(POLICY), NULL));
  NUL(mtasts_policy_parse_strict(NULL, 5, &po));
  NUL(mtasts_policy_parse_strict((const uint8_t *)S(POLICY), NULL));
  NUL(mtasts_policy_clone(NULL, &po));
  NUL(mtasts_policy_clone(p, NULL));
  mtasts_mode mode;
  NUL(mtasts_policy_mode(NULL, &mode));
  NUL(mtasts_policy_mode(p, NULL));
  NUL(mtasts_policy_max_age(NULL, &u32));
  NUL(mtasts_policy_max_age(p, NULL));
  CHECK(mtasts_policy_mx_count(NULL) == 0);
  NUL(mtasts_policy_mx_at(NULL, 0, &s));
  NUL(mtasts_policy_mx_at(p, 0, NULL));
  NUL(mtasts_policy_id(NULL, &s));
  NUL(mtasts_policy_id(p, NULL));
  CHECK(mtasts_policy_warning_count(NULL) == 0);
  NUL(mtasts_policy_warning_at(NULL, 0, &s, &s2));
  NUL(mtasts_policy_warning_at(p, 0, &s, NULL));
  CHECK(!mtasts_policy_matches_mx(NULL, S("mx1.example.test")));
  CHECK(!mtasts_policy_matches_mx(p, NULL, 5));
  mtasts_policy_free(NULL);

  mtasts_sts_record *sr = NULL;
  OK(mtasts_sts_record_parse(S("v=STSv1; id=1; a=b"), &sr));
  NUL(mtasts_sts_record_parse(NULL, 3, &sr));
  NUL(mtasts_sts_record_parse(S("v=STSv1; id=1"), NULL));
  NUL(mtasts_sts_record_id(NULL, &s));
  NUL(mtasts_sts_record_id(sr, NULL));
  CHECK(mtasts_sts_record_extension_count(NULL) == 0);
  NUL(mtasts_sts_record_extension_at(NULL, 0, &s, &s2));
  NUL(mtasts_sts_record_extension_at(sr, 0, NULL, &s2));
  NUL(mtasts_sts_record_extension_at(sr, 0, &s, NULL));
  mtasts_sts_record_free(sr);
  mtasts_sts_record_free(NULL);

  mtasts_tlsrpt_record *tr = NULL;
  OK(mtasts_tlsrpt_record_parse(S("v=TLSRPTv1; rua=mailto:a@b.example"), &tr));
  mtasts_rua_kind kind;
  NUL(mtasts_tlsrpt_record_parse(NULL, 3, &tr));
  NUL(mtasts_tlsrpt_record_parse(S("v=TLSRPTv1; rua=mailto:a@b.example"), NULL));
  CHECK(!mtasts_tlsrpt_record_is_usable(NULL));
  CHECK(mtasts_tlsrpt_record_rua_count(NULL) == 0);
  NUL(mtasts_tlsrpt_record_rua_at(NULL, 0, &s, &kind, &s2));
  NUL(mtasts_tlsrpt_record_rua_at(tr, 0, NULL, &kind, &s2));
  NUL(mtasts_tlsrpt_record_rua_at(tr, 0, &s, NULL, &s2));
  mtasts_tlsrpt_record_free(tr);
  mtasts_tlsrpt_record_free(NULL);

  mtasts_decision *d = NULL;
  OK(mtasts_decide(p, S("evil.example"), 0, NULL, 0, 0, &d));
  mtasts_decision *dout = NULL;
  mtasts_action action;
  NUL(mtasts_decide(p, NULL, 3, 0, NULL, 0, 0, &dout));
  NUL(mtasts_decide(p, S("mx1.example.test"), 0, NULL, 0, 0, NULL));
  NUL(mtasts_decision_action(NULL, &action));
  NUL(mtasts_decision_action(d, NULL));
  CHECK(!mtasts_decision_success(NULL));
  CHECK(mtasts_decision_failure_count(NULL) == 0);
  NUL(mtasts_decision_failure_at(NULL, 0, &s, &s2));
  NUL(mtasts_decision_failure_at(d, 0, NULL, &s2));
  mtasts_decision_free(NULL);

  mtasts_tls_outcome o;
  NUL(mtasts_cert_check(NULL, 5, S("mx1.example.test"), 0, &o, buf, sizeof buf, &n));
  NUL(mtasts_cert_check(der, der_len, NULL, 5, 0, &o, buf, sizeof buf, &n));
  NUL(mtasts_cert_check(der, der_len, S("mx1.example.test"), 0, NULL, buf, sizeof buf, &n));
  NUL(mtasts_tls_outcome_result_type(0, NULL));

  NUL(mtasts_result_message(0, buf, sizeof buf, NULL));
  NUL(mtasts_last_error_detail(buf, sizeof buf, NULL));
  CHECK(mtasts_buffer_data(NULL) == NULL);
  CHECK(mtasts_buffer_len(NULL) == 0);
  mtasts_buffer_free(NULL);

  /* Reports. */
  static const char REPORT[] =
      "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":\"2024-02-22T00:00:00Z\","
      "\"end-datetime\":\"2024-02-22T23:59:59Z\"},\"contact-info\":\"a@org.example\","
      "\"report-id\":\"r1\",\"policies\":[{\"policy\":{\"policy-type\":\"no-policy-found\","
      "\"policy-domain\":\"example.com\"},\"summary\":{\"total-successful-session-count\":3,"
      "\"total-failure-session-count\":1},\"failure-details\":[{\"result-type\":"
      "\"starttls-not-supported\",\"sending-mta-ip\":\"192.0.2.1\",\"receiving-mx-hostname\":"
      "\"mx.example.com\",\"failed-session-count\":1}]}]}";
  mtasts_report_summary *rs = NULL, *rso = NULL;
  OK(mtasts_report_read((const uint8_t *)S(REPORT), &rs));
  mtasts_input_kind ik;
  NUL(mtasts_report_read(NULL, 5, &rso));
  NUL(mtasts_report_read((const uint8_t *)S(REPORT), NULL));
  NUL(mtasts_report_read_strict(NULL, 5, &rso));
  NUL(mtasts_report_read_strict((const uint8_t *)S(REPORT), NULL));
  NUL(mtasts_report_summary_input_kind(NULL, &ik));
  NUL(mtasts_report_summary_input_kind(rs, NULL));
  NUL(mtasts_report_summary_organization_name(NULL, &s));
  NUL(mtasts_report_summary_organization_name(rs, NULL));
  NUL(mtasts_report_summary_report_id(NULL, &s));
  NUL(mtasts_report_summary_report_id(rs, NULL));
  NUL(mtasts_report_summary_date_range(NULL, &i1, &i2));
  NUL(mtasts_report_summary_date_range(rs, NULL, &i2));
  NUL(mtasts_report_summary_date_range(rs, &i1, NULL));
  CHECK(mtasts_report_summary_successful_sessions(NULL) == 0);
  CHECK(mtasts_report_summary_failed_sessions(NULL) == 0);
  CHECK(mtasts_report_summary_policy_domain_count(NULL) == 0);
  NUL(mtasts_report_summary_policy_domain_at(NULL, 0, &s, &u1, &u2));
  NUL(mtasts_report_summary_policy_domain_at(rs, 0, NULL, &u1, &u2));
  NUL(mtasts_report_summary_policy_domain_at(rs, 0, &s, NULL, &u2));
  NUL(mtasts_report_summary_policy_domain_at(rs, 0, &s, &u1, NULL));
  CHECK(mtasts_report_summary_result_type_count(NULL) == 0);
  NUL(mtasts_report_summary_result_type_at(NULL, 0, &s, &u1));
  NUL(mtasts_report_summary_result_type_at(rs, 0, NULL, &u1));
  NUL(mtasts_report_summary_result_type_at(rs, 0, &s, NULL));
  CHECK(mtasts_report_summary_warning_count(NULL) == 0);
  NUL(mtasts_report_summary_warning_at(NULL, 0, &s));
  NUL(mtasts_report_summary_warning_at(rs, 0, NULL));
  NUL(mtasts_report_summary_json(NULL, &s));
  NUL(mtasts_report_summary_json(rs, NULL));
  mtasts_report_summary_free(rs);
  mtasts_report_summary_free(NULL);

  /* Keys, failures, aggregates. */
  mtasts_policy_key *k = NULL, *ko = NULL;
  OK(mtasts_policy_key_for_policy(S("example.test"), p, &k));
  NUL(mtasts_policy_key_for_policy(NULL, 5, p, &ko));
  NUL(mtasts_policy_key_for_policy(S("example.test"), NULL, &ko));
  NUL(mtasts_policy_key_for_policy(S("example.test"), p, NULL));
  NUL(mtasts_policy_key_no_policy_found(NULL, 5, &ko));
  NUL(mtasts_policy_key_no_policy_found(S("example.test"), NULL));
  mtasts_str one[1] = {{S("x")}};
  mtasts_str bad[1] = {{NULL, 3}};
  NUL(mtasts_policy_key_new(2, NULL, 5, one, 1, one, 1, &ko));
  NUL(mtasts_policy_key_new(2, S("example.test"), NULL, 1, one, 1, &ko));
  NUL(mtasts_policy_key_new(2, S("example.test"), one, 1, NULL, 1, &ko));
  NUL(mtasts_policy_key_new(2, S("example.test"), bad, 1, one, 1, &ko));
  NUL(mtasts_policy_key_new(2, S("example.test"), one, 1, one, 1, NULL));
  NUL(mtasts_policy_key_domain(NULL, &s));
  NUL(mtasts_policy_key_domain(k, NULL));
  mtasts_policy_key_free(NULL);

  mtasts_failure *f = NULL, *fo = NULL;
  OK(mtasts_failure_new(S("starttls-not-supported"), &f));
  NUL(mtasts_failure_new(NULL, 5, &fo));
  NUL(mtasts_failure_new(S("x"), NULL));
  NUL(mtasts_failure_set_receiving_mx_hostname(NULL, S("x")));
  NUL(mtasts_failure_set_receiving_mx_hostname(f, NULL, 1));
  NUL(mtasts_failure_set_receiving_mx_helo(NULL, S("x")));
  NUL(mtasts_failure_set_receiving_mx_helo(f, NULL, 1));
  NUL(mtasts_failure_set_failure_reason_code(NULL, S("x")));
  NUL(mtasts_failure_set_failure_reason_code(f, NULL, 1));
  NUL(mtasts_failure_set_additional_information(NULL, S("x")));
  NUL(mtasts_failure_set_additional_information(f, NULL, 1));
  NUL(mtasts_failure_set_receiving_ip(NULL, S("192.0.2.1")));
  NUL(mtasts_failure_set_receiving_ip(f, NULL, 1));
  NUL(mtasts_failure_set_sending_mta_ip(NULL, S("192.0.2.1")));
  NUL(mtasts_failure_set_sending_mta_ip(f, NULL, 1));
  mtasts_failure_free(NULL);

  mtasts_day_aggregate *a = NULL, *ao = NULL;
  OK(mtasts_day_aggregate_new(S("2024-05-01"), &a));
  NUL(mtasts_day_aggregate_new(NULL, 10, &ao));
  NUL(mtasts_day_aggregate_new(S("2024-05-01"), NULL));
  NUL(mtasts_day_aggregate_new_containing(0, NULL));
  NUL(mtasts_day_aggregate_day(NULL, &s));
  NUL(mtasts_day_aggregate_day(a, NULL));
  NUL(mtasts_day_aggregate_record_success(NULL, k, NULL));
  NUL(mtasts_day_aggregate_record_success(a, NULL, NULL));
  NUL(mtasts_day_aggregate_record_failure(NULL, k, f, NULL));
  NUL(mtasts_day_aggregate_record_failure(a, NULL, f, NULL));
  NUL(mtasts_day_aggregate_record_failure(a, k, NULL, NULL));
  NUL(mtasts_day_aggregate_record_decision(NULL, k, d, NULL, 0, NULL, 0, NULL));
  NUL(mtasts_day_aggregate_record_decision(a, NULL, d, NULL, 0, NULL, 0, NULL));
  NUL(mtasts_day_aggregate_record_decision(a, k, NULL, NULL, 0, NULL, 0, NULL));
  NUL(mtasts_day_aggregate_totals(NULL, &u1, &u2));
  NUL(mtasts_day_aggregate_totals(a, NULL, &u2));
  NUL(mtasts_day_aggregate_totals(a, &u1, NULL));
  /* Nothing above was counted. */
  OK(mtasts_day_aggregate_totals(a, &u1, &u2));
  CHECK(u1 == 0 && u2 == 0);
  CHECK(mtasts_day_aggregate_policy_count(NULL) == 0);
  OK(mtasts_day_aggregate_record_failure(a, k, f, NULL));

  mtasts_finished_day *fd = NULL, *fdo = NULL;
  OK(mtasts_day_aggregate_finish(a, S("Org"), S("r@mail.example"), S("mail.example"), S("u1"),
                                 &fd));
  NUL(mtasts_day_aggregate_finish(NULL, S("Org"), S("r@mail.example"), S("mail.example"), S("u1"),
                                  &fdo));
  NUL(mtasts_day_aggregate_finish(a, NULL, 3, S("r@mail.example"), S("mail.example"), S("u1"),
                                  &fdo));
  NUL(mtasts_day_aggregate_finish(a, S("Org"), NULL, 3, S("mail.example"), S("u1"), &fdo));
  NUL(mtasts_day_aggregate_finish(a, S("Org"), S("r@mail.example"), NULL, 3, S("u1"), &fdo));
  NUL(mtasts_day_aggregate_finish(a, S("Org"), S("r@mail.example"), S("mail.example"), NULL, 2,
                                  &fdo));
  NUL(mtasts_day_aggregate_finish(a, S("Org"), S("r@mail.example"), S("mail.example"), S("u1"),
                                  NULL));
  CHECK(mtasts_finished_day_report_count(NULL) == 0);
  CHECK(mtasts_finished_day_report_count(fd) == 1);
  NUL(mtasts_finished_day_report_json(NULL, 0, &s));
  NUL(mtasts_finished_day_report_json(fd, 0, NULL));
  NUL(mtasts_finished_day_report_gzip(NULL, 0, &b));
  NUL(mtasts_finished_day_report_gzip(fd, 0, NULL));
  NUL(mtasts_finished_day_report_filename(NULL, 0, &s));
  NUL(mtasts_finished_day_report_filename(fd, 0, NULL));
  NUL(mtasts_finished_day_report_policy_domain(NULL, 0, &s));
  NUL(mtasts_finished_day_report_policy_domain(fd, 0, NULL));
  NUL(mtasts_finished_day_report_sessions(NULL, 0, &u1, &u2));
  NUL(mtasts_finished_day_report_sessions(fd, 0, NULL, &u2));
  NUL(mtasts_finished_day_report_sessions(fd, 0, &u1, NULL));
  mtasts_str to[1] = {{S("r@example.test")}};
  mtasts_buffer *bo = NULL;
  NUL(mtasts_finished_day_report_email(NULL, 0, S("a@b.example"), to, 1, 0, S("m"), &bo));
  NUL(mtasts_finished_day_report_email(fd, 0, NULL, 3, to, 1, 0, S("m"), &bo));
  NUL(mtasts_finished_day_report_email(fd, 0, S("a@b.example"), NULL, 1, 0, S("m"), &bo));
  NUL(mtasts_finished_day_report_email(fd, 0, S("a@b.example"), to, 1, 0, NULL, 1, &bo));
  NUL(mtasts_finished_day_report_email(fd, 0, S("a@b.example"), to, 1, 0, S("m"), NULL));
  NUL(mtasts_finished_day_unreported(NULL, &u1, &u2));
  NUL(mtasts_finished_day_unreported(fd, NULL, &u2));
  NUL(mtasts_finished_day_unreported(fd, &u1, NULL));
  CHECK(mtasts_finished_day_folded_failure_details(NULL) == 0);
  mtasts_finished_day_free(fd);
  mtasts_finished_day_free(NULL);
  mtasts_day_aggregate_free(a);
  mtasts_day_aggregate_free(NULL);
  mtasts_failure_free(f);
  mtasts_policy_key_free(k);
  mtasts_decision_free(d);

  static const uint8_t MSG[] = "From: a@b.example\r\n\r\nbody\r\n";
  NUL(mtasts_dkim_sign(NULL, 5, S("b.example"), S("s"), MSG, sizeof MSG - 1, 0, &bo));
  NUL(mtasts_dkim_sign(S(ED25519_PEM), NULL, 5, S("s"), MSG, sizeof MSG - 1, 0, &bo));
  NUL(mtasts_dkim_sign(S(ED25519_PEM), S("b.example"), NULL, 1, MSG, sizeof MSG - 1, 0, &bo));
  NUL(mtasts_dkim_sign(S(ED25519_PEM), S("b.example"), S("s"), NULL, 5, 0, &bo));
  NUL(mtasts_dkim_sign(S(ED25519_PEM), S("b.example"), S("s"), MSG, sizeof MSG - 1, 0, NULL));

  /* The service: configuration, service, lookup. The resolver is a port
   * nobody answers on; nothing here sends a query. */
  mtasts_service_config *c = NULL, *co = NULL;
  OK(mtasts_service_config_new(&c));
  OK(mtasts_service_config_set_resolver(c, S("127.0.0.1:9")));
  NUL(mtasts_service_config_new(NULL));
  NUL(mtasts_service_config_set_state_dir(NULL, S("/tmp")));
  NUL(mtasts_service_config_set_state_dir(c, NULL, 4));
  NUL(mtasts_service_config_set_resolver(NULL, S("127.0.0.1:53")));
  NUL(mtasts_service_config_set_resolver(c, NULL, 4));
  NUL(mtasts_service_config_set_ca_file(NULL, S("/tmp/ca.pem")));
  NUL(mtasts_service_config_set_ca_file(c, NULL, 4));
  NUL(mtasts_service_config_set_https_port(NULL, 443));
  NUL(mtasts_service_config_set_fetch_timeout_ms(NULL, 1000));
  NUL(mtasts_service_config_set_strict(NULL, true));
  NUL(mtasts_service_config_set_worker_threads(NULL, 1));
  mtasts_service_config_free(NULL);
  (void)co;

  mtasts_service *svc = NULL, *so = NULL;
  OK(mtasts_service_config_set_worker_threads(c, 1));
  OK(mtasts_service_new(c, &svc));
  mtasts_service_config_free(c);
  NUL(mtasts_service_new(NULL, &so));
  mtasts_service_config *c2 = NULL;
  OK(mtasts_service_config_new(&c2));
  NUL(mtasts_service_new(c2, NULL));
  mtasts_service_config_free(c2);
  mtasts_lookup *lo = NULL;
  NUL(mtasts_service_lookup(NULL, S("example.test"), 0, &lo));
  NUL(mtasts_service_lookup(svc, NULL, 5, 0, &lo));
  NUL(mtasts_service_lookup(svc, S("example.test"), 0, NULL));
  CHECK_RC(mtasts_service_lookup(svc, S("not a domain"), 0, &lo), MTASTS_RESULT_DOMAIN_INVALID);
  CHECK(lo == NULL);
  CHECK(mtasts_service_cached_count(NULL) == 0);
  CHECK(mtasts_service_cached_count(svc) == 0);
  CHECK(mtasts_service_note_count(NULL) == 0);
  CHECK(mtasts_service_note_count(svc) == 0);
  NUL(mtasts_service_note_at(NULL, 0, &s));
  NUL(mtasts_service_note_at(svc, 0, NULL));
  CHECK_RC(mtasts_service_note_at(svc, 0, &s), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  mtasts_service_free(svc);
  mtasts_service_free(NULL);

  const mtasts_policy *lp = NULL;
  mtasts_answer ans;
  NUL(mtasts_lookup_policy(NULL, &lp));
  NUL(mtasts_lookup_answer(NULL, &ans));
  NUL(mtasts_lookup_failure(NULL, &s, &s2));
  CHECK(mtasts_lookup_warning_count(NULL) == 0);
  NUL(mtasts_lookup_warning_at(NULL, 0, &s, &s2));
  mtasts_lookup_free(NULL);
  /* (lookup.c passes NULL outputs with a real lookup.) */

  mtasts_policy_free(p);
  (void)u32;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s GOOD.der EXPIRED.der REPORT.eml\n", argv[0]);
    return 2;
  }
  size_t good_len = 0, expired_len = 0, eml_len = 0;
  unsigned char *good = read_file(argv[1], &good_len);
  unsigned char *expired = read_file(argv[2], &expired_len);
  unsigned char *eml = read_file(argv[3], &eml_len);
  if (good == NULL || expired == NULL || eml == NULL) return 1;

  CHECK(strcmp(mtasts_version(), MTASTS_VERSION) == 0);
  test_messages();
  test_policy();
  test_records();
  test_decide(good, good_len, expired, expired_len);
  test_aggregate_and_reports(eml, eml_len);
  test_service_config();
  test_null_arguments(good, good_len);

  free(good);
  free(expired);
  free(eml);
  return finish("api");
}
