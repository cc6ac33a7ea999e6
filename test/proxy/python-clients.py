"""kafka-python or confluent_kafka through the kafscale proxy, driven by proxy-clients.test.ts.

Usage: python-clients.py kafka-python|confluent BOOTSTRAP TOPIC GROUP COUNT
Creates TOPIC (3 partitions) with the admin client, lists topics, produces COUNT messages (acks=all),
consumes them in consumer group GROUP with manual commits, then reads the group's committed offsets.
Prints one JSON object (what each step saw, or the error it raised); the test decides.
"""
import json
import sys
import time


def run_kafka_python(bootstrap, topic, group, count):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    out = {}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    out["create"] = [[name, code] for name, code, *_ in admin.create_topics([NewTopic(topic, 3, 1)]).topic_errors]
    out["listed"] = topic in admin.list_topics()
    time.sleep(1)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5, request_timeout_ms=15000)
    futures = [producer.send(topic, value=f"kp-{i}".encode(), partition=i % 3) for i in range(count)]
    producer.flush(30)
    out["acked"] = [[f.get(10).partition, f.get(10).offset] for f in futures]
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000, session_timeout_ms=10000)
    seen = []
    deadline = time.time() + 40
    while len(seen) < count and time.time() < deadline:
        for message in consumer:
            seen.append(message.value.decode())
        if seen:
            consumer.commit()
    consumer.commit()
    out["seen"] = seen
    out["committed"] = {str(p): consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    consumer.close()
    out["groups"] = [g[0] for g in admin.list_consumer_groups()]
    admin.close()
    return out


def run_confluent(bootstrap, topic, group, count):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    out = {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    try:
        futures[topic].result(15)
        out["create"] = [[topic, 0]]
    except Exception as exc:  # noqa: BLE001 - reported, the test decides
        out["create"] = [[topic, str(exc)]]
    out["listed"] = topic in admin.list_topics(timeout=10).topics
    time.sleep(1)
    acked = []
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append([msg.partition(), msg.offset()])

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, value=f"ck-{i}".encode(), partition=i % 3, on_delivery=report)
        producer.poll(0)
    out["remaining"] = producer.flush(30)
    out["acked"] = acked
    out["produce_errors"] = errors
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 10000})
    consumer.subscribe([topic])
    seen = []
    deadline = time.time() + 40
    while len(seen) < count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            out.setdefault("consume_errors", []).append(str(message.error()))
            continue
        seen.append(message.value().decode())
        consumer.commit(message=message, asynchronous=False)
    out["seen"] = seen
    committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    out["committed"] = {str(tp.partition): tp.offset for tp in committed}
    consumer.close()
    # confluent-kafka 1.7 (Debian) has list_groups (ListGroups to every broker it knows: here, the proxy).
    out["groups"] = [g.id for g in admin.list_groups(timeout=15)]
    return out


def main():
    client, bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    try:
        out = run_kafka_python(bootstrap, topic, group, count) if client == "kafka-python" else run_confluent(bootstrap, topic, group, count)
    except Exception as exc:  # noqa: BLE001 - reported, the test decides
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
