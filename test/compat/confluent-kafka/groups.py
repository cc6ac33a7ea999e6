"""Consumer-group scenarios for confluent_kafka (librdkafka), printing JSON results.

usage: groups.py <scenario> <bootstrap> <topic> <group>
  confluent-cooperative  3 consumers with cooperative-sticky on a 6-partition topic, then one leaves
  confluent-static       2 static members; one restarts with the same group.instance.id
"""
import json
import sys
import threading
import time

scenario, bootstrap, topic, group = sys.argv[1:5]


def produce(start, count):
    from confluent_kafka import Producer
    p = Producer({'bootstrap.servers': bootstrap})
    for i in range(start, start + count):
        p.produce(topic, value=f'v{i}'.encode(), partition=i % 6)
    p.flush(15)


class Member:
    def __init__(self, conf_extra=None):
        from confluent_kafka import Consumer
        conf = {'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
                'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500, 'enable.auto.commit': True,
                'auto.commit.interval.ms': 200}
        conf.update(conf_extra or {})
        self.assigned = set()
        self.revokes = 0
        self.seen = []
        self.stop = False
        self.consumer = Consumer(conf)
        self.consumer.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def on_assign(self, consumer, partitions):
        self.assigned |= {p.partition for p in partitions}

    def on_revoke(self, consumer, partitions):
        self.revokes += 1
        self.assigned -= {p.partition for p in partitions}

    def loop(self):
        while not self.stop:
            msg = self.consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                self.seen.append(msg.value().decode())

    def close(self):
        self.stop = True
        self.thread.join()
        self.consumer.close()


def wait(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and not cond():
        time.sleep(0.1)
    return cond()


def confluent_cooperative():
    produce(0, 60)
    members = [Member({'partition.assignment.strategy': 'cooperative-sticky'}) for _ in range(3)]
    full = lambda ms: sorted(p for m in ms for p in m.assigned) == list(range(6))
    ok_assign = wait(lambda: full(members) and all(len(m.assigned) == 2 for m in members), 30)
    wait(lambda: sum(len(m.seen) for m in members) >= 60, 20)
    first = {'assignment': [sorted(m.assigned) for m in members], 'consumed': sum(len(m.seen) for m in members),
             'distinct': len({v for m in members for v in m.seen})}
    leaving = members.pop()
    leaving.close()
    ok_handover = wait(lambda: full(members), 20)
    produce(60, 30)
    wait(lambda: sum(len(m.seen) for m in members) + len(leaving.seen) >= 90, 20)
    seen = [v for m in members for v in m.seen] + leaving.seen
    for m in members:
        m.close()
    return {'okAssign': ok_assign, 'first': first, 'okHandover': ok_handover, 'after': [sorted(m.assigned) for m in members],
            'total': len(seen), 'distinct': len(set(seen))}


def confluent_static():
    produce(0, 12)
    a = Member({'group.instance.id': 'static-a'})
    b = Member({'group.instance.id': 'static-b'})
    ok = wait(lambda: sorted(a.assigned | b.assigned) == list(range(6)) and bool(a.assigned) and bool(b.assigned), 30)
    before_a = sorted(a.assigned)
    revokes_b = b.revokes
    a.close()  # a static member does not leave the group on close (KIP-345)
    a2 = Member({'group.instance.id': 'static-a'})
    ok2 = wait(lambda: sorted(a2.assigned) == before_a, 15)
    time.sleep(1.0)
    result = {'ok': ok, 'okRejoin': ok2, 'before': before_a, 'after': sorted(a2.assigned), 'bRevokesDuringRestart': b.revokes - revokes_b}
    a2.close()
    b.close()
    return result


print(json.dumps({'confluent-cooperative': confluent_cooperative, 'confluent-static': confluent_static}[scenario]()))
