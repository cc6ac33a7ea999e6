"""
confluent-kafka (librdkafka) producer for the cluster tests: produces `prefix-N` values round-robin to
the topic's partitions with acks=all for `seconds`, then flushes. Prints one JSON line per delivery
report ({"v","p","o"} on success, {"v","err","retriable","fatal"} on failure) and a final summary line.

usage: confluent-producer.py <bootstrap> <topic> <partitions> <prefix> <seconds> <idempotent 0|1>
"""
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, partitions, prefix, seconds, idempotent = sys.argv[1:7]
partitions = int(partitions)
config = {
    'bootstrap.servers': bootstrap,
    'acks': 'all',
    'linger.ms': 5,
    # Short enough to end within the test's budget; long enough to ride out a failover.
    'message.timeout.ms': 30000,
    'topic.metadata.refresh.interval.ms': 1000,
    'reconnect.backoff.max.ms': 500,
}
if idempotent == '1':
    config['enable.idempotence'] = True
producer = Producer(config)


def report(err, msg):
    value = msg.value().decode()
    if err is None:
        print(json.dumps({'v': value, 'p': msg.partition(), 'o': msg.offset()}), flush=True)
    else:
        print(json.dumps({'v': value, 'err': str(err), 'retriable': err.retriable(), 'fatal': err.fatal()}), flush=True)


sent = 0
end = time.time() + float(seconds)
while time.time() < end:
    try:
        producer.produce(topic, value=f'{prefix}-{sent}'.encode(), partition=sent % partitions, on_delivery=report)
        sent += 1
    except BufferError:
        pass
    producer.poll(0.02)
remaining = producer.flush(40)
print(json.dumps({'done': True, 'sent': sent, 'remaining': remaining}), flush=True)
