/**
 * Shape of the generated schema modules in src/protocol/messages/. They keep the structure of Apache
 * Kafka's JSON message definitions (not the prose): version ranges stay in Kafka's own notation
 * ("0+", "3-7", "none") and are parsed once when a codec plan is compiled.
 */
export type MessageKind = 'request' | 'response' | 'header' | 'data';

/** Defaults are already typed by the generator: int64 → bigint, other ints → number, "null" → null. */
export type FieldDefault = number | bigint | boolean | string | null;

export interface FieldSchema {
  /** Name as in the Kafka schema, e.g. "TopicId". */
  readonly name: string;
  /** Property name in values, e.g. "topicId". */
  readonly key: string;
  /** Kafka type as written: "int32", "[]int32", "[]MetadataRequestTopic", "Cursor". */
  readonly type: string;
  readonly versions: string;
  readonly nullableVersions?: string;
  readonly taggedVersions?: string;
  readonly tag?: number;
  /** Field-level override of the message's flexible versions (RequestHeader.ClientId is "none"). */
  readonly flexibleVersions?: string;
  readonly default?: FieldDefault;
  /** TypeScript interface name of the struct (for struct and struct-array fields). */
  readonly struct?: string;
  readonly fields?: readonly FieldSchema[];
}

export interface MessageSchema {
  readonly name: string;
  readonly apiKey: number | null;
  readonly kind: MessageKind;
  readonly validVersions: string;
  readonly flexibleVersions: string;
  /** Kafka marks its newest version unstable while a KIP is in progress; brokers should not advertise it. */
  readonly latestVersionUnstable?: boolean;
  readonly fields: readonly FieldSchema[];
}
