/** `kafscale cluster`: brokers (DescribeCluster, else Metadata) and the leader (owner) and epoch of every partition. */
import type { Command } from 'commander';
import { ApiKey } from '../../protocol/api-keys.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { kafkaError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';

type Run = (action: (ctx: CommandContext, ...args: unknown[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export function registerClusterCommand(program: Command, run: Run): void {
  program.command('cluster').description('brokers of the cluster and the owner (leader) of every partition')
    .action(run(async (ctx) => {
      const metadata = await ctx.client.metadata(null);
      const connection = await ctx.client.any();
      let clusterId = metadata.clusterId;
      let controllerId = metadata.controllerId;
      let brokers = metadata.brokers.map((b) => ({ id: b.nodeId, host: b.host, port: b.port, rack: b.rack }));
      if (connection.serves(ApiKey.DescribeCluster)) {
        const { body } = await connection.request(ApiKey.DescribeCluster, { includeClusterAuthorizedOperations: false, endpointType: 1 });
        if (body.errorCode !== ErrorCode.NONE) throw kafkaError('cluster', body.errorCode, body.errorMessage);
        clusterId = body.clusterId;
        controllerId = body.controllerId;
        brokers = body.brokers.map((b) => ({ id: b.brokerId, host: b.host, port: b.port, rack: b.rack }));
      }
      brokers.sort((a, b) => a.id - b.id);
      const partitions = metadata.topics
        .filter((t) => t.name !== null)
        .flatMap((t) => t.partitions.map((p) => ({ topic: t.name!, partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch })))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const owned = new Map<number, number>();
      for (const p of partitions) owned.set(p.leader, (owned.get(p.leader) ?? 0) + 1);
      if (ctx.out.json) {
        return ctx.out.data({ clusterId, controllerId, brokers: brokers.map((b) => ({ ...b, partitionsLed: owned.get(b.id) ?? 0 })), partitions });
      }
      ctx.out.line(`Cluster: ${clusterId ?? '-'}  Controller: ${controllerId}  Brokers: ${brokers.length}`);
      ctx.out.table([
        { header: 'BROKER', value: (b) => b.id, right: true },
        { header: 'HOST', value: (b) => b.host },
        { header: 'PORT', value: (b) => b.port, right: true },
        { header: 'RACK', value: (b) => b.rack },
        { header: 'PARTITIONS LED', value: (b) => owned.get(b.id) ?? 0, right: true },
      ], brokers);
      ctx.out.line('');
      ctx.out.table([
        { header: 'TOPIC', value: (p) => p.topic },
        { header: 'PARTITION', value: (p) => p.partition, right: true },
        { header: 'LEADER', value: (p) => p.leader, right: true },
        { header: 'EPOCH', value: (p) => p.leaderEpoch, right: true },
      ], partitions);
    }));
}
