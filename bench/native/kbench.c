/*
 * kbench: a small librdkafka producer/consumer for kafscale's benchmark (bench/run.ts builds it at bench
 * time with `cc -O2 kbench.c -lrdkafka`). A native client keeps the client from being the bottleneck on a
 * 2-core machine, which a Node client would be. Every mode prints one JSON object on stdout; latency mode
 * also prints two lines per message before it, for the caller's HDR histograms: "L <microseconds>" (send
 * to receipt by the consumer) and "A <microseconds>" (send to the producer's delivery report).
 *
 *   kbench produce <brokers> <topic> <count> <size> <acks>
 *   kbench consume <brokers> <topic> <partitions> <count> <timeout_ms>
 *   kbench latency <brokers> <topic> <partitions> <count> <size> <rate_per_s> <timeout_ms>
 *
 * Every loop is bounded by its count and a wall-clock timeout, so a broker that stops answering ends the
 * run with an error instead of hanging it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *detail) {
  printf("{\"error\":\"%s: %s\"}\n", what, detail);
  exit(2);
}

static long delivered = 0, failed = 0;
static char first_error[256] = "";
/* Latency mode: each delivery report prints "A <µs>", the time from send to acknowledgement (acks=all). */
static int print_acks = 0;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk; (void)opaque;
  if (m->err) {
    if (failed++ == 0) snprintf(first_error, sizeof first_error, "%s", rd_kafka_err2str(m->err));
  } else {
    delivered++;
    if (print_acks && m->len >= sizeof(int64_t)) {
      int64_t stamp;
      memcpy(&stamp, m->payload, sizeof stamp);
      printf("A %" PRId64 "\n", now_us() - stamp);
    }
  }
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) die(name, err);
}

/*
 * KBENCH_CONFIG names an optional properties file (key=value per line, # comments) applied after the
 * defaults: the security bench passes security.protocol, ssl.ca.location and SASL settings this way, so
 * credentials never appear on the command line.
 */
static void apply_extra_config(rd_kafka_conf_t *conf) {
  const char *path = getenv("KBENCH_CONFIG");
  if (path == NULL || *path == '\0') return;
  FILE *file = fopen(path, "r");
  if (file == NULL) die("KBENCH_CONFIG", path);
  char line[1024];
  while (fgets(line, sizeof line, file) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strchr(line, '=');
    if (line[0] == '#' || eq == NULL) continue;
    *eq = '\0';
    set(conf, line, eq + 1);
  }
  fclose(file);
}

static rd_kafka_t *new_producer(const char *brokers, const char *acks) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "acks", acks);
  set(conf, "linger.ms", "5");
  set(conf, "batch.size", "1000000");
  set(conf, "queue.buffering.max.messages", "1000000");
  set(conf, "queue.buffering.max.kbytes", "1048576");
  set(conf, "message.max.bytes", "1000000");
  set(conf, "message.timeout.ms", "60000");
  /* librdkafka's default: the plain acks=all path, without InitProducerId/sequence bookkeeping. */
  set(conf, "enable.idempotence", "false");
  set(conf, "partitioner", "consistent_random");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  apply_extra_config(conf);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die("producer", err);
  return rk;
}

/*
 * The legacy (simple) consumer, as kcat uses without -G: partitions read from the beginning through one
 * queue, no group, nothing committed. (librdkafka's high-level consumer needs a group.id even for
 * assign(), which would add the group coordinator to what is measured.)
 */
typedef struct {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  rd_kafka_queue_t *queue;
  int partitions;
} consumer_t;

