/**
 * One kafkajs group member in its own process, for tests that kill a member (SIGKILL: no LeaveGroup,
 * no final commit). Prints one JSON line per event on stdout:
 *   {"type":"assigned","partitions":[0,3]}   after every rebalance (GROUP_JOIN)
 *   {"type":"consumed","value":"v17"}       per message, after it is handled
 *
 *   node test/compat/kafkajs/group-member.ts <bootstrap> <groupId> <topic> <sessionTimeoutMs>
 */
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [bootstrap, groupId, topic, sessionTimeoutArg] = process.argv.slice(2);
if (bootstrap === undefined || groupId === undefined || topic === undefined || sessionTimeoutArg === undefined) {
  process.stderr.write('usage: group-member.ts <bootstrap> <groupId> <topic> <sessionTimeoutMs>\n');
  process.exit(2);
}

const kafka = new Kafka({ clientId: 'kafscale-killed-member', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
const consumer = kafka.consumer({ groupId, sessionTimeout: Number(sessionTimeoutArg), heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 });
const emit = (event: object): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

consumer.on(consumer.events.GROUP_JOIN, (e) => emit({ type: 'assigned', partitions: (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b) }));
process.once('SIGTERM', () => void consumer.disconnect().finally(() => process.exit(0)));

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
// Commits after every batch (kafkajs's default with autoCommit), so a killed member loses at most the
// batch it was handling: those messages are consumed again by the member that takes the partition over.
await consumer.run({ eachMessage: async ({ message }) => emit({ type: 'consumed', value: String(message.value) }) });
