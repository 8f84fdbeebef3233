/* A Postfix-shaped delivery request through the libtlsrpt-compatible API,
 * sendto included: init, STS policy, two policy strings, one MX pattern, a
 * failure with all fields on every second request, finish policy, finish
 * (send). A thread of this program drains the receiving AF_UNIX datagram
 * socket (SO_RCVBUF 4 MiB) by polling; sends block when its queue is full,
 * so every datagram is counted. For comparison, a bare blocking sendto of the same
 * two datagrams (built once) to the same socket. Prints us per request.
 *
 *   cargo build --release -p mta-sts-ffi
 *   cc -O2 -pthread -I mta-sts-ffi/include mta-sts-ffi/benches/c/tlsrpt_delivery.c \
 *      -L target/release -lmtasts -Wl,-rpath,$PWD/target/release -o tlsrpt_delivery
 *   ./tlsrpt_delivery 1000000
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tlsrpt.h"

static int rx = -1;
static volatile long received = 0;

static void *drain(void *arg) {
  (void)arg;
  char buf[65536];
  for (;;) {
    /* Polls rather than sleeping in recv: a sleeping receiver makes every
     * sendto pay for a wake-up, and a slower sender would pay it more
     * often than a faster one, which skews the comparison. */
    ssize_t n = recv(rx, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      sched_yield();
      continue;
    }
    if (n <= 0) break;
    if (n == 1) break; /* the stop marker */
    received++;
  }
  return NULL;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int request(struct tlsrpt_connection_t *con, int failed) {
  struct tlsrpt_dr_t *dr = NULL;
  int rc = tlsrpt_init_delivery_request(&dr, con, "example.com",
                                        "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
  rc |= tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, "example.com");
  rc |= tlsrpt_add_policy_string(dr, "version: STSv1");
  rc |= tlsrpt_add_policy_string(dr, "mode: enforce");
  rc |= tlsrpt_add_mx_host_pattern(dr, "mx.example.com");
  if (failed)
    rc |= tlsrpt_add_delivery_request_failure(
        dr, TLSRPT_CERTIFICATE_HOST_MISMATCH, "192.0.2.1", "mx.example.com",
        "mx1.example.com", "198.51.100.7", "peer certificate names mx9.example.net",
        "hostname mismatch");
  rc |= tlsrpt_finish_policy(dr, failed ? TLSRPT_FINAL_FAILURE : TLSRPT_FINAL_SUCCESS);
  rc |= tlsrpt_finish_delivery_request(&dr);
  return rc;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n < 2) n = 2;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/tlsrpt-bench-%ld.sock", (long)getpid());
  const char *path = sa.sun_path;
  unlink(path);
  rx = socket(AF_UNIX, SOCK_DGRAM, 0);
  int size = 4 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (bind(rx, (struct sockaddr *)&sa, sizeof sa) != 0) return 1;
  pthread_t t;
  pthread_create(&t, NULL, drain, NULL);

  tlsrpt_set_blocking();
  struct tlsrpt_connection_t *con = NULL;
  if (tlsrpt_open(&con, path) != 0) return 1;
  long errors = 0;
  for (long i = 0; i < n / 10; i++) errors += request(con, (int)(i & 1)) != 0; /* warm-up */
  double a = now_ns();
  for (long i = 0; i < n; i++) errors += request(con, (int)(i & 1)) != 0;
  double api = (now_ns() - a) / (double)n;

  /* The same datagrams, built once, with a bare sendto. */
  const char *dg[2] = {
      "{\"dpv\":\"1\",\"d\":\"example.com\",\"pr\":\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\","
      "\"policies\":[{\"policy-type\":2,\"policy-domain\":\"example.com\",\"policy-string\":"
      "[\"version: STSv1\",\"mode: enforce\"],\"mx-host\":[\"mx.example.com\"],\"t\":0,\"f\":0}]}",
      "{\"dpv\":\"1\",\"d\":\"example.com\",\"pr\":\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\","
      "\"policies\":[{\"policy-type\":2,\"policy-domain\":\"example.com\",\"policy-string\":"
      "[\"version: STSv1\",\"mode: enforce\"],\"mx-host\":[\"mx.example.com\"],"
      "\"failure-details\":[{\"c\":202,\"s\":\"192.0.2.1\",\"n\":\"mx.example.com\","
      "\"h\":\"mx1.example.com\",\"r\":\"198.51.100.7\",\"a\":\"peer certificate names "
      "mx9.example.net\",\"f\":\"hostname mismatch\"}],\"t\":1,\"f\":1}]}"};
  size_t len[2] = {strlen(dg[0]), strlen(dg[1])};
  int tx = socket(AF_UNIX, SOCK_DGRAM, 0);
  a = now_ns();
  for (long i = 0; i < n; i++)
    errors += sendto(tx, dg[i & 1], len[i & 1], 0, (struct sockaddr *)&sa, sizeof sa) < 0;
  double bare = (now_ns() - a) / (double)n;

  sendto(tx, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa);
  pthread_join(t, NULL);
  close(tx);
  tlsrpt_close(&con);
  close(rx);
  unlink(path);
  long want = n / 10 + 2 * n;
  printf("tlsrpt delivery request (compat API, sendto included): %.2f us per request\n",
         api / 1000.0);
  printf("bare sendto of the same datagrams: %.2f us per datagram\n", bare / 1000.0);
  printf("(%ld requests, %ld datagrams received, %ld errors)\n", n, (long)received, errors);
  return errors == 0 && received == want ? 0 : 1;
}
