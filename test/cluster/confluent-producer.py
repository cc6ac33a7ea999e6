"""
confluent-kafka (librdkafka) producer for the cluster tests: produces `prefix-N` values round-robin to
the topic's partitions with acks=all for `seconds`, then flushes. Prints one JSON line per delivery
report ({"v","p","o"} on success, {"v","err","retriable","fatal"} on failure) and a final summary line.

usage: confluent-producer.py <bootstrap> <topic> <partitions> <prefix> <seconds> <idempotent 0|1>
"""
import os
import sys
import time

from confluent_kafka import Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'helpers'))
from confluent_delivery import flush_and_summarise, producer_config, report  # noqa: E402

bootstrap, topic, partitions, prefix, seconds, idempotent = sys.argv[1:7]
partitions = int(partitions)
producer = Producer(producer_config(bootstrap, idempotent == '1', {'linger.ms': 5}))

sent = 0
end = time.time() + float(seconds)
while time.time() < end:
    try:
        producer.produce(topic, value=f'{prefix}-{sent}'.encode(), partition=sent % partitions, on_delivery=report)
        sent += 1
    except BufferError:
        pass
    producer.poll(0.02)
flush_and_summarise(producer, sent)
