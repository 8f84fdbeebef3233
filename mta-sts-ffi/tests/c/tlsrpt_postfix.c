/* Written purely against tlsrpt.h (the libtlsrpt API, as Postfix uses it):
 * N Postfix-shaped delivery requests to example.com (an STS policy with
 * two policy strings and one MX pattern; every second one a failure with
 * all fields), then one to example.org without a policy and without a
 * policy domain (the library fills it in), then one whose failure fields
 * need JSON escaping and are not ASCII. The Rust test (c_programs.rs)
 * runs the collector on the socket and checks what it aggregated.
 *
 *   tlsrpt_postfix <socket> <n>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrpt.h"

static int checks_run = 0;
static int checks_failed = 0;

#define CHECK_RC(call, want)                                                 \
  do {                                                                       \
    int rc_ = (call);                                                        \
    checks_run++;                                                            \
    if (rc_ != (want)) {                                                     \
      checks_failed++;                                                       \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d\n", __FILE__,     \
              __LINE__, #call, rc_, tlsrpt_strerror(rc_), (want));           \
    }                                                                        \
  } while (0)

#define OK(call) CHECK_RC(call, 0)

/* One delivery attempt as Postfix's smtp client reports it. */
static void postfix_delivery(struct tlsrpt_connection_t *con, int failed) {
  struct tlsrpt_dr_t *dr = NULL;
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com",
                                  "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"));
  OK(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, "example.com"));
  OK(tlsrpt_add_policy_string(dr, "version: STSv1"));
  OK(tlsrpt_add_policy_string(dr, "mode: enforce"));
  OK(tlsrpt_add_mx_host_pattern(dr, "mx.example.com"));
  if (failed) {
    OK(tlsrpt_add_delivery_request_failure(
        dr, TLSRPT_CERTIFICATE_HOST_MISMATCH, "192.0.2.1", "mx.example.com",
        "mx1.example.com", "198.51.100.7", "peer certificate names mx9.example.net",
        "hostname mismatch"));
    OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE));
  } else {
    OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  }
  OK(tlsrpt_finish_delivery_request(&dr));
  checks_run++;
  if (dr != NULL) {
    checks_failed++;
    fprintf(stderr, "finish did not set the request to NULL\n");
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <socket> <n>\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[2]);
  CHECK_RC(tlsrpt_version_check(TLSRPT_VERSION_MAJOR, TLSRPT_VERSION_MINOR,
                                TLSRPT_VERSION_PATCH),
           1);
  /* The collector's queue may fill: wait rather than lose datagrams. */
  tlsrpt_set_blocking();
  struct tlsrpt_connection_t *con = NULL;
  OK(tlsrpt_open(&con, argv[1]));
  if (con == NULL) {
    printf("tlsrpt_postfix: %d passed, %d failed\n", checks_run - checks_failed,
           checks_failed);
    return 1;
  }

  for (int i = 0; i < n; i++) postfix_delivery(con, i % 2 == 1);

  /* No policy found; no policy domain: the delivery domain is used. */
  struct tlsrpt_dr_t *dr = NULL;
  OK(tlsrpt_init_delivery_request(&dr, con, "example.org", NULL));
  OK(tlsrpt_init_policy(dr, TLSRPT_NO_POLICY_FOUND, NULL));
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  OK(tlsrpt_finish_delivery_request(&dr));

  /* Fields that need escaping, and UTF-8 that is not ASCII. */
  OK(tlsrpt_init_delivery_request(&dr, con, "example.net", NULL));
  OK(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, ""));
  OK(tlsrpt_add_policy_string(dr, "version: STSv1"));
  OK(tlsrpt_add_mx_host_pattern(dr, "*.example.net"));
  OK(tlsrpt_add_delivery_request_failure(
      dr, TLSRPT_CERTIFICATE_EXPIRED, "2001:db8::1", "mx.example.net", NULL, NULL,
      "say \"h\xc3\xa9llo\"\\\n\tbye", NULL));
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE));
  OK(tlsrpt_finish_delivery_request(&dr));

  OK(tlsrpt_close(&con));
  checks_run++;
  if (con != NULL) checks_failed++;
  printf("tlsrpt_postfix: %d passed, %d failed\n", checks_run - checks_failed,
         checks_failed);
  return checks_failed == 0 ? 0 : 1;
}