static consumer_t new_consumer(const char *brokers, const char *topic, int partitions) {
  char err[512];
  consumer_t c = {0};
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "enable.partition.eof", "false");
  set(conf, "fetch.wait.max.ms", "100");
  set(conf, "fetch.max.bytes", "52428800");
  set(conf, "fetch.message.max.bytes", "4194304");
  apply_extra_config(conf);
  c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!c.rk) die("consumer", err);
  c.rkt = rd_kafka_topic_new(c.rk, topic, NULL);
  /* Like kcat: know the topic's leaders before starting, so the measurement excludes bootstrap. */
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(c.rk, 0, c.rkt, &md, 10000);
  if (e) die("metadata", rd_kafka_err2str(e));
  rd_kafka_metadata_destroy(md);
  /*
   * librdkafka hands each partition to its leader's broker thread asynchronously after the metadata
   * reply. A consume_start that wins that race finds "no current leader" and arms its offset-query
   * retry timer: the first Fetch goes out ~500 ms late (seen as a 0.5 s stall on the first read after a
   * produce). Give the hand-over time to finish; this is before any clock starts.
   */
  struct timespec settle = {0, 200 * 1000000L};
  nanosleep(&settle, NULL);
  c.queue = rd_kafka_queue_new(c.rk);
  c.partitions = partitions;
  for (int p = 0; p < partitions; p++) {
    if (rd_kafka_consume_start_queue(c.rkt, p, RD_KAFKA_OFFSET_BEGINNING, c.queue) == -1) {
      die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  return c;
}

static void close_consumer(consumer_t *c) {
  for (int p = 0; p < c->partitions; p++) rd_kafka_consume_stop(c->rkt, p);
  rd_kafka_queue_destroy(c->queue);
  rd_kafka_topic_destroy(c->rkt);
  rd_kafka_destroy(c->rk);
}

static int produce_one(rd_kafka_t *rk, const char *topic, char *payload, size_t size) {
  for (int attempt = 0; attempt < 100000; attempt++) {
    rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, size),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(e));
    rd_kafka_poll(rk, 10);
  }
  die("produce", "local queue stayed full");
  return -1;
}

