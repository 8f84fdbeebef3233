/* The libtlsrpt-compatible API's error paths, written against tlsrpt.h:
 * NULL for every pointer, sticky first errors, nothing sent after an
 * error, cancel returning the sticky code, destroy setting NULL, the size
 * caps' distinct codes, enum values out of range, an unfinished policy,
 * sendto errors (errno arithmetic), the exact bytes of a datagram and
 * JSON escaping. It binds its own receiving socket in <dir>.
 *
 *   tlsrpt_errors <dir>
 */
#define _DEFAULT_SOURCE /* MSG_DONTWAIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tlsrpt.h"

static int checks_run = 0;
static int checks_failed = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    checks_run++;                                                            \
    if (!(cond)) {                                                           \
      checks_failed++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,      \
              #cond);                                                        \
    }                                                                        \
  } while (0)

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

static int receiver = -1;
static char received[70000];

/* The next datagram waiting on the receiving socket (its length), or -1
 * when none is. */
static long next_datagram(void) {
  ssize_t n = recv(receiver, received, sizeof received - 1, MSG_DONTWAIT);
  if (n < 0) return -1;
  received[n] = 0;
  return (long)n;
}

static void nothing_sent(int line) {
  checks_run++;
  if (next_datagram() >= 0) {
    checks_failed++;
    fprintf(stderr, "line %d: a datagram was sent: %s\n", line, received);
  }
}

