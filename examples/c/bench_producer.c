/*
 * Producer throughput through the C ABI: 100-byte messages for N seconds, completions
 * counted in the send callback, at most WINDOW messages in flight (the producer queue holds
 * 10000). Prints one line `c_producer: ... msg/s`. Run by examples/c/bench.sh next to the
 * Rust baseline (ffi/examples/bench_rust_producer.rs) against the same server.
 *
 * Usage: bench_producer META_URL SECONDS [WINDOW]
 */
#define _POSIX_C_SOURCE 200809L
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmq.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static atomic_long completed_ok, completed_err;

static void on_sent(void *user_data, const QmqSendResult *result, const QmqError *error) {
  (void)user_data;
  (void)error;
  if (result != NULL) {
    atomic_fetch_add_explicit(&completed_ok, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&completed_err, 1, memory_order_relaxed);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(QmqError *err, const char *what) {
  if (err == NULL) return 0;
  size_t len = 0;
  const char *msg = qmq_error_message(err, &len);
  fprintf(stderr, "%s: %.*s\n", what, (int)len, msg);
  qmq_error_free(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s META_URL SECONDS [WINDOW]\n", argv[0]);
    return 2;
  }
  const char *url = argv[1];
  double seconds = atof(argv[2]);
  long window = argc > 3 ? atol(argv[3]) : 8000;
  char body[100];
  memset(body, 'b', sizeof body);

  QmqClient *client = NULL;
  if (check(qmq_client_new(url, strlen(url), S("bench"), &client), "client_new")) return 1;
  QmqMessage *warm = NULL;
  if (check(qmq_message_new(client, S("bench.c"), &warm), "message_new")) return 1;
  if (check(qmq_producer_send(client, warm, NULL, on_sent), "send")) return 1;
  qmq_message_free(warm);
  if (check(qmq_producer_flush(client, 30000), "flush")) return 1;
  atomic_store(&completed_ok, 0);

  long sent = 0, queue_full = 0;
  double start = now_s();
  while (now_s() - start < seconds) {
    long done = atomic_load_explicit(&completed_ok, memory_order_relaxed) +
                atomic_load_explicit(&completed_err, memory_order_relaxed);
    if (sent - done >= window) {
      sched_yield();
      continue;
    }
    QmqMessage *msg = NULL;
    if (check(qmq_message_new(client, S("bench.c"), &msg), "message_new")) return 1;
    if (check(qmq_message_set_property(msg, S("body"), body, sizeof body), "set_property")) return 1;
    for (;;) {
      QmqError *err = qmq_producer_send(client, msg, NULL, on_sent);
      if (err == NULL) break;
      if (qmq_error_code(err) != QMQ_ERROR_CODE_QUEUE_FULL) return check(err, "send");
      qmq_error_free(err);
      queue_full++;
      sched_yield();
    }
    qmq_message_free(msg);
    sent++;
  }
  if (check(qmq_producer_flush(client, 60000), "flush")) return 1;
  double elapsed = now_s() - start;
  long ok = atomic_load(&completed_ok);
  printf("c_producer: %ld ok, %ld failed of %ld in %.2f s = %.0f msg/s (queue full %ld times)\n", ok,
         atomic_load(&completed_err), sent, elapsed, (double)ok / elapsed, queue_full);
  check(qmq_client_close(client, 10000), "close");
  qmq_client_free(client);
  return 0;
}
