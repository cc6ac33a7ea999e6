"""Drives a kafscale broker with confluent_kafka's (librdkafka) AdminClient.

Usage: admin.py BOOTSTRAP TOPIC_PREFIX
Prints one JSON object on the last line of stdout: what each step saw, or the error it raised, so
that admin.test.ts asserts on the observations (this script decides nothing).
"""
import json
import sys


def confluent(bootstrap, prefix):
    from confluent_kafka.admin import AdminClient, NewTopic

    out = {}
    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "kafscale-compat-confluent"})
    topic = prefix + "-confluent"
    futures = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)], request_timeout=10)
    try:
        futures[topic].result(timeout=15)
        out["create"] = "ok"
    except Exception as exc:
        out["create"] = str(exc)
    metadata = admin.list_topics(timeout=10)
    out["brokers"] = [{"id": b.id, "host": b.host, "port": b.port} for b in metadata.brokers.values()]
    out["topics"] = {name: len(t.partitions) for name, t in metadata.topics.items()}
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)], request_timeout=10)
    try:
        futures[topic].result(timeout=15)
        out["create_again"] = "ok"
    except Exception as exc:
        out["create_again"] = exc.args[0].name() if exc.args and hasattr(exc.args[0], "name") else str(exc)
    return out


if __name__ == "__main__":
    bootstrap, prefix = sys.argv[1:3]
    print(json.dumps(confluent(bootstrap, prefix)))