static int cmd_produce(int argc, char **argv) {
  if (argc != 7) die("usage", "produce <brokers> <topic> <count> <size> <acks>");
  const char *brokers = argv[2], *topic = argv[3], *acks = argv[6];
  long count = atol(argv[4]);
  size_t size = (size_t)atol(argv[5]);
  char *payload = malloc(size > 8 ? size : 8);
  for (size_t i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
  rd_kafka_t *rk = new_producer(brokers, acks);
  int64_t start = now_us();
  for (long i = 0; i < count; i++) {
    produce_one(rk, topic, payload, size);
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120000);
  int64_t elapsed = now_us() - start;
  long outstanding = rd_kafka_outq_len(rk);
  printf("{\"count\":%ld,\"delivered\":%ld,\"failed\":%ld,\"outstanding\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"firstError\":\"%s\"}\n",
         count, delivered, failed, outstanding, delivered * (long)size, elapsed / 1e6, first_error);
  rd_kafka_destroy(rk);
  free(payload);
  return failed == 0 && outstanding == 0 ? 0 : 1;
}

static int cmd_consume(int argc, char **argv) {
  if (argc != 7) die("usage", "consume <brokers> <topic> <partitions> <count> <timeout_ms>");
  const char *brokers = argv[2], *topic = argv[3];
  int partitions = atoi(argv[4]);
  long count = atol(argv[5]);
  int64_t deadline = now_us() + atol(argv[6]) * 1000;
  consumer_t consumer = new_consumer(brokers, topic, partitions);
  long received = 0, bytes = 0, errors = 0;
  int64_t start = now_us();
  while (received < count && now_us() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consume_queue(consumer.queue, 100);
    if (!m) continue;
    if (m->err) {
      if (errors++ == 0) snprintf(first_error, sizeof first_error, "%s", rd_kafka_message_errstr(m));
    } else {
      received++;
      bytes += (long)m->len;
    }
    rd_kafka_message_destroy(m);
  }
  int64_t elapsed = now_us() - start;
  printf("{\"count\":%ld,\"received\":%ld,\"errors\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"firstError\":\"%s\"}\n",
         count, received, errors, bytes, elapsed / 1e6, first_error);
  close_consumer(&consumer);
  return received == count ? 0 : 1;
}

/*
 * One process produces at a fixed rate and consumes the same topic; each payload starts with its send
 * time (CLOCK_MONOTONIC, microseconds), so sender and receiver share one clock. Three threads, none of
 * which spins (a client that busy-waits takes a core from the broker it measures on a 2-core machine):
 * one paces the sends, one serves the producer's delivery reports as they come, and the main thread
 * blocks on the consumer's queue, so a record is seen as soon as librdkafka hands it over.
 */
typedef struct {
  rd_kafka_t *producer;
  const char *topic;
  char *payload;
  size_t size;
  long count;
  double rate;
  int64_t deadline;
  volatile long sent;
  volatile int sending;
} sender_t;

static void sleep_until_us(int64_t when) {
  struct timespec ts = {(time_t)(when / 1000000), (long)(when % 1000000) * 1000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

static void *run_sender(void *arg) {
  sender_t *s = arg;
  int64_t interval = (int64_t)(1e6 / s->rate), next_send = now_us();
  while (s->sent < s->count && now_us() < s->deadline) {
    sleep_until_us(next_send);
    int64_t stamp = now_us();
    memcpy(s->payload, &stamp, sizeof stamp);
    produce_one(s->producer, s->topic, s->payload, s->size);
    s->sent++;
    next_send += interval;
  }
  __atomic_store_n(&s->sending, 0, __ATOMIC_RELEASE);
  return NULL;
}

/* Delivery reports: served as they arrive until every sent record has one (or the deadline passes). */
static void *run_acks(void *arg) {
  sender_t *s = arg;
  while ((__atomic_load_n(&s->sending, __ATOMIC_ACQUIRE) || delivered + failed < s->sent) && now_us() < s->deadline) {
    rd_kafka_poll(s->producer, 20);
  }
  return NULL;
}

static int cmd_latency(int argc, char **argv) {
  if (argc != 9) die("usage", "latency <brokers> <topic> <partitions> <count> <size> <rate_per_s> <timeout_ms>");
  const char *brokers = argv[2], *topic = argv[3];
  int partitions = atoi(argv[4]);
  long count = atol(argv[5]);
  size_t size = (size_t)atol(argv[6]);
  if (size < 8) size = 8;
  double rate = atof(argv[7]);
  int64_t deadline = now_us() + atol(argv[8]) * 1000;
  print_acks = 1;
  char *payload = malloc(size);
  memset(payload, 'x', size);
  consumer_t consumer = new_consumer(brokers, topic, partitions);
  rd_kafka_t *producer = new_producer(brokers, "all");
  /* Likewise the producer's topic metadata, and the consumer's offset query and first (empty) Fetch:
   * client start-up is not end-to-end latency. */
  rd_kafka_topic_t *prkt = rd_kafka_topic_new(producer, topic, NULL);
  const struct rd_kafka_metadata *pmd = NULL;
  if (rd_kafka_metadata(producer, 0, prkt, &pmd, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(pmd);
  rd_kafka_topic_destroy(prkt);
  for (int64_t warm = now_us() + 500000; now_us() < warm;) {
    rd_kafka_message_t *m = rd_kafka_consume_queue(consumer.queue, 50);
    if (m) rd_kafka_message_destroy(m);
    rd_kafka_poll(producer, 0);
  }
  sender_t sender = {producer, topic, payload, size, count, rate, deadline, 0, 1};
  pthread_t send_thread, ack_thread;
  if (pthread_create(&send_thread, NULL, run_sender, &sender) != 0 || pthread_create(&ack_thread, NULL, run_acks, &sender) != 0) {
    die("latency", "cannot start the sender threads");
  }
  int64_t start = now_us();
  long received = 0;
  /* The delivery-report thread owns first_error until it is joined. */
  char consume_error[256] = "";
  while (received < count && now_us() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consume_queue(consumer.queue, 100);
    if (!m) continue;
    if (!m->err && m->len >= sizeof(int64_t)) {
      int64_t stamp;
      memcpy(&stamp, m->payload, sizeof stamp);
      printf("L %" PRId64 "\n", now_us() - stamp);
      received++;
    } else if (m->err && consume_error[0] == 0) {
      snprintf(consume_error, sizeof consume_error, "%s", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  pthread_join(send_thread, NULL);
  pthread_join(ack_thread, NULL);
  if (first_error[0] == 0) memcpy(first_error, consume_error, sizeof first_error);
  rd_kafka_flush(producer, 10000);
  printf("{\"count\":%ld,\"sent\":%ld,\"received\":%ld,\"delivered\":%ld,\"failed\":%ld,\"seconds\":%.6f,\"firstError\":\"%s\"}\n",
         count, sender.sent, received, delivered, failed, (now_us() - start) / 1e6, first_error);
  rd_kafka_destroy(producer);
  close_consumer(&consumer);
  free(payload);
  return received == count ? 0 : 1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  if (argc > 1 && strcmp(argv[1], "produce") == 0) return cmd_produce(argc, argv);
  if (argc > 1 && strcmp(argv[1], "consume") == 0) return cmd_consume(argc, argv);
  if (argc > 1 && strcmp(argv[1], "latency") == 0) return cmd_latency(argc, argv);
  die("usage", "kbench produce|consume|latency ...");
  return 2;
}
