/* Send and consume through the C ABI against a real qmq-server: exactly-once send callbacks,
 * pull + ack, and a listener. QMQ_META_URL names the server. */
#include "harness.h"

#include <stdatomic.h>
#include <unistd.h>

#define SENDS 100

static QmqClient *g_client;
/* Subjects are per process so that the shared and the static run (same server) never share a
 * consumer group's history. */
static char g_pull_subject[64], g_listen_subject[64];

struct slot {
  atomic_int calls;
  atomic_int ok;
  atomic_int blocking_refused;
};

static struct slot g_slots[SENDS];

static void on_sent(void *user_data, const QmqSendResult *result, const QmqError *error) {
  struct slot *slot = user_data;
  if (result != NULL && error == NULL) {
    const char *p = NULL;
    size_t n = 0;
    uint32_t attempts = 0;
    QmqError *e1 = qmq_send_result_message_id(result, &p, &n);
    QmqError *e2 = qmq_send_result_attempts(result, &attempts);
    if (e1 == NULL && e2 == NULL && n > 0 && attempts >= 1) atomic_store(&slot->ok, 1);
    qmq_error_free(e1);
    qmq_error_free(e2);
  }
  /* Callbacks run on library threads: blocking calls are refused there. */
  QmqError *e = qmq_producer_flush(g_client, 10);
  if (qmq_error_code(e) == QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK) atomic_store(&slot->blocking_refused, 1);
  qmq_error_free(e);
  atomic_fetch_add(&slot->calls, 1);
}

static void send_body(const char *subject, const char *body, const char *tag) {
  QmqMessage *msg = NULL;
  CHECK_OK(qmq_message_new(g_client, subject, strlen(subject), &msg));
  CHECK_OK(qmq_message_set_property(msg, S("body"), body, strlen(body)));
  if (tag != NULL) CHECK_OK(qmq_message_add_tag(msg, tag, strlen(tag)));
  CHECK_OK(qmq_producer_send(g_client, msg, NULL, NULL));
  qmq_message_free(msg);
}

