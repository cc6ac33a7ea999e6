/**
 * One @platformatic/kafka group member in its own process, for tests that kill a member (SIGKILL: no
 * LeaveGroup, no final commit). Prints one JSON line per event on stdout:
 *   {"type":"assigned","partitions":[0,3]}   after every rebalance (consumer:group:join)
 *   {"type":"consumed","value":"v17"}       per message, as the stream delivers it
 *
 *   node test/compat/platformatic/group-member.ts <bootstrap> <groupId> <topic> <sessionTimeoutMs> [classic|consumer]
 *
 * With `consumer` the member uses the KIP-848 protocol (ConsumerGroupHeartbeat; the broker's session
 * timeout applies) and reports its assignment whenever the client's `assignments` change.
 */
import { Consumer, type GroupAssignment } from '@platformatic/kafka';
import { partitionsOf } from './group-consumer.ts';

const [bootstrap, groupId, topic, sessionTimeoutArg, protocolArg = 'classic'] = process.argv.slice(2);
if (bootstrap === undefined || groupId === undefined || topic === undefined || sessionTimeoutArg === undefined) {
  process.stderr.write('usage: group-member.ts <bootstrap> <groupId> <topic> <sessionTimeoutMs>\n');
  process.exit(2);
}

const emit = (event: object): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const consumer =
  protocolArg === 'consumer'
    ? new Consumer({ clientId: 'kafscale-killed-platformatic-member', groupId, groupProtocol: 'consumer', bootstrapBrokers: [bootstrap], rebalanceTimeout: 60_000, maxWaitTime: 200, retries: 5, timeout: 10_000 })
    : new Consumer({
        clientId: 'kafscale-killed-platformatic-member',
        groupId,
        bootstrapBrokers: [bootstrap],
        sessionTimeout: Number(sessionTimeoutArg),
        heartbeatInterval: 300,
        rebalanceTimeout: 10_000,
        maxWaitTime: 200,
        retries: 5,
        timeout: 10_000,
      });
if (protocolArg === 'consumer') {
  // KIP-848: assignments arrive in heartbeat answers; report each change.
  let last = '';
  setInterval(() => {
    const partitions = partitionsOf(consumer.assignments, topic);
    if (consumer.assignments !== null && partitions.join(',') !== last) {
      last = partitions.join(',');
      emit({ type: 'assigned', partitions });
    }
  }, 50).unref();
}
consumer.on('consumer:group:join', (event: { assignments: GroupAssignment[] | null }) => {
  emit({ type: 'assigned', partitions: partitionsOf(event.assignments, topic) });
});
// Graceful stop for cleanup only (close(true): close the streams, then LeaveGroup); tests kill with SIGKILL.
process.once('SIGTERM', () => consumer.close(true, () => process.exit(0)));

// Committed offsets first, earliest where none; autocommit every 100 ms, so a killed member loses at most
// the last 100 ms of commits: those messages are consumed again by the member that takes the partition over.
const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 });
stream.on('data', (message) => emit({ type: 'consumed', value: message.value.toString() }));
stream.on('error', (error: Error) => process.stderr.write(`member stream error: ${error.message}\n`));
