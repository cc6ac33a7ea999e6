/**
 * The broker-level S3 fault rig: s3rver, a FaultProxy in front of it, and a broker process that reaches
 * S3 only through the proxy. Each part's stop goes into the test's `cleanups` as soon as it runs, so
 * the test's after() stops whatever started, in reverse.
 */
import { startBroker, type BrokerProcess } from '../helpers/broker-process.ts';
import { FaultProxy } from '../helpers/s3-fault-proxy.ts';
import { brokerS3Env, startS3Server } from '../helpers/s3-server.ts';

export interface FaultProxyBroker {
  readonly proxy: FaultProxy;
  readonly broker: BrokerProcess;
}

export async function startBrokerBehindFaultProxy(cleanups: Array<() => Promise<void>>, env: Record<string, string> = {}): Promise<FaultProxyBroker> {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  const proxy = await new FaultProxy(s3.port).start();
  cleanups.push(() => proxy.close());
  const broker = await startBroker({ env: { ...brokerS3Env(s3, proxy.endpoint), ...env } });
  cleanups.push(() => broker.stop());
  return { proxy, broker };
}