static void test_send_exactly_once(void) {
  for (int i = 0; i < SENDS; i++) {
    QmqMessage *msg = NULL;
    CHECK_OK(qmq_message_new(g_client, S("c.send"), &msg));
    char body[32];
    snprintf(body, sizeof body, "%d", i);
    CHECK_OK(qmq_message_set_property(msg, S("body"), body, strlen(body)));
    const char *p = NULL;
    size_t n = 0;
    CHECK_OK(qmq_message_get_property(msg, S("body"), &p, &n));
    CHECK(str_eq(p, n, body));
    CHECK_OK(qmq_producer_send(g_client, msg, &g_slots[i], on_sent));
    /* Spent after sending, but still freed by us. */
    CHECK_CODE(qmq_message_id(msg, &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
    qmq_message_free(msg);
  }
  CHECK_OK(qmq_producer_flush(g_client, 30000));
  int once = 0, ok = 0, refused = 0;
  for (int i = 0; i < SENDS; i++) {
    once += atomic_load(&g_slots[i].calls) == 1;
    ok += atomic_load(&g_slots[i].ok);
    refused += atomic_load(&g_slots[i].blocking_refused);
  }
  CHECK(once == SENDS);
  CHECK(ok == SENDS);
  CHECK(refused == SENDS);
}

/* A completion queue: every queued send comes back exactly once with its token, pulled in
 * batches on this thread; a refused send queues nothing. */
static void test_send_queued(void) {
  QmqCompletionQueue *q = NULL;
  CHECK_OK(qmq_completion_queue_new(&q));
  int seen[SENDS] = {0};
  for (uint64_t i = 0; i < SENDS; i++) {
    QmqMessage *msg = NULL;
    CHECK_OK(qmq_message_new(g_client, S("c.queued"), &msg));
    CHECK_OK(qmq_producer_send_queued(g_client, msg, q, i));
    qmq_message_free(msg);
  }
  /* A refused send queues nothing. */
  QmqMessage *bad = NULL;
  CHECK_OK(qmq_message_new(g_client, S("c.queued"), &bad));
  CHECK_CODE(qmq_producer_send_queued(g_client, bad, NULL, 999), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_message_free(bad);
  QmqSendCompletion batch[16];
  int got = 0, ok = 0, strays = 0;
  for (int round = 0; round < 200 && got < SENDS; round++) {
    size_t n = 0;
    CHECK_OK(qmq_completion_queue_next(q, batch, 16, 1000, &n));
    CHECK(n <= 16);
    for (size_t k = 0; k < n; k++) {
      uint64_t t = batch[k].token;
      if (t >= SENDS) { strays++; continue; }
      seen[t]++;
      got++;
      ok += batch[k].error == NULL && batch[k].message_id_len > 0 && batch[k].broker_group_len > 0;
    }
  }
  size_t n = 99;
  CHECK_OK(qmq_completion_queue_next(q, batch, 16, 50, &n));
  CHECK(n == 0);
  int once = 0;
  for (int i = 0; i < SENDS; i++) once += seen[i] == 1;
  CHECK(got == SENDS);
  CHECK(once == SENDS);
  CHECK(ok == SENDS);
  CHECK(strays == 0);
  CHECK_CODE(qmq_completion_queue_next(q, batch, 0, 10, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_completion_queue_next(q, NULL, 16, 10, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  /* Sends left in the queue when it is freed are released with it (valgrind checks). */
  for (uint64_t i = 0; i < 10; i++) {
    QmqMessage *msg = NULL;
    CHECK_OK(qmq_message_new(g_client, S("c.queued"), &msg));
    CHECK_OK(qmq_producer_send_queued(g_client, msg, q, i));
    qmq_message_free(msg);
  }
  CHECK_OK(qmq_producer_flush(g_client, 30000));
  qmq_completion_queue_free(q);
}

static char *body_of(const QmqDelivered *m) {
  const char *p = NULL;
  size_t n = 0;
  QmqError *e = qmq_delivered_get_property(m, S("body"), &p, &n);
  qmq_error_free(e);
  if (p == NULL) return NULL;
  char *out = malloc(n + 1);
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}

static void test_pull_and_ack(void) {
  QmqConsumeOptions opts = qmq_consume_options_default();
  QmqPullConsumer *pc = NULL;
  CHECK_OK(qmq_pull_consumer_new(g_client, g_pull_subject, strlen(g_pull_subject), S("g"), &opts, &pc));
  QmqDelivered *got[10];
  size_t n = 0;
  int warm = 0;
  for (int round = 0; round < 100 && !warm; round++) {
    send_body(g_pull_subject, "warm-up", NULL);
    CHECK_OK(qmq_pull_consumer_pull(pc, got, 10, 300, &n));
    for (size_t i = 0; i < n; i++) {
      char *b = body_of(got[i]);
      if (b != NULL && strcmp(b, "warm-up") == 0) warm = 1;
      free(b);
      CHECK_OK(qmq_delivered_ack(got[i], true, NULL, 0));
      qmq_delivered_free(got[i]);
    }
  }
  CHECK(warm);
  for (int i = 0; i < 5; i++) {
    char body[16];
    snprintf(body, sizeof body, "p%d", i);
    send_body(g_pull_subject, body, "t1");
  }
  int seen[5] = {0};
  int total = 0;
  for (int round = 0; round < 100 && total < 5; round++) {
    CHECK_OK(qmq_pull_consumer_pull(pc, got, 10, 200, &n));
    for (size_t i = 0; i < n; i++) {
      char *b = body_of(got[i]);
      if (b != NULL && b[0] == 'p') {
        int k = atoi(b + 1);
        if (k >= 0 && k < 5 && !seen[k]) {
          seen[k] = 1;
          total++;
        }
        size_t tags = 0;
        const char *t = NULL;
        size_t tl = 0;
        CHECK_OK(qmq_delivered_tags_count(got[i], &tags));
        CHECK(tags == 1);
        CHECK_OK(qmq_delivered_tags_get(got[i], 0, &t, &tl));
        CHECK(str_eq(t, tl, "t1"));
        const char *subj = NULL;
        size_t sl = 0;
        CHECK_OK(qmq_delivered_subject(got[i], &subj, &sl));
        CHECK(str_eq(subj, sl, g_pull_subject));
        size_t props = 0;
        CHECK_OK(qmq_delivered_property_count(got[i], &props));
        CHECK(props >= 2);
        const char *k0 = NULL, *v0 = NULL;
        size_t k0l = 0, v0l = 0;
        CHECK_OK(qmq_delivered_property_at(got[i], 0, &k0, &k0l, &v0, &v0l));
        CHECK_CODE(qmq_delivered_property_at(got[i], props, &k0, &k0l, &v0, &v0l), QMQ_ERROR_CODE_INVALID_ARGUMENT);
      }
      free(b);
      CHECK_OK(qmq_delivered_ack(got[i], true, NULL, 0));
      CHECK_CODE(qmq_delivered_ack(got[i], false, S("again")), QMQ_ERROR_CODE_ALREADY_ACKED);
      qmq_delivered_free(got[i]);
    }
  }
  CHECK(total == 5);
  CHECK_OK(qmq_pull_consumer_close(pc));
  CHECK_CODE(qmq_pull_consumer_pull(pc, got, 10, 0, &n), QMQ_ERROR_CODE_CLOSED);
  CHECK(n == 0);
  qmq_pull_consumer_free(pc);
}

struct listener {
  atomic_int calls;
  atomic_int warm;
  atomic_int seen[5];
  atomic_int ack_refused;
  atomic_int freed;
};

static int32_t on_message(void *user_data, const QmqDelivered *msg) {
  struct listener *l = user_data;
  atomic_fetch_add(&l->calls, 1);
  QmqError *e = qmq_delivered_ack(msg, true, NULL, 0);
  if (qmq_error_code(e) == QMQ_ERROR_CODE_ALREADY_ACKED) atomic_fetch_add(&l->ack_refused, 1);
  qmq_error_free(e);
  char *b = body_of(msg);
  if (b != NULL && strcmp(b, "warm-up") == 0) atomic_store(&l->warm, 1);
  if (b != NULL && b[0] == 'l') {
    int k = atoi(b + 1);
    if (k >= 0 && k < 5) atomic_store(&l->seen[k], 1);
  }
  free(b);
  return 0;
}

static void free_listener(void *user_data) {
  struct listener *l = user_data;
  atomic_fetch_add(&l->freed, 1);
}

static void test_listener(void) {
  struct listener *l = calloc(1, sizeof *l);
  QmqConsumeOptions opts = qmq_consume_options_default();
  opts.concurrency = 2;
  QmqSubscription *sub = NULL;
  CHECK_OK(qmq_consumer_subscribe(g_client, g_listen_subject, strlen(g_listen_subject), S("g"), &opts, on_message, l, free_listener, &sub));
  for (int round = 0; round < 100 && !atomic_load(&l->warm); round++) {
    send_body(g_listen_subject, "warm-up", NULL);
    for (int i = 0; i < 30 && !atomic_load(&l->warm); i++) sleep_ms(10);
  }
  CHECK(atomic_load(&l->warm));
  for (int i = 0; i < 5; i++) {
    char body[16];
    snprintf(body, sizeof body, "l%d", i);
    send_body(g_listen_subject, body, NULL);
  }
  int all = 0;
  for (int round = 0; round < 1500 && !all; round++) {
    all = 1;
    for (int i = 0; i < 5; i++) all &= atomic_load(&l->seen[i]);
    if (!all) sleep_ms(10);
  }
  CHECK(all);
  CHECK(atomic_load(&l->ack_refused) == atomic_load(&l->calls));
  CHECK_OK(qmq_subscription_stop(sub, 15000));
  qmq_subscription_free(sub);
  for (int i = 0; i < 500 && atomic_load(&l->freed) == 0; i++) sleep_ms(10);
  CHECK(atomic_load(&l->freed) == 1);
  free(l);
}

int main(void) {
  snprintf(g_pull_subject, sizeof g_pull_subject, "c.pull.%ld", (long)getpid());
  snprintf(g_listen_subject, sizeof g_listen_subject, "c.listen.%ld", (long)getpid());
  g_client = new_client(meta_url());
  test_send_exactly_once();
  test_send_queued();
  test_pull_and_ack();
  test_listener();
  CHECK_OK(qmq_client_close(g_client, 5000));
  qmq_client_free(g_client);
  return finish("test_send_consume");
}
