"""Single-consumer group scenarios for confluent_kafka (librdkafka) and kafka-python, one JSON line out.

usage: groups-offsets.py <scenario> <bootstrap> <topic> <group> [produce_from produce_count]
  confluent-latest      a new group with auto.offset.reset=latest: only messages produced after the
                        consumer's positions are resolved are consumed
  kafka-python-latest   the same with kafka-python's auto_offset_reset='latest'
  confluent-resume      produce [from, from+count) then consume with auto.offset.reset=earliest and
                        synchronous commits until idle; prints what it consumed (a second run with the
                        same group must see only what was produced after the first one committed)
  confluent-member      a long-running member printing its assignment as JSON lines (for kill tests)
"""
import json
import signal
import sys
import time

scenario, bootstrap, topic, group = sys.argv[1:5]
PARTITIONS = 6


def produce(start, count):
    from confluent_kafka import Producer
    p = Producer({'bootstrap.servers': bootstrap})
    for i in range(start, start + count):
        p.produce(topic, value=f'v{i}'.encode(), partition=i % PARTITIONS)
    left = p.flush(15)
    if left:
        raise SystemExit(f'{left} messages not delivered')


def wait(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def confluent_consumer(extra):
    from confluent_kafka import Consumer
    conf = {'bootstrap.servers': bootstrap, 'group.id': group, 'session.timeout.ms': 6000,
            'heartbeat.interval.ms': 500}
    conf.update(extra)
    return Consumer(conf)


def confluent_latest():
    produce(0, 12)
    # position() is the application's consume position (invalid until a message is consumed), so the
    # fetch state comes from librdkafka's statistics: 'active' with next_offset = the resolved offset.
    fetch = {}

    def on_stats(raw):
        parts = json.loads(raw).get('topics', {}).get(topic, {}).get('partitions', {})
        for pid, p in parts.items():
            if int(pid) >= 0:
                fetch[int(pid)] = (p.get('fetch_state'), p.get('next_offset'))

    c = confluent_consumer({'auto.offset.reset': 'latest', 'statistics.interval.ms': 100, 'stats_cb': on_stats})
    c.subscribe([topic])
    seen = []

    def resolved():
        msg = c.poll(0.1)
        if msg is not None and msg.error() is None:
            seen.append(msg.value().decode())
        return len(fetch) == PARTITIONS and all(state == 'active' for state, _ in fetch.values())

    ok = wait(resolved, 30)
    positions = sorted(offset for _, offset in fetch.values())
    produce(12, 6)
    deadline = time.time() + 20
    while time.time() < deadline and len(seen) < 6:
        msg = c.poll(0.2)
        if msg is not None and msg.error() is None:
            seen.append(msg.value().decode())
    c.close()
    return {'resolved': ok, 'positions': positions, 'seen': sorted(seen)}


def kafka_python_latest():
    from kafka import KafkaConsumer
    produce(0, 12)
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='latest',
                      session_timeout_ms=6000, heartbeat_interval_ms=500)
    seen = []

    def assigned():
        for records in c.poll(timeout_ms=100).values():
            seen.extend(r.value.decode() for r in records)
        return len(c.assignment()) == PARTITIONS

    ok = wait(assigned, 30)
    # position() blocks until the reset offset is looked up (ListOffsets latest).
    positions = sorted(c.position(tp) for tp in c.assignment())
    produce(12, 6)
    deadline = time.time() + 20
    while time.time() < deadline and len(seen) < 6:
        for records in c.poll(timeout_ms=200).values():
            seen.extend(r.value.decode() for r in records)
    c.close()
    return {'resolved': ok, 'positions': positions, 'seen': sorted(seen)}


def confluent_resume():
    start, count = int(sys.argv[5]), int(sys.argv[6])
    produce(start, count)
    c = confluent_consumer({'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
    c.subscribe([topic])
    seen = []
    deadline = time.time() + 30
    idle_since = None
    # Consume until every produced message arrived and then 1.5 s passed with nothing more: a consumer
    # that restarted from the wrong offsets would see more than `count` messages.
    while time.time() < deadline:
        msg = c.poll(0.2)
        if msg is not None and msg.error() is None:
            seen.append(msg.value().decode())
            idle_since = None
        elif len(seen) >= count:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 1.5:
                break
    committed = None
    if seen:
        c.commit(asynchronous=False)
        committed = sorted((tp.partition, tp.offset) for tp in c.committed(c.assignment(), timeout=10))
    c.close()
    return {'seen': sorted(seen, key=lambda v: int(v[1:])), 'committed': committed}


def confluent_member():
    c = confluent_consumer({'auto.offset.reset': 'earliest'})
    assigned = set()

    def on_assign(consumer, parts):
        assigned.update(p.partition for p in parts)
        print(json.dumps({'assigned': sorted(assigned)}), flush=True)

    def on_revoke(consumer, parts):
        assigned.difference_update(p.partition for p in parts)
        print(json.dumps({'assigned': sorted(assigned)}), flush=True)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    deadline = time.time() + 60  # bounded: the test kills it (SIGKILL) or stops it (SIGTERM) long before
    while time.time() < deadline and not stopping:
        c.poll(0.2)
    c.close()
    return {'done': True}


print(json.dumps({'confluent-latest': confluent_latest, 'kafka-python-latest': kafka_python_latest,
                  'confluent-resume': confluent_resume, 'confluent-member': confluent_member}[scenario]()), flush=True)
