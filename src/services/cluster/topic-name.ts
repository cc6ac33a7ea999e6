/** Topic name rules exactly as Kafka's `Topic.validate` applies them. */
export const MAX_TOPIC_NAME_LENGTH = 249;

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Returns null when valid, else the reason (Kafka's wording) for INVALID_TOPIC_EXCEPTION. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`;
  }
  if (!LEGAL.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return null;
}

/** Kafka treats '.' and '_' as the same character when checking for collisions (metric names). */
export function collisionKey(name: string): string {
  return name.replaceAll('.', '_');
}

export function hasCollisionCharacters(name: string): boolean {
  return name.includes('.') || name.includes('_');
}

/** Internal topics are never auto-created or listed as user topics. */
export function isInternalTopic(name: string): boolean {
  return name === '__consumer_offsets' || name === '__transaction_state';
}
