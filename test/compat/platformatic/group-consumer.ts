/**
 * @platformatic/kafka group consumers as the platformatic group tests run them: the classic-protocol
 * timings they share, the assignment a member was given at its last join, and the forced close.
 */
import { Consumer, type GroupAssignment } from '@platformatic/kafka';

export type BufferConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

/** The partitions of `topic` in an assignment, ascending. */
export function partitionsOf(assignments: readonly GroupAssignment[] | null, topic: string): number[] {
  return (assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
}

/** A classic-protocol member: 6 s session, 500 ms heartbeats, 200 ms long polls, 10 s requests, 5 retries. */
export function classicGroupConsumer(clientId: string, groupId: string, bootstrap: string): BufferConsumer {
  return new Consumer({
    clientId,
    groupId,
    bootstrapBrokers: [bootstrap],
    sessionTimeout: 6_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
    maxWaitTime: 200,
    retries: 5,
    timeout: 10_000,
  });
}

/** The partitions of `topic` the consumer got at its latest join (classic protocol: consumer:group:join). */
export function joinedPartitions(consumer: BufferConsumer, topic: string): () => number[] {
  let assigned: number[] = [];
  consumer.on('consumer:group:join', (event: { assignments: GroupAssignment[] | null }) => {
    assigned = partitionsOf(event.assignments, topic);
  });
  return () => assigned;
}

/** close(true): close the streams, then LeaveGroup. (The typings resolve `close(true)` to the callback overload.) */
export function closeForced(consumer: BufferConsumer): Promise<void> {
  return new Promise((resolve, reject) => consumer.close(true, (error) => (error ? reject(error) : resolve())));
}
