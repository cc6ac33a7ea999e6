/**
 * A broker killed with SIGKILL while kafkajs, confluent-kafka (librdkafka) and kcat produce through the
 * proxy (acks=all, idempotent, as modern clients default to), then restarted (partitions hand back to
 * it): the proxy follows the partitions to their new owners, so the clients see no error beyond their own retries, and every acknowledged record is
 * stored exactly once at its acknowledged offset. A kafkajs group consuming through the proxy receives
 * every acknowledged record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { useClusterWithTopic } from '../helpers/cluster.ts';
import { verifyAcknowledged } from '../fault/crash-produce-run.ts';
import { KafkajsGroupConsumer, KafkajsLaneProducer, KcatProducer, runConfluentProducer } from '../cluster/real-clients.ts';
import { startProxy } from './proxy-process.ts';

const SESSION_TTL_MS = 2_000;
const PARTITIONS = 6;

const fixture = useClusterWithTopic({ topicPrefix: 'proxy-failover', partitions: PARTITIONS, sessionTtlMs: SESSION_TTL_MS });

// One broker identity (the proxy's default), and three virtual brokers (deploy/kubernetes): leaders the
// clients see never move, the real owners under them do.
for (const virtualBrokers of [1, 3]) {
  test(`a broker killed (-9) and restarted during produce through the proxy (${virtualBrokers} virtual broker${virtualBrokers === 1 ? '' : 's'}): no client error beyond retries, nothing acknowledged lost`, { timeout: 150_000 }, async () => {
    const { cluster, stops } = fixture;
    // Each run on its own topic of the one cluster.
    const topic = virtualBrokers === 1 ? fixture.topic : `${fixture.topic}-vb${virtualBrokers}`;
    if (topic !== fixture.topic) await cluster.createTopic(topic, PARTITIONS);
    const proxy = await startProxy({ bootstrap: cluster.bootstrap, virtualBrokers });
    stops.push(() => proxy.stop().then(() => {}));
    const before = await cluster.waitForLeaders(topic, PARTITIONS, 15_000);
    // The victim owns at least one partition, so the kill moves partitions under the producers.
    const victim = before.partitions.find((p) => p.leaderId !== 0)?.leaderId ?? 1;

    const kjs = new KafkajsLaneProducer({ brokers: [proxy.bootstrap], topic, partitions: PARTITIONS, prefix: 'kafkajs', idempotent: true, pauseMs: 30 });
    stops.push(() => kjs.stop());
    const consumer = new KafkajsGroupConsumer({ brokers: [proxy.bootstrap], topic, groupId: `proxy-failover-${randomUUID().slice(0, 8)}` });
    stops.push(() => consumer.stop());
    const kcat = new KcatProducer({ bootstrap: proxy.bootstrap, topic, idempotent: true });
    stops.push(() => kcat.kill());
    await kjs.start();
    await consumer.start();
    const confluent = runConfluentProducer({ bootstrap: proxy.bootstrap, topic, partitions: PARTITIONS, prefix: 'confluent', seconds: 22, idempotent: true });
    stops.push(() => confluent.kill());
    let kcatSequence = 0;
    const kcatTimer = setInterval(() => kcat.write(`kcat-${kcatSequence++}`), 25);
    stops.push(() => clearInterval(kcatTimer));

    await sleep(3_000);
    const killedAt = Date.now();
    const broker = cluster.brokers[victim];
    assert.ok(broker);
    await broker.kill();
    // Run on past the session TTL, so that the victim's partitions move and take writes again.
    await sleep(SESSION_TTL_MS + 6_000);
    // The victim comes back: placement hands partitions back to it (NOT_LEADER_OR_FOLLOWER from the old
    // owners while they move), which the proxy follows too.
    const restartedAt = Date.now();
    await broker.restart();
    await sleep(Math.max(0, 5_000 - (Date.now() - restartedAt)) + 2_000);
    clearInterval(kcatTimer);
    await kjs.stop();
    const kcatOutcome = await kcat.end(40_000);
    const confluentOutcome = await confluent.result;
    const metrics = (await proxy.ops('/metrics')).body;
    const retries = metrics.split('\n').filter((line) => line.startsWith('kafscale_proxy_retries_total'));

    console.log(
      `proxy failover (${virtualBrokers} virtual brokers): broker ${victim} killed ${Date.now() - killedAt} ms before the end\n` +
        `  kafkajs: ${kjs.acks.length} acks, errors ${JSON.stringify(kjs.errors.slice(0, 3))}\n` +
        `  confluent: sent ${confluentOutcome.sent}, acks ${confluentOutcome.acks.length} (+${confluentOutcome.acksWithoutOffset.length} without an offset), failures ${confluentOutcome.failures.length}, remaining ${confluentOutcome.remaining}\n` +
        `  kcat: sent ${kcat.sent.length}, exit ${kcatOutcome.exitCode}, failed deliveries ${kcatOutcome.failedDeliveries}\n` +
        `  proxy retries: ${retries.join(', ')}`,
    );

    // No error beyond retries: every send of every client eventually succeeded.
    assert.deepEqual(kjs.errors, [], 'kafkajs: no send failed');
    assert.equal(confluentOutcome.exitCode, 0, confluentOutcome.stderr.slice(-2_000));
    assert.deepEqual(confluentOutcome.failures, [], 'confluent-kafka: no delivery failed');
    assert.equal(confluentOutcome.remaining, 0);
    assert.equal(kcatOutcome.exitCode, 0, kcatOutcome.stderr.slice(-2_000));
    assert.equal(kcatOutcome.failedDeliveries, 0);
    // Writes went on after the kill on every client.
    assert.ok(kjs.acks.length > 50 && confluentOutcome.acks.length > 50, 'both producers kept producing');

    // Exactly once at the acknowledged offsets (idempotent producers: a retried batch is not a second copy).
    const allAcks = [...kjs.acks, ...confluentOutcome.acks];
    const reader = cluster.brokers[victim === 0 ? 1 : 0];
    assert.ok(reader);
    await verifyAcknowledged(reader, topic, PARTITIONS, allAcks, confluentOutcome.acksWithoutOffset);

    // The group consuming through the proxy gets everything acknowledged.
    const expected = new Set([...allAcks.flatMap((a) => a.values), ...kcat.sent]);
    const deadline = Date.now() + 30_000;
    const missing = (): string[] => [...expected].filter((v) => !consumer.seen.has(v));
    while (Date.now() < deadline && missing().length > 0) await sleep(250);
    assert.deepEqual(missing().slice(0, 10), [], `the group received all ${expected.size} acknowledged records (${missing().length} missing; killed at ${killedAt}, restarted at ${restartedAt}; consumer timeline: ${consumer.timeline.join(' | ')})`);
    await Promise.all([consumer.stop(), proxy.stop()]);
  });
}
