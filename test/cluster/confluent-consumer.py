"""
confluent-kafka (librdkafka) group consumer for the cluster tests: subscribes to the topic from the
beginning and prints one JSON line per record ({"v": value, "t": ms since epoch}) until SIGTERM or
`seconds` have passed; errors librdkafka reports are printed as {"err": ..., "t": ...}.

usage: confluent-consumer.py <bootstrap> <topic> <group> <seconds>
"""
import json
import signal
import sys
import time

from confluent_kafka import Consumer

bootstrap, topic, group, seconds = sys.argv[1:5]
stopping = False


def stop(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'auto.offset.reset': 'earliest',
    'session.timeout.ms': 10000,
    'heartbeat.interval.ms': 1000,
    'topic.metadata.refresh.interval.ms': 1000,
    'reconnect.backoff.max.ms': 500,
})
consumer.subscribe([topic])
end = time.time() + float(seconds)
while not stopping and time.time() < end:
    msg = consumer.poll(0.2)
    if msg is None:
        continue
    now = int(time.time() * 1000)
    if msg.error():
        print(json.dumps({'err': str(msg.error()), 't': now}), flush=True)
        continue
    print(json.dumps({'v': msg.value().decode(), 't': now}), flush=True)
consumer.close()
