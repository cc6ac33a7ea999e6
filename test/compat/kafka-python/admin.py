"""Drives a kafscale broker with kafka-python's KafkaAdminClient.

Usage: admin.py BOOTSTRAP TOPIC_PREFIX
Prints one JSON object on the last line of stdout: what each step saw, or the error it raised, so
that admin.test.ts asserts on the observations (this script decides nothing).
"""
import json
import sys


def error_name(exc):
    return type(exc).__name__


def kafka_python(bootstrap, prefix):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    out = {}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kafscale-compat-kafka-python",
                             request_timeout_ms=10000)
    try:
        topic = prefix + "-main"
        response = admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "86400000"})])
        out["create"] = [[name, code] for name, code, *_ in response.topic_errors]
        out["list"] = sorted(admin.list_topics())
        described = admin.describe_topics([topic])
        out["describe_topics"] = [
            {"topic": t["topic"], "error_code": t["error_code"], "partitions": sorted(p["partition"] for p in t["partitions"])}
            for t in described
        ]
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        out["describe_configs"] = {
            entry[0]: entry[1] for response in configs for resource in response.resources for entry in resource[4]
        }
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "3600000"})])
        # kafka-python wants the names to describe as dict keys (the values are ignored).
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})])
        out["after_alter"] = {
            entry[0]: entry[1] for response in configs for resource in response.resources for entry in resource[4]
        }
        response = admin.create_partitions({topic: NewPartitions(4)})
        out["increase"] = [[name, code] for name, code, *_ in response.topic_errors]
        try:
            response = admin.create_partitions({topic: NewPartitions(1)})
            out["decrease"] = [[name, code] for name, code, *_ in response.topic_errors]
        except Exception as exc:  # kafka-python raises on a topic error
            out["decrease"] = error_name(exc)
        out["partitions_after"] = sorted(p["partition"] for p in admin.describe_topics([topic])[0]["partitions"])
        cluster = admin.describe_cluster()
        out["cluster"] = {
            "brokers": [{"node_id": b["node_id"], "host": b["host"], "port": b["port"]} for b in cluster["brokers"]],
            "controller_id": cluster["controller_id"],
        }
        response = admin.delete_topics([topic])
        out["delete"] = [[name, code] for name, code in response.topic_error_codes]
        out["list_after_delete"] = topic in admin.list_topics()
    finally:
        admin.close()
    return out


if __name__ == "__main__":
    bootstrap, prefix = sys.argv[1:3]
    print(json.dumps(kafka_python(bootstrap, prefix)))
