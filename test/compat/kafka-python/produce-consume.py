"""kafka-python produce/consume round trip, driven by produce-consume.test.ts.

Usage: produce-consume.py <bootstrap> <topic> <partitions> <count>
Produces <count> keyed messages with headers (acks=all, gzip — the codec kafka-python 2.0.2 has
without extra modules) to an existing topic, then reads every partition back with an assign-style
consumer (group_id=None: ListOffsets + Fetch, no group APIs) and prints one JSON line describing what
was sent (with the acknowledged partition/offset) and what was read.
"""
import base64
import hashlib
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def value_for(index):
    digest = hashlib.sha256(str(index).encode()).digest()
    return bytes([0, 0xFF, 0xFE, index & 0xFF]) + digest + bytes([index & 0xFF]) * (1500 if index % 9 == 0 else 0)


def main():
    bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all', compression_type='gzip',
                             linger_ms=5, request_timeout_ms=15000, retries=0)
    futures = []
    for i in range(count):
        futures.append(producer.send(topic, key=f'key-{i}'.encode(), value=value_for(i),
                                     headers=[('index', str(i).encode()), ('bin', bytes([i & 0xFF, 0]))]))
    producer.flush(timeout=30)
    sent = []
    for i, future in enumerate(futures):
        meta = future.get(timeout=30)
        sent.append({'index': i, 'partition': meta.partition, 'offset': meta.offset})
    producer.close(timeout=10)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset='earliest', consumer_timeout_ms=3000, request_timeout_ms=15000)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    wanted = sum(end.values())
    received = []
    deadline = time.time() + 30
    while len(received) < wanted and time.time() < deadline:
        for message in consumer:
            received.append({
                'partition': message.partition,
                'offset': message.offset,
                'key': message.key.decode(),
                'value': base64.b64encode(message.value).decode(),
                'headers': [[name, base64.b64encode(value).decode()] for name, value in message.headers],
            })
            if len(received) >= wanted:
                break
    consumer.close()
    expected = {f'key-{i}': {'value': base64.b64encode(value_for(i)).decode(),
                             'headers': [['index', base64.b64encode(str(i).encode()).decode()],
                                         ['bin', base64.b64encode(bytes([i & 0xFF, 0])).decode()]]}
                for i in range(count)}
    print(json.dumps({'sent': sent, 'received': received, 'expected': expected,
                      'end_offsets': {str(tp.partition): offset for tp, offset in end.items()}}))


if __name__ == '__main__':
    main()
