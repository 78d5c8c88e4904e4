/*
 * A small QMQ example in C: a listener consumes "example.orders" while a producer sends ten
 * messages to it with a completion callback.
 *
 *   qmq-server standalone --data-dir /tmp/qmq   (prints its meta HTTP port)
 *   ./producer_consumer http://127.0.0.1:PORT/meta/address [SUBJECT]
 *
 * Build: gcc -Iinclude producer_consumer.c -Ltarget/debug -lqmq_ffi   (or link
 * libqmq_ffi.a with -lpthread -ldl -lm).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmq.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static atomic_int sent, received;
static const char *subject = "example.orders";

/* Prints an error, frees it, and says whether there was one. */
static int failed(QmqError *err, const char *what) {
  if (err == NULL) return 0;
  size_t len = 0;
  const char *msg = qmq_error_message(err, &len);
  fprintf(stderr, "%s: error %d: %.*s\n", what, (int)qmq_error_code(err), (int)len, msg);
  qmq_error_free(err);
  return 1;
}

/* Runs on a library thread, once per message; must not block. `result` and `error` are
 * borrowed for the duration of the call. */
static void on_sent(void *user_data, const QmqSendResult *result, const QmqError *error) {
  (void)user_data;
  if (result != NULL) {
    const char *id = NULL;
    size_t id_len = 0;
    qmq_error_free(qmq_send_result_message_id(result, &id, &id_len));
    printf("sent %.*s\n", (int)id_len, id);
  } else {
    size_t len = 0;
    const char *msg = qmq_error_message(error, &len);
    printf("send failed: %.*s\n", (int)len, msg);
  }
  atomic_fetch_add(&sent, 1);
}

/* Runs on a library blocking thread; returning 0 acks the message, non-zero retries it. */
static int32_t on_message(void *user_data, const QmqDelivered *msg) {
  (void)user_data;
  const char *body = NULL;
  size_t body_len = 0;
  if (failed(qmq_delivered_get_property(msg, S("body"), &body, &body_len), "get_property")) return 1;
  if (body != NULL) printf("received %.*s\n", (int)body_len, body);
  atomic_fetch_add(&received, 1);
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int send_one(QmqClient *client, const char *body) {
  QmqMessage *msg = NULL;
  if (failed(qmq_message_new(client, subject, strlen(subject), &msg), "message_new")) return 1;
  int bad = failed(qmq_message_set_property(msg, S("body"), body, strlen(body)), "set_property") ||
            failed(qmq_producer_send(client, msg, NULL, on_sent), "send");
  qmq_message_free(msg); /* always: also after a successful send */
  return bad;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : getenv("QMQ_META_URL");
  if (argc > 2) subject = argv[2];
  if (url == NULL) {
    fprintf(stderr, "usage: %s META_URL [SUBJECT]\n", argv[0]);
    return 2;
  }
  if (qmq_abi_version() != QMQ_ABI_VERSION) {
    fprintf(stderr, "libqmq_ffi ABI %u, header %u\n", qmq_abi_version(), QMQ_ABI_VERSION);
    return 2;
  }
  QmqClient *client = NULL;
  if (failed(qmq_client_new(url, strlen(url), S("example"), &client), "client_new")) return 1;

  QmqSubscription *sub = NULL;
  QmqConsumeOptions options = qmq_consume_options_default();
  if (failed(qmq_consumer_subscribe(client, subject, strlen(subject), S("example-group"), &options,
                                    on_message, NULL, NULL, &sub), "subscribe")) {
    qmq_client_free(client);
    return 1;
  }
  /* A new consumer group starts at the newest message: send until it sees one. */
  for (int i = 0; i < 100 && atomic_load(&received) == 0; i++) {
    send_one(client, "hello");
    sleep_ms(200);
  }
  int before = atomic_load(&received);
  for (int i = 0; i < 10; i++) {
    char body[32];
    snprintf(body, sizeof body, "order-%d", i);
    send_one(client, body);
  }
  int rc = failed(qmq_producer_flush(client, 10000), "flush");
  for (int i = 0; i < 500 && atomic_load(&received) < before + 10; i++) sleep_ms(10);
  printf("%d sent, %d received\n", atomic_load(&sent), atomic_load(&received));
  rc |= atomic_load(&received) < before + 10;

  rc |= failed(qmq_subscription_stop(sub, 10000), "stop");
  qmq_subscription_free(sub);
  rc |= failed(qmq_client_close(client, 5000), "close");
  qmq_client_free(client);
  return rc;
}
