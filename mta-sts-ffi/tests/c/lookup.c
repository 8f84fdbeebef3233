/* The blocking policy lookup against the loopback DNS and HTTPS servers the
 * Rust test (tests/c_programs.rs) runs: a discovery, a cache hit, the
 * NOT_YET path of a trickling HTTPS response and the later call that gets
 * the answer, no policy, a failed fetch, NULL outputs with a real lookup,
 * and the cache kept in a state directory across services.
 *
 * argv[1]: the DNS server, IP:PORT
 * argv[2]: the HTTPS port
 * argv[3]: the test CA, PEM file
 * argv[4]: an empty state directory
 */
#include <time.h>

#include "common.h"

static mtasts_service *start(const char *resolver, unsigned port, const char *ca,
                             const char *state_dir) {
  mtasts_service_config *c = NULL;
  mtasts_service *svc = NULL;
  OK(mtasts_service_config_new(&c));
  OK(mtasts_service_config_set_resolver(c, resolver, strlen(resolver)));
  OK(mtasts_service_config_set_https_port(c, (uint16_t)port));
  OK(mtasts_service_config_set_ca_file(c, ca, strlen(ca)));
  OK(mtasts_service_config_set_fetch_timeout_ms(c, 8000));
  if (state_dir != NULL) OK(mtasts_service_config_set_state_dir(c, state_dir, strlen(state_dir)));
  OK(mtasts_service_new(c, &svc));
  mtasts_service_config_free(c);
  return svc;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s DNS_IP:PORT HTTPS_PORT CA.pem STATE_DIR\n", argv[0]);
    return 2;
  }
  const char *resolver = argv[1];
  unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
  const char *ca = argv[3];
  const char *state = argv[4];

  mtasts_service *svc = start(resolver, port, ca, NULL);
  if (svc == NULL) return finish("lookup");
  mtasts_lookup *l = NULL;
  const mtasts_policy *p = NULL;
  mtasts_answer answer = 0;
  mtasts_str s = {0}, r = {0};
  mtasts_mode mode = 0;

  /* A discovery, then the cache. */
  OK(mtasts_service_lookup(svc, S("Fast.Test."), 10000, &l));
  OK(mtasts_lookup_policy(l, &p));
  CHECK(p != NULL);
  OK(mtasts_lookup_answer(l, &answer));
  CHECK(answer == MTASTS_ANSWER_DISCOVERED);
  OK(mtasts_policy_mode(p, &mode));
  CHECK(mode == MTASTS_MODE_ENFORCE);
  OK(mtasts_policy_id(p, &s));
  CHECK(str_is(s, "20240101"));
  CHECK(mtasts_policy_matches_mx(p, S("mx1.fast.test")));
  CHECK(!mtasts_policy_matches_mx(p, S("mx1.slow.test")));
  CHECK_RC(mtasts_lookup_failure(l, &s, &r), MTASTS_RESULT_NOT_FOUND);
  /* NULL outputs with a real lookup. */
  NUL(mtasts_lookup_policy(l, NULL));
  NUL(mtasts_lookup_answer(l, NULL));
  NUL(mtasts_lookup_failure(l, NULL, &r));
  NUL(mtasts_lookup_failure(l, &s, NULL));
  NUL(mtasts_lookup_warning_at(l, 0, NULL, &r));
  NUL(mtasts_lookup_warning_at(l, 0, &s, NULL));
  CHECK_RC(mtasts_lookup_warning_at(l, 0, &s, &r), MTASTS_RESULT_INDEX_OUT_OF_RANGE);
  /* A policy kept beyond its lookup. */
  mtasts_policy *kept = NULL;
  OK(mtasts_policy_clone(p, &kept));
  mtasts_lookup_free(l);
  CHECK(mtasts_policy_matches_mx(kept, S("mx1.fast.test")));

  double t0 = now_ms();
  OK(mtasts_service_lookup(svc, S("fast.test"), 0, &l));
  OK(mtasts_lookup_answer(l, &answer));
  CHECK(answer == MTASTS_ANSWER_CACHE_HIT);
  CHECK(now_ms() - t0 < 1000.0);
  mtasts_lookup_free(l);
  CHECK(mtasts_service_cached_count(svc) == 1);

  /* Use it for a delivery: decide, record. */
  mtasts_day_aggregate *day = NULL;
  mtasts_policy_key *key = NULL;
  mtasts_decision *d = NULL;
  OK(mtasts_day_aggregate_new_containing((int64_t)time(NULL), &day));
  OK(mtasts_policy_key_for_policy(S("fast.test"), kept, &key));
  OK(mtasts_decide(kept, S("mx1.fast.test"), MTASTS_TLS_OUTCOME_VALID, NULL, 0, 0, &d));
  OK(mtasts_day_aggregate_record_decision(day, key, d, S("192.0.2.1"), NULL, 0, NULL));
  uint64_t ok = 0, failed = 0;
  OK(mtasts_day_aggregate_totals(day, &ok, &failed));
  CHECK(ok == 1 && failed == 0);
  mtasts_decision_free(d);
  mtasts_policy_key_free(key);
  mtasts_day_aggregate_free(day);
  mtasts_policy_free(kept);

  /* NOT_YET: the policy host trickles its answer; the discovery goes on in
   * the background and a later call gets it. */
  mtasts_lookup *keep = (mtasts_lookup *)0x1;
  t0 = now_ms();
  CHECK_RC(mtasts_service_lookup(svc, S("slow.test"), 200, &keep), MTASTS_RESULT_NOT_YET);
  double waited = now_ms() - t0;
  CHECK(waited >= 150.0 && waited < 1500.0);
  CHECK(keep == (mtasts_lookup *)0x1);
  CHECK(detail_has("background"));
  CHECK_RC(mtasts_service_lookup(svc, S("slow.test"), 0, &keep), MTASTS_RESULT_NOT_YET);
  OK(mtasts_service_lookup(svc, S("slow.test"), 15000, &l));
  OK(mtasts_lookup_policy(l, &p));
  CHECK(p != NULL);
  if (p != NULL) {
    OK(mtasts_policy_mode(p, &mode));
    CHECK(mode == MTASTS_MODE_TESTING);
  }
  mtasts_lookup_free(l);
  OK(mtasts_service_lookup(svc, S("slow.test"), 0, &l));
  OK(mtasts_lookup_answer(l, &answer));
  CHECK(answer == MTASTS_ANSWER_CACHE_HIT);
  mtasts_lookup_free(l);

  /* No _mta-sts record: no policy, no failure. */
  OK(mtasts_service_lookup(svc, S("none.test"), 10000, &l));
  p = (const mtasts_policy *)0x1;
  OK(mtasts_lookup_policy(l, &p));
  CHECK(p == NULL);
  CHECK_RC(mtasts_lookup_failure(l, &s, &r), MTASTS_RESULT_NOT_FOUND);
  mtasts_lookup_free(l);

  /* A record but no policy file: a failure to report, no policy. */
  OK(mtasts_service_lookup(svc, S("broken.test"), 10000, &l));
  OK(mtasts_lookup_policy(l, &p));
  CHECK(p == NULL);
  OK(mtasts_lookup_failure(l, &s, &r));
  CHECK(str_is(s, "sts-policy-fetch-error"));
  CHECK(str_has(r, "404"));
  mtasts_lookup_free(l);

  mtasts_service_free(svc);

  /* The cache in a state directory survives the service. */
  svc = start(resolver, port, ca, state);
  CHECK(mtasts_service_cached_count(svc) == 0);
  OK(mtasts_service_lookup(svc, S("fast.test"), 10000, &l));
  mtasts_lookup_free(l);
  mtasts_service_free(svc);
  svc = start(resolver, port, ca, state);
  CHECK(mtasts_service_cached_count(svc) == 1);
  CHECK(mtasts_service_note_count(svc) == 0);
  mtasts_service_free(svc);

  return finish("lookup");
}
