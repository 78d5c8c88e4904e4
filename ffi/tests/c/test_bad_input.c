/* Bad input through the C ABI: NULL and closed handles, invalid UTF-8, over-long values,
 * panics, error objects, the log sink. Every case must give an error object, never a crash. */
#include <stdatomic.h>

#include "harness.h"

/* A meta URL nobody listens on: clients are created without contacting it. */
static const char NOWHERE[] = "http://127.0.0.1:9/meta/address";

static void test_abi_and_errors(void) {
  CHECK(qmq_abi_version() == QMQ_ABI_VERSION);
  CHECK(qmq_error_code(NULL) == QMQ_ERROR_CODE_OK);
  size_t len = 99;
  const char *m = qmq_error_message(NULL, &len);
  CHECK(m != NULL && len == 0);
  qmq_error_free(NULL);

  QmqError *e = qmq_testing_error(QMQ_ERROR_CODE_QUEUE_FULL, true);
  CHECK(qmq_error_code(e) == QMQ_ERROR_CODE_QUEUE_FULL);
  CHECK(qmq_error_is_retriable(e));
  m = qmq_error_message(e, &len);
  CHECK(len > 0 && m[len] == '\0' && strlen(m) == len);
  QmqError *copy = qmq_error_clone(e);
  qmq_error_free(e);
  CHECK(qmq_error_code(copy) == QMQ_ERROR_CODE_QUEUE_FULL);
  qmq_error_free(copy);

  e = qmq_testing_panic();
  CHECK(qmq_error_code(e) == QMQ_ERROR_CODE_PANIC);
  m = qmq_error_message(e, &len);
  CHECK(strstr(m, "qmq_testing_panic") != NULL);
  qmq_error_free(e);
}

