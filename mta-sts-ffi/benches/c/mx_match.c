/* MX matching through the C ABI from C: mtasts_policy_matches_mx on the
 * RFC 8461 Appendix A policy, three hosts in turn (an exact hit, a hit
 * after case folding and a trailing dot, a miss). Prints ns per call.
 *
 *   cargo build --release -p mta-sts-ffi
 *   cc -O2 -I mta-sts-ffi/include mta-sts-ffi/benches/c/mx_match.c \
 *      -L target/release -lmtasts -Wl,-rpath,$PWD/target/release -o mx_match
 *   ./mx_match 20000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtasts.h"

static const char POLICY[] =
    "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\n"
    "mx: mx.backup-example.com\nmax_age: 1296000\n";

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 10000000;
  if (iterations < 3) iterations = 3;
  mtasts_policy *p = NULL;
  if (mtasts_policy_parse((const uint8_t *)POLICY, sizeof POLICY - 1, &p) != MTASTS_RESULT_OK)
    return 1;
  const char *hosts[3] = {"mx1.example.com", "MX.Backup-Example.com.", "evil.example.org"};
  size_t lens[3];
  for (int i = 0; i < 3; i++) lens[i] = strlen(hosts[i]);
  long matched = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < iterations; i++) {
    int k = (int)(i % 3);
    matched += mtasts_policy_matches_mx(p, hosts[k], lens[k]);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
              (double)iterations;
  mtasts_policy_free(p);
  /* Two of every three hosts match. */
  long want = (iterations / 3) * 2 + (iterations % 3 >= 1) + (iterations % 3 >= 2);
  printf("mtasts_policy_matches_mx: %.1f ns per call (%ld calls, %ld matched)\n", ns, iterations,
         matched);
  return matched == want ? 0 : 1;
}
