/* Helpers shared by the C test programs (tests/c/). Each program counts
 * its checks, prints "N passed, N failed" and exits 1 when any failed. */
#ifndef MTASTS_TEST_COMMON_H
#define MTASTS_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static int checks_run = 0;
static int checks_failed = 0;

/* A string literal as the (pointer, length) pair the API takes. */
#define S(lit) (lit), (sizeof(lit) - 1)

#define CHECK(cond)                                                          \
  do {                                                                       \
    checks_run++;                                                            \
    if (!(cond)) {                                                           \
      checks_failed++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,      \
              #cond);                                                        \
    }                                                                        \
  } while (0)

static inline void report_rc(const char *file, int line, const char *call,
                      mtasts_result got, mtasts_result want) {
  char detail[1024];
  size_t n = 0;
  mtasts_last_error_detail(detail, sizeof detail, &n);
  fprintf(stderr, "%s:%d: %s returned %u, want %u (detail: %s)\n", file, line,
          call, (unsigned)got, (unsigned)want, detail);
}

#define CHECK_RC(call, want)                                                 \
  do {                                                                       \
    mtasts_result rc_ = (call);                                              \
    checks_run++;                                                            \
    if (rc_ != (mtasts_result)(want)) {                                      \
      checks_failed++;                                                       \
      report_rc(__FILE__, __LINE__, #call, rc_, (mtasts_result)(want));      \
    }                                                                        \
  } while (0)

#define OK(call) CHECK_RC(call, MTASTS_RESULT_OK)
#define NUL(call) CHECK_RC(call, MTASTS_RESULT_NULL_PARAMETER)

/* Whether `s` holds exactly `want`. */
static inline int str_is(mtasts_str s, const char *want) {
  size_t n = strlen(want);
  return s.data != NULL && s.len == n && memcmp(s.data, want, n) == 0;
}

/* Whether `s` contains `needle`. */
static inline int str_has(mtasts_str s, const char *needle) {
  size_t n = strlen(needle);
  if (s.data == NULL || s.len < n) return 0;
  for (size_t i = 0; i + n <= s.len; i++)
    if (memcmp(s.data + i, needle, n) == 0) return 1;
  return 0;
}

/* Whether the last error detail on this thread contains `needle`. */
static inline int detail_has(const char *needle) {
  char detail[2048];
  size_t n = 0;
  mtasts_last_error_detail(detail, sizeof detail, &n);
  return strstr(detail, needle) != NULL;
}

/* A whole file, or NULL (and a failed check). The caller frees it. */
static inline unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    checks_failed++;
    return NULL;
  }
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  size_t got;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      unsigned char *bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

static inline int finish(const char *name) {
  printf("%s: %d passed, %d failed\n", name, checks_run - checks_failed,
         checks_failed);
  return checks_failed == 0 ? 0 : 1;
}

#endif