static void test_null_handles(void) {
  const char *p = NULL;
  size_t n = 0;
  QmqClient *client = NULL;
  CHECK_CODE(qmq_client_new(NULL, 4, S("app"), &client), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_client_new(S(NOWHERE), S("app"), NULL), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK(client == NULL);
  CHECK_CODE(qmq_client_close(NULL, 10), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_client_free(NULL);
  QmqMessage *msg = NULL;
  CHECK_CODE(qmq_message_new(NULL, S("s"), &msg), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_set_property(NULL, S("k"), S("v")), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_get_property(NULL, S("k"), &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_add_tag(NULL, S("t")), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_tags_count(NULL, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_id(NULL, &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_message_free(NULL);
  CHECK_CODE(qmq_producer_send(NULL, NULL, NULL, NULL), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_producer_flush(NULL, 10), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  QmqPullConsumer *pc = NULL;
  CHECK_CODE(qmq_pull_consumer_new(NULL, S("s"), S("g"), NULL, &pc), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_pull_consumer_pull(NULL, NULL, 0, 0, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_pull_consumer_close(NULL), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_pull_consumer_free(NULL);
  CHECK_CODE(qmq_delivered_id(NULL, &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_delivered_ack(NULL, true, NULL, 0), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_delivered_free(NULL);
  QmqSubscription *sub = NULL;
  CHECK_CODE(qmq_consumer_subscribe(NULL, S("s"), S("g"), NULL, NULL, NULL, NULL, &sub),
             QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_subscription_stop(NULL, 10), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  qmq_subscription_free(NULL);
  CHECK_CODE(qmq_send_result_message_id(NULL, &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
}

static void test_bad_values(void) {
  QmqClient *client = new_client(NOWHERE);
  const char bad[] = {'o', (char)0xff, 'k'};
  QmqMessage *msg = NULL;
  CHECK_CODE(qmq_message_new(client, bad, sizeof bad, &msg), QMQ_ERROR_CODE_INVALID_UTF8);
  CHECK_CODE(qmq_message_new(client, S("has space"), &msg), QMQ_ERROR_CODE_INVALID_MESSAGE);
  CHECK(msg == NULL);
  CHECK_OK(qmq_message_new(client, S("c.bad"), &msg));
  CHECK_CODE(qmq_message_set_property(msg, S("k"), bad, sizeof bad), QMQ_ERROR_CODE_INVALID_UTF8);
  size_t big_len = 40000;
  char *big = malloc(big_len);
  memset(big, 'x', big_len);
  QmqError *e = qmq_message_set_property(msg, S("k"), big, big_len);
  CHECK(qmq_error_code(e) == QMQ_ERROR_CODE_INVALID_MESSAGE);
  size_t len = 0;
  CHECK(strstr(qmq_error_message(e, &len), "set_large_string") != NULL);
  qmq_error_free(e);
  CHECK_OK(qmq_message_set_large_string(msg, S("big"), big, big_len));
  free(big);
  CHECK_CODE(qmq_message_set_property(msg, S("qmq_createTime"), S("1")), QMQ_ERROR_CODE_INVALID_MESSAGE);
  CHECK_CODE(qmq_message_set_property(msg, NULL, 3, S("v")), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_CODE(qmq_message_add_tag(msg, NULL, 0), QMQ_ERROR_CODE_INVALID_MESSAGE);
  CHECK_CODE(qmq_message_set_delay_until(msg, -1), QMQ_ERROR_CODE_INVALID_MESSAGE);
  const char *p = NULL;
  size_t n = 0;
  CHECK_CODE(qmq_message_tags_get(msg, 0, &p, &n), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_OK(qmq_message_get_property(msg, S("absent"), &p, &n));
  CHECK(p == NULL && n == 0);

  QmqConsumeOptions opts = qmq_consume_options_default();
  opts.tag_type = 42;
  QmqPullConsumer *pc = NULL;
  CHECK_CODE(qmq_pull_consumer_new(client, S("c.bad"), S("g"), &opts, &pc), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  opts.tag_type = QMQ_TAG_TYPE_AND;
  QmqStr tags[1] = {{bad, sizeof bad}};
  opts.tags = tags;
  opts.tags_len = 1;
  CHECK_CODE(qmq_pull_consumer_new(client, S("c.bad"), S("g"), &opts, &pc), QMQ_ERROR_CODE_INVALID_UTF8);
  CHECK_CODE(qmq_pull_consumer_new(client, S("c.bad"), S("bad group"), NULL, &pc), QMQ_ERROR_CODE_INVALID_MESSAGE);
  CHECK(pc == NULL);

  /* A closed client: every operation fails with CLOSED, the message stays usable. */
  CHECK_OK(qmq_client_close(client, 1000));
  CHECK_OK(qmq_client_close(client, 1000));
  QmqMessage *m2 = NULL;
  CHECK_CODE(qmq_message_new(client, S("c.bad"), &m2), QMQ_ERROR_CODE_CLOSED);
  CHECK_CODE(qmq_producer_send(client, msg, NULL, NULL), QMQ_ERROR_CODE_CLOSED);
  CHECK_CODE(qmq_producer_flush(client, 10), QMQ_ERROR_CODE_CLOSED);
  CHECK_CODE(qmq_pull_consumer_new(client, S("c.bad"), S("g"), NULL, &pc), QMQ_ERROR_CODE_CLOSED);
  CHECK_OK(qmq_message_subject(msg, &p, &n));
  CHECK(str_eq(p, n, "c.bad"));
  qmq_message_free(msg);
  qmq_client_free(client);
}

static atomic_int g_panic_calls;
static atomic_int g_panic_code;

static void on_panic_send(void *user_data, const QmqSendResult *result, const QmqError *error) {
  (void)user_data;
  atomic_store(&g_panic_code, result == NULL ? (int)qmq_error_code(error) : -1);
  atomic_fetch_add(&g_panic_calls, 1);
}

static void test_panic_in_completion(void) {
  CHECK_OK(qmq_testing_send_panic(NULL, on_panic_send));
  for (int i = 0; i < 500 && atomic_load(&g_panic_calls) == 0; i++) sleep_ms(10);
  sleep_ms(50);
  CHECK(atomic_load(&g_panic_calls) == 1);
  CHECK(atomic_load(&g_panic_code) == QMQ_ERROR_CODE_PANIC);
  /* The panic thread finishes on its own; give it time so valgrind sees it gone. */
  sleep_ms(100);
}

static atomic_int g_log_records;

static void on_log(void *user_data, const QmqLogRecord *record) {
  (void)user_data;
  if (record->level <= QMQ_LOG_LEVEL_WARN && record->message_len > 0) {
    atomic_fetch_add(&g_log_records, 1);
  }
}

static void test_log_sink(void) {
  CHECK_CODE(qmq_set_log_sink(on_log, NULL, 77), QMQ_ERROR_CODE_INVALID_ARGUMENT);
  CHECK_OK(qmq_set_log_sink(on_log, NULL, QMQ_LOG_LEVEL_WARN));
  /* A consumer whose meta server does not answer logs a warning about its route lookup. */
  QmqClient *client = new_client(NOWHERE);
  QmqPullConsumer *pc = NULL;
  CHECK_OK(qmq_pull_consumer_new(client, S("c.log"), S("g"), NULL, &pc));
  for (int i = 0; i < 1500 && atomic_load(&g_log_records) == 0; i++) sleep_ms(10);
  CHECK(atomic_load(&g_log_records) > 0);
  CHECK_OK(qmq_set_log_sink(NULL, NULL, QMQ_LOG_LEVEL_WARN));
  int seen = atomic_load(&g_log_records);
  sleep_ms(100);
  CHECK(atomic_load(&g_log_records) == seen);
  CHECK_OK(qmq_pull_consumer_close(pc));
  qmq_pull_consumer_free(pc);
  CHECK_OK(qmq_client_close(client, 1000));
  qmq_client_free(client);
}

int main(void) {
  test_abi_and_errors();
  test_null_handles();
  test_bad_values();
  test_panic_in_completion();
  test_log_sink();
  return finish("test_bad_input");
}