/* A request with an open STS policy for example.com. */
static struct tlsrpt_dr_t *open_request(struct tlsrpt_connection_t *con) {
  struct tlsrpt_dr_t *dr = NULL;
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", NULL));
  OK(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, "example.com"));
  return dr;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char path[200], missing[200], toolong[300];
  snprintf(path, sizeof path, "%s/errors.sock", argv[1]);
  snprintf(missing, sizeof missing, "%s/nobody.sock", argv[1]);
  memset(toolong, 'x', sizeof toolong - 1);
  toolong[sizeof toolong - 1] = 0;

  receiver = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  unlink(path);
  CHECK(bind(receiver, (struct sockaddr *)&sa, sizeof sa) == 0);

  /* Version. */
  CHECK(tlsrpt_version_check(0, 5, 0) == 1);
  CHECK(tlsrpt_version_check(0, 4, 9) == 1);
  CHECK(tlsrpt_version_check(0, 6, 0) == 0);
  CHECK(tlsrpt_version_check(1, 0, 0) == 0);
  CHECK(strcmp(tlsrpt_version(), TLSRPT_VERSION_STRING) == 0);

  /* Opening. */
  struct tlsrpt_connection_t *con = (struct tlsrpt_connection_t *)&sa;
  CHECK_RC(tlsrpt_open(NULL, path), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_open(&con, NULL), TLSRPT_ERR_MTASTS_NULL);
  CHECK(con == NULL);
  CHECK_RC(tlsrpt_open(&con, toolong), TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG);
  CHECK_RC(tlsrpt_open(&con, ""), TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  OK(tlsrpt_open(&con, path));
  CHECK(con != NULL);
  CHECK(tlsrpt_get_socket(con) >= 0);
  CHECK(tlsrpt_get_socket(NULL) == -1);
  tlsrpt_set_malloc_and_free(malloc, free);
  tlsrpt_set_malloc_and_free(NULL, NULL);
  tlsrpt_set_nonblocking();

  /* NULL everywhere. */
  struct tlsrpt_dr_t *dr = (struct tlsrpt_dr_t *)&sa;
  CHECK_RC(tlsrpt_init_delivery_request(NULL, con, "example.com", NULL),
           TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_init_delivery_request(&dr, NULL, "example.com", NULL),
           TLSRPT_ERR_TLSRPT_NOCONNECTION);
  CHECK(dr == NULL);
  CHECK_RC(tlsrpt_init_delivery_request(&dr, con, NULL, NULL), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_init_delivery_request(&dr, con, "", NULL),
           TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  CHECK_RC(tlsrpt_init_policy(NULL, TLSRPT_POLICY_STS, "x"), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_add_policy_string(NULL, "x"), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_add_mx_host_pattern(NULL, "x"), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_add_delivery_request_failure(NULL, TLSRPT_DANE_REQUIRED, NULL, NULL,
                                               NULL, NULL, NULL, NULL),
           TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_finish_policy(NULL, TLSRPT_FINAL_SUCCESS), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_finish_delivery_request(NULL), TLSRPT_ERR_MTASTS_NULL);
  dr = NULL;
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_cancel_delivery_request(NULL), TLSRPT_ERR_MTASTS_NULL);
  OK(tlsrpt_cancel_delivery_request(&dr));
  CHECK_RC(tlsrpt_close(NULL), TLSRPT_ERR_MTASTS_NULL);
  nothing_sent(__LINE__);

  /* A NULL policy string: sticky, never sent. */
  dr = open_request(con);
  CHECK_RC(tlsrpt_add_policy_string(dr, NULL), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_add_mx_host_pattern(dr, "mx.example.com"), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS), TLSRPT_ERR_MTASTS_NULL);
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_NULL);
  CHECK(dr == NULL);
  nothing_sent(__LINE__);

  /* No open policy; the first error sticks over later different ones. */
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", NULL));
  CHECK_RC(tlsrpt_add_policy_string(dr, "version: STSv1"), TLSRPT_ERR_MTASTS_NO_OPEN_POLICY);
  CHECK_RC(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, "example.com"),
           TLSRPT_ERR_MTASTS_NO_OPEN_POLICY);
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_NO_OPEN_POLICY);
  CHECK(dr == NULL);
  nothing_sent(__LINE__);

  /* A nested policy; cancel returns the sticky code and sets NULL. */
  dr = open_request(con);
  CHECK_RC(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, "example.com"),
           TLSRPT_ERR_TLSRPT_NESTEDPOLICY);
  CHECK_RC(tlsrpt_cancel_delivery_request(&dr), TLSRPT_ERR_TLSRPT_NESTEDPOLICY);
  CHECK(dr == NULL);
  nothing_sent(__LINE__);

  /* Cancel of a healthy request: 0, NULL, nothing sent. */
  dr = open_request(con);
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  OK(tlsrpt_cancel_delivery_request(&dr));
  CHECK(dr == NULL);
  nothing_sent(__LINE__);

  /* No policies. */
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", NULL));
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_TLSRPT_NOPOLICIES);
  CHECK(dr == NULL);
  nothing_sent(__LINE__);

  /* Not UTF-8. */
  dr = open_request(con);
  CHECK_RC(tlsrpt_add_policy_string(dr, "mode: \xff"), TLSRPT_ERR_MTASTS_INVALID_UTF8);
  CHECK_RC(tlsrpt_cancel_delivery_request(&dr), TLSRPT_ERR_MTASTS_INVALID_UTF8);

  /* An oversize field: a distinct code, sticky, not sent. */
  char *big = malloc(3001);
  memset(big, 'a', 3000);
  big[3000] = 0;
  dr = open_request(con);
  CHECK_RC(tlsrpt_add_delivery_request_failure(dr, TLSRPT_VALIDATION_FAILURE, NULL, NULL,
                                               NULL, NULL, big, NULL),
           TLSRPT_ERR_MTASTS_FIELD_TOO_LONG);
  CHECK_RC(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE), TLSRPT_ERR_MTASTS_FIELD_TOO_LONG);
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_FIELD_TOO_LONG);
  nothing_sent(__LINE__);
  /* 2048 bytes is allowed. */
  big[2048] = 0;
  dr = open_request(con);
  OK(tlsrpt_add_delivery_request_failure(dr, TLSRPT_VALIDATION_FAILURE, NULL, NULL, NULL,
                                         NULL, big, NULL));
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE));
  OK(tlsrpt_finish_delivery_request(&dr));
  CHECK(next_datagram() > 2048);
  free(big);

  /* The datagram cap: 9 policy strings of 8000 bytes. */
  char *line = malloc(8001);
  memset(line, 'p', 8000);
  line[8000] = 0;
  dr = open_request(con);
  int rc = 0;
  for (int i = 0; i < 9 && rc == 0; i++) rc = tlsrpt_add_policy_string(dr, line);
  CHECK_RC(rc, TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG);
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG);
  nothing_sent(__LINE__);
  free(line);
  dr = open_request(con);

  /* Enum values out of range. */
  CHECK_RC(tlsrpt_finish_policy(dr, (tlsrpt_final_result_t)2), TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  CHECK_RC(tlsrpt_cancel_delivery_request(&dr), TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  dr = open_request(con);
  CHECK_RC(tlsrpt_add_delivery_request_failure(dr, (tlsrpt_failure_t)999, NULL, NULL, NULL,
                                               NULL, NULL, NULL),
           TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  CHECK_RC(tlsrpt_cancel_delivery_request(&dr), TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", NULL));
  CHECK_RC(tlsrpt_init_policy(dr, (tlsrpt_policy_type_t)7, NULL),
           TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  CHECK_RC(tlsrpt_cancel_delivery_request(&dr), TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
  nothing_sent(__LINE__);

  /* Too many policies (16 at most). */
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", NULL));
  for (int i = 0; i < 16; i++) {
    OK(tlsrpt_init_policy(dr, TLSRPT_NO_POLICY_FOUND, NULL));
    OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  }
  CHECK_RC(tlsrpt_init_policy(dr, TLSRPT_NO_POLICY_FOUND, NULL), TLSRPT_ERR_MTASTS_TOO_MANY);
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_MTASTS_TOO_MANY);
  nothing_sent(__LINE__);

  /* An unfinished policy: sent as a failed session with failure 901. */
  dr = open_request(con);
  OK(tlsrpt_add_mx_host_pattern(dr, "mx.example.com"));
  CHECK_RC(tlsrpt_finish_delivery_request(&dr), TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY);
  CHECK(dr == NULL);
  CHECK(next_datagram() > 0);
  CHECK(strcmp(received,
               "{\"dpv\":\"1\",\"d\":\"example.com\",\"policies\":[{\"policy-type\":2,"
               "\"policy-domain\":\"example.com\",\"mx-host\":[\"mx.example.com\"],"
               "\"failure-details\":[{\"c\":901}],\"t\":1,\"f\":1}]}") == 0);

  /* The exact bytes of a full datagram, with escaping and UTF-8. */
  OK(tlsrpt_init_delivery_request(&dr, con, "example.com", "v=TLSRPTv1; rua=mailto:r@example.com"));
  OK(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, NULL));
  OK(tlsrpt_add_policy_string(dr, "version: STSv1"));
  OK(tlsrpt_add_policy_string(dr, "mode: enforce"));
  OK(tlsrpt_add_mx_host_pattern(dr, "*.example.com"));
  OK(tlsrpt_add_delivery_request_failure(dr, TLSRPT_STS_WEBPKI_INVALID, "192.0.2.1",
                                         "mx.example.com", "mx1", "198.51.100.7",
                                         "a \"b\" \\ c\n\xc3\xa9", "x"));
  OK(tlsrpt_add_delivery_request_failure(dr, TLSRPT_STARTTLS_NOT_SUPPORTED, NULL, NULL,
                                         NULL, "198.51.100.8", NULL, NULL));
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE));
  OK(tlsrpt_init_policy(dr, TLSRPT_POLICY_TLSA, "other.example"));
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  OK(tlsrpt_finish_delivery_request(&dr));
  CHECK(next_datagram() > 0);
  const char *want =
      "{\"dpv\":\"1\",\"d\":\"example.com\",\"pr\":\"v=TLSRPTv1; rua=mailto:r@example.com\","
      "\"policies\":[{\"policy-type\":2,\"policy-domain\":\"example.com\","
      "\"policy-string\":[\"version: STSv1\",\"mode: enforce\"],\"mx-host\":[\"*.example.com\"],"
      "\"failure-details\":[{\"c\":303,\"s\":\"192.0.2.1\",\"n\":\"mx.example.com\","
      "\"h\":\"mx1\",\"r\":\"198.51.100.7\",\"a\":\"a \\\"b\\\" \\\\ c\\n\xc3\xa9\",\"f\":\"x\"},"
      "{\"c\":201,\"r\":\"198.51.100.8\"}],\"t\":2,\"f\":1},"
      "{\"policy-type\":1,\"policy-domain\":\"other.example\",\"t\":0,\"f\":0}]}";
  CHECK(strcmp(received, want) == 0);
  if (strcmp(received, want) != 0) fprintf(stderr, "got  %s\nwant %s\n", received, want);
  nothing_sent(__LINE__);

  /* sendto errors: errno arithmetic and texts. */
  struct tlsrpt_connection_t *nobody = NULL;
  OK(tlsrpt_open(&nobody, missing));
  dr = open_request(nobody);
  OK(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS));
  rc = tlsrpt_finish_delivery_request(&dr);
  CHECK_RC(rc, TLSRPT_ERR_SENDTO + ENOENT);
  CHECK(dr == NULL);
  CHECK(tlsrpt_errno_from_error_code(rc) == ENOENT);
  CHECK(tlsrpt_error_code_is_internal(rc) == 0);
  CHECK(strstr(tlsrpt_strerror(rc), "sendto") != NULL);
  CHECK(tlsrpt_strerror(rc) == tlsrpt_strerror(rc)); /* static, made once */
  CHECK(tlsrpt_error_code_is_internal(TLSRPT_ERR_MTASTS_FIELD_TOO_LONG) == 1);
  CHECK(tlsrpt_error_code_is_internal(TLSRPT_ERR_TLSRPT_NOPOLICIES) == 1);
  CHECK(strcmp(tlsrpt_strerror(54321), "unknown error code") == 0);
  CHECK(strcmp(tlsrpt_strerror(0), "success") == 0);
  OK(tlsrpt_close(&nobody));
  CHECK(nobody == NULL);

  OK(tlsrpt_close(&con));
  CHECK(con == NULL);
  OK(tlsrpt_close(&con)); /* *pcon NULL: nothing */
  close(receiver);
  unlink(path);
  printf("tlsrpt_errors: %d passed, %d failed\n", checks_run - checks_failed, checks_failed);
  return checks_failed == 0 ? 0 : 1;
}
