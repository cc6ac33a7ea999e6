/**
 * Which APIs a broker serves (its ApiVersions answer), so that CLI tests of commands whose broker side
 * is still being built skip with a reason naming the missing API instead of failing.
 */
import { apiKeyName } from '../../src/protocol/api-keys.ts';
import { WireClient } from '../helpers/wire-client.ts';

export async function servedApis(host: string, port: number): Promise<Set<number>> {
  const client = await WireClient.connect(host, port);
  try {
    const reply = await client.send(18, 3, { clientSoftwareName: 'kafscale-cli-test', clientSoftwareVersion: '0' });
    return new Set(reply.apiKeys.map((a) => a.apiKey));
  } finally {
    client.close();
  }
}

/** false when everything is served, else the reason to skip ("the broker does not serve Fetch yet"). */
export function missing(served: ReadonlySet<number>, apiKeys: readonly number[]): string | false {
  const absent = apiKeys.filter((k) => !served.has(k)).map(apiKeyName);
  return absent.length === 0 ? false : `the broker does not serve ${absent.join(', ')} yet`;
}
