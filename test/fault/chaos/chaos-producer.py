"""
confluent-kafka (librdkafka) producer for the chaos suite: every `interval_ms` it produces a burst of
`burst` records to one partition (bursts go round-robin over the partitions), so that with linger.ms
the broker sees batches of about `burst` records, for `seconds`; then it flushes. acks=all. Prints one
JSON line per delivery report ({"v","p","o"} on success, {"v","err","retriable","fatal"} on failure)
and a final summary line {"done", "sent", "remaining"}.

usage: chaos-producer.py <bootstrap> <topic> <partitions> <prefix> <seconds> <idempotent 0|1> <burst> <interval_ms> <linger_ms>
"""
import os
import signal
import sys
import time

from confluent_kafka import Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'helpers'))
from confluent_delivery import flush_and_summarise, producer_config, report  # noqa: E402

bootstrap, topic, partitions, prefix, seconds, idempotent, burst, interval_ms, linger_ms = sys.argv[1:10]
partitions = int(partitions)
burst = int(burst)
interval = int(interval_ms) / 1000.0
stopping = False


def stop(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
producer = Producer(producer_config(bootstrap, idempotent == '1', {
    'linger.ms': int(linger_ms),
    'batch.num.messages': max(1, burst),
    'request.timeout.ms': 10000,
    'retry.backoff.ms': 100,
}))

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
flush_and_summarise(producer, sent)
