/** The JSON bodies of the console API (docs/console.md), as the UI reads them. */

export interface Session {
  readonly authRequired: boolean;
  /** `sasl`: log in with a SCRAM user; `token`: the ops bearer token is the password; `none`: no login. */
  readonly authMode?: 'sasl' | 'token' | 'none';
  readonly user: string | null;
  readonly warning: string | null;
}

export interface BrokerRow {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly uptimeMs: number | null;
  readonly partitionsOwned: number | null;
  readonly produceBytesPerSec: number | null;
  readonly fetchBytesPerSec: number | null;
  readonly self: boolean;
}

export interface StoreHealth {
  readonly kind: string;
  readonly healthy: boolean;
  readonly detail: string | null;
}

export interface Totals {
  readonly topics: number;
  readonly partitions: number;
  readonly groups: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
  readonly recordsInPerSec: number;
  readonly recordsOutPerSec: number;
}

export interface Overview {
  readonly clusterId: string;
  readonly brokerId: number;
  readonly brokers: readonly BrokerRow[];
  readonly metadataStore: StoreHealth;
  readonly objectStore: StoreHealth;
  readonly totals: Totals;
}

export interface HistoryPoint {
  readonly t: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
  readonly recordsInPerSec: number;
  readonly recordsOutPerSec: number;
}

export interface MetricsHistory {
  readonly stepMs: number;
  readonly points: readonly HistoryPoint[];
}

export interface TopicRow {
  readonly name: string;
  readonly partitions: number;
  readonly internal: boolean;
  readonly records: number | null;
  readonly sizeBytes: number | null;
  readonly retentionMs: number | null;
  readonly bytesInPerSec: number | null;
}

export interface PartitionRow {
  readonly partition: number;
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly sizeBytes: number | null;
}

export interface ConfigRow {
  readonly name: string;
  readonly value: string | null;
  readonly isDefault: boolean;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
}

export interface TopicDetail {
  readonly name: string;
  readonly topicId: string;
  readonly internal?: boolean;
  readonly createdMs?: number | null;
  readonly partitions: readonly PartitionRow[];
  readonly configs: readonly ConfigRow[];
  /** False when the caller may not DESCRIBE_CONFIGS the topic (configs is then empty). */
  readonly configsVisible?: boolean;
  readonly consumers: readonly { readonly groupId: string; readonly lag: number | null }[];
}

export interface Encoded {
  readonly base64: string;
  readonly text: string | null;
}

export interface Message {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Encoded | null;
  readonly value: Encoded | null;
  readonly headers: readonly { readonly key: string; readonly value: Encoded | null }[];
}

export interface MessagePage {
  readonly messages: readonly Message[];
  readonly truncated: boolean;
}

export interface GroupRow {
  readonly groupId: string;
  readonly state: string;
  readonly protocol: 'classic' | 'consumer';
  readonly protocolType: string | null;
  /** null when another broker coordinates the group (only it knows the members). */
  readonly members: number | null;
  readonly lag: number | null;
  readonly coordinator?: number;
}

export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly host: string;
  readonly assignments: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: number | null;
  readonly endOffset: number | null;
  readonly lag: number | null;
  readonly memberId: string | null;
}

export interface GroupDetail {
  readonly groupId: string;
  readonly state: string;
  readonly protocol: string;
  readonly coordinator?: number;
  /** False when another broker coordinates the group; `note` then says where to look. */
  readonly membersKnown?: boolean;
  readonly note?: string | null;
  readonly members: readonly GroupMember[];
  readonly offsets: readonly GroupOffset[];
}

export interface OffsetResetRow {
  readonly topic: string;
  readonly partition: number;
  readonly current: number | null;
  readonly target: number;
}
