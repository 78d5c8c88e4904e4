/* A tiny test harness for the C tests of qmq-ffi (run by ci/c-tests.sh). */
#ifndef QMQ_C_HARNESS_H
#define QMQ_C_HARNESS_H

#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmq.h"

static int g_passed, g_failed;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (cond) {                                                                     \
      g_passed++;                                                                   \
    } else {                                                                        \
      g_failed++;                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                               \
  } while (0)

/* Expects success; prints and frees the error otherwise. */
#define CHECK_OK(expr)                                                              \
  do {                                                                              \
    QmqError *e_ = (expr);                                                          \
    if (e_ == NULL) {                                                               \
      g_passed++;                                                                   \
    } else {                                                                        \
      size_t n_ = 0;                                                                \
      const char *m_ = qmq_error_message(e_, &n_);                                  \
      fprintf(stderr, "%s:%d: %s failed (code %d): %.*s\n", __FILE__, __LINE__,     \
              #expr, (int)qmq_error_code(e_), (int)n_, m_);                         \
      g_failed++;                                                                   \
      qmq_error_free(e_);                                                           \
    }                                                                               \
  } while (0)

/* Expects an error with `code`; frees it. */
#define CHECK_CODE(expr, code)                                                      \
  do {                                                                              \
    QmqError *e_ = (expr);                                                          \
    int c_ = (int)qmq_error_code(e_);                                               \
    if (c_ == (int)(code)) {                                                        \
      g_passed++;                                                                   \
    } else {                                                                        \
      fprintf(stderr, "%s:%d: %s gave code %d, expected %d (%s)\n", __FILE__,       \
              __LINE__, #expr, c_, (int)(code), #code);                             \
      g_failed++;                                                                   \
    }                                                                               \
    qmq_error_free(e_);                                                             \
  } while (0)

/* A string literal as pointer + length. */
#define S(lit) (lit), (sizeof(lit) - 1)

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static inline const char *meta_url(void) {
  const char *url = getenv("QMQ_META_URL");
  if (url == NULL || *url == '\0') {
    fprintf(stderr, "QMQ_META_URL is not set\n");
    exit(2);
  }
  return url;
}

static inline QmqClient *new_client(const char *url) {
  QmqClient *client = NULL;
  CHECK_OK(qmq_client_new(url, strlen(url), S("c-tests"), &client));
  if (client == NULL) {
    exit(2);
  }
  return client;
}

/* Whether a borrowed (ptr, len) string equals the NUL-terminated `want`. */
static inline int str_eq(const char *ptr, size_t len, const char *want) {
  return ptr != NULL && len == strlen(want) && memcmp(ptr, want, len) == 0;
}

static inline int finish(const char *name) {
  printf("%s: %d passed, %d failed\n", name, g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

#endif
