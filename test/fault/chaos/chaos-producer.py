"""
confluent-kafka (librdkafka) producer for the chaos suite: every `interval_ms` it produces a burst of
`burst` records to one partition (bursts go round-robin over the partitions), so that with linger.ms
the broker sees batches of about `burst` records, for `seconds`; then it flushes. acks=all. Prints one
JSON line per delivery report ({"v","p","o"} on success, {"v","err","retriable","fatal"} on failure)
and a final summary line {"done", "sent", "remaining"}.

usage: chaos-producer.py <bootstrap> <topic> <partitions> <prefix> <seconds> <idempotent 0|1> <burst> <interval_ms> <linger_ms>
"""
import json
import signal
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, partitions, prefix, seconds, idempotent, burst, interval_ms, linger_ms = sys.argv[1:10]
partitions = int(partitions)
burst = int(burst)
interval = int(interval_ms) / 1000.0
stopping = False


def stop(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
config = {
    'bootstrap.servers': bootstrap,
    'acks': 'all',
    'linger.ms': int(linger_ms),
    'batch.num.messages': max(1, burst),
    # Rides out a failover or an S3 outage, and still ends within the run's budget.
    'message.timeout.ms': 30000,
    'request.timeout.ms': 10000,
    'topic.metadata.refresh.interval.ms': 1000,
    'reconnect.backoff.max.ms': 500,
    'retry.backoff.ms': 100,
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
bursts = 0
end = time.time() + float(seconds)
while not stopping and time.time() < end:
    partition = bursts % partitions
    bursts += 1
    for _ in range(burst):
        try:
            producer.produce(topic, value=f'{prefix}-{sent}'.encode(), partition=partition, on_delivery=report)
            sent += 1
        except BufferError:
            break
    deadline = time.time() + interval
    while time.time() < deadline:
        producer.poll(max(0.0, deadline - time.time()))
remaining = producer.flush(40)
print(json.dumps({'done': True, 'sent': sent, 'remaining': remaining}), flush=True)
