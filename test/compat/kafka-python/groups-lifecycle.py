"""kafka-python (2.x) group member lifecycle scenarios for groups-lifecycle.test.ts.

usage: groups-lifecycle.py <scenario> <bootstrap> <topic> <group> [args]
  member <session_timeout_ms>
          a long-running member: prints {"assigned": [...]} after every rebalance and {"consumed": "vN"}
          per record, committing synchronously after each handled batch (at-least-once: a SIGKILLed member
          loses at most the batch it was handling). SIGTERM closes it gracefully (final commit, LeaveGroup).
  resume <from> <count>
          produce v<from>..v<from+count-1> round-robin over 6 partitions, then consume with
          auto_offset_reset=earliest and synchronous commits until idle; prints what it consumed and the
          committed offsets as one JSON line (a second run with the same group must see only the newer ones).
"""
import json
import signal
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

scenario, bootstrap, topic, group = sys.argv[1:5]
PARTITIONS = 6


def emit(event):
    print(json.dumps(event), flush=True)


def member():
    session_timeout_ms = int(sys.argv[5])
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                      enable_auto_commit=False, session_timeout_ms=session_timeout_ms,
                      heartbeat_interval_ms=300, fetch_max_wait_ms=200)
    assigned = set()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            assigned.difference_update(tp.partition for tp in revoked)

        def on_partitions_assigned(self, new):
            assigned.update(tp.partition for tp in new)
            emit({'assigned': sorted(assigned)})

    c.subscribe([topic], listener=Listener())
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    deadline = time.time() + 90  # bounded: the test kills (SIGKILL) or stops (SIGTERM) it long before
    while time.time() < deadline and not stopping:
        batch = c.poll(timeout_ms=200)
        for records in batch.values():
            for r in records:
                emit({'consumed': r.value.decode()})
        if batch:
            c.commit()
    # Graceful: close() commits nothing more here (auto commit is off, the last batch is committed) and
    # sends LeaveGroup, so the others rebalance at once instead of after the session timeout.
    c.close()
    emit({'closed': True})


def resume():
    start, count = int(sys.argv[5]), int(sys.argv[6])
    p = KafkaProducer(bootstrap_servers=bootstrap, acks='all')
    for i in range(start, start + count):
        p.send(topic, value=f'v{i}'.encode(), partition=i % PARTITIONS)
    p.flush(15)
    p.close()
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                      enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500)
    c.subscribe([topic])
    seen = []
    deadline = time.time() + 30
    idle_since = None
    # Consume until every produced message arrived and then 1.5 s passed with nothing more: a consumer
    # that restarted from the wrong offsets would see more than `count` messages.
    while time.time() < deadline:
        batch = c.poll(timeout_ms=200)
        got = [r.value.decode() for records in batch.values() for r in records]
        if got:
            seen.extend(got)
            idle_since = None
        elif len(seen) >= count:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 1.5:
                break
    c.commit()
    committed = sorted((p, c.committed(TopicPartition(topic, p))) for p in range(PARTITIONS))
    c.close()
    emit({'seen': sorted(seen, key=lambda v: int(v[1:])), 'committed': committed})


{'member': member, 'resume': resume}[scenario]()
