/**
 * A strict parser for the Prometheus text exposition format (version 0.0.4), used by the bench (object
 * store request counts, broker memory) and by the metrics acceptance test. Strict on purpose: anything a
 * real Prometheus server would reject or silently mangle — a malformed line, a duplicate series, a TYPE
 * after its samples, a family split in two, a histogram whose buckets are not cumulative or whose +Inf
 * bucket disagrees with _count — throws a PrometheusParseError naming the line.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name, e.g. `kafscale_request_duration_seconds_bucket`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string | null;
  readonly samples: Sample[];
}

export class PrometheusParseError extends Error {
  constructor(lineNumber: number, line: string, problem: string) {
    super(`line ${lineNumber}: ${problem}: ${JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}…` : line)}`);
    this.name = 'PrometheusParseError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;

/**
 * Prometheus reads values with Go's strconv.ParseFloat, which takes NaN and Inf/Infinity in any case;
 * prom-client writes a NaN gauge as `Nan` (e.g. the event-loop lag mean before its first sample).
 */
function parseValue(text: string): number | null {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (/^\+?inf(inity)?$/.test(lower)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(lower)) return Number.NEGATIVE_INFINITY;
  return FLOAT.test(text) ? Number(text) : null;
}

/** The family a sample belongs to: histogram/summary samples carry a suffix on the family name. */
function familyNameOf(sampleName: string, families: ReadonlyMap<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const family = families.get(base);
    if (family !== undefined && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return base;
  }
  return sampleName;
}

/** Parses `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, start: number, fail: (problem: string) => never): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (let guard = 0; guard <= line.length; guard++) {
    while (line[i] === ' ') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq === -1) fail('label without "="');
    const name = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(`invalid label name ${JSON.stringify(name)}`);
    if (Object.hasOwn(labels, name)) fail(`label ${name} given twice`);
    i = eq + 1;
    if (line[i] !== '"') fail(`label ${name} value is not quoted`);
    i++;
    let value = '';
    for (;;) {
      const ch = line[i];
      if (ch === undefined) fail(`unterminated value of label ${name}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else fail(`invalid escape \\${next ?? ''} in label ${name}`);
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
    labels[name] = value;
    i++;
    while (line[i] === ' ') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(`expected "," or "}" after label ${name}`);
  }
  return fail('unterminated label set');
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

/** Parses a whole exposition; throws PrometheusParseError on the first violation. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seenSeries = new Set<string>();
  /** Families whose samples are complete: a later sample for one means the family was split. */
  const closed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();

  const family = (name: string): MetricFamily => {
    let found = families.get(name);
    if (found === undefined) {
      found = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, found);
    }
    return found;
  };

  lines.forEach((line, index) => {
    const fail = (problem: string): never => {
      throw new PrometheusParseError(index + 1, line, problem);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (match === null) return; // an ordinary comment
      const [, keyword, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name)) fail(`invalid metric name ${JSON.stringify(name)}`);
      const target = family(name);
      if (keyword === 'HELP') {
        if (target.help !== null) fail(`second HELP for ${name}`);
        target.help = rest.replaceAll('\\n', '\n').replaceAll('\\\\', '\\');
        return;
      }
      if (!TYPES.has(rest.trim())) fail(`unknown metric type ${JSON.stringify(rest)}`);
      if (target.samples.length > 0) fail(`TYPE for ${name} after its samples`);
      if (target.type !== 'untyped' || closed.has(name)) fail(`second TYPE for ${name}`);
      target.type = rest.trim() as MetricType;
      return;
    }
    const nameEnd = /[{ ]/.exec(line)?.index ?? -1;
    if (nameEnd <= 0) fail('sample without a value');
    const sampleName = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(sampleName)) fail(`invalid metric name ${JSON.stringify(sampleName)}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (line[nameEnd] === '{') {
      const parsed = parseLabels(line, nameEnd, fail);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const fields = rest.trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') fail('expected a value and an optional timestamp');
    const value = parseValue(fields[0] ?? '');
    if (value === null) fail(`invalid value ${JSON.stringify(fields[0])}`);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail(`invalid timestamp ${JSON.stringify(fields[1])}`);

    const familyName = familyNameOf(sampleName, families);
    if (familyName !== current) {
      if (current !== null) closed.add(current);
      if (closed.has(familyName)) fail(`samples of ${familyName} are not contiguous`);
      current = familyName;
    }
    const key = seriesKey(sampleName, labels);
    if (seenSeries.has(key)) fail(`duplicate series ${sampleName}${JSON.stringify(labels)}`);
    seenSeries.add(key);
    const target = family(familyName);
    if (target.type === 'histogram' && sampleName.endsWith('_bucket') && labels['le'] === undefined) fail('histogram bucket without an "le" label');
    if (target.type === 'counter' && !(value! >= 0)) fail(`counter ${sampleName} is negative or NaN`);
    target.samples.push({ name: sampleName, labels, value: value! });
  });

  for (const each of families.values()) if (each.type === 'histogram') checkHistogram(each);
  return families;
}

/** Per label set (without `le`): buckets ascend in `le`, counts never fall, and +Inf equals _count. */
function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = seriesKey('', rest);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { buckets: [] }));
    if (sample.name === `${family.name}_bucket`) group.buckets.push([parseValue(le ?? '') ?? Number.NaN, sample.value]);
    else if (sample.name === `${family.name}_count`) group.count = sample.value;
    else if (sample.name === `${family.name}_sum`) group.sum = sample.value;
    else throw new PrometheusParseError(0, sample.name, `unexpected sample in histogram ${family.name}`);
  }
  for (const [key, group] of groups) {
    const where = `histogram ${family.name}${key}`;
    if (group.count === undefined || group.sum === undefined) throw new PrometheusParseError(0, where, 'histogram without _count or _sum');
    let previous: [number, number] = [Number.NEGATIVE_INFINITY, 0];
    for (const bucket of group.buckets) {
      if (!(bucket[0] > previous[0])) throw new PrometheusParseError(0, where, `bucket le=${bucket[0]} does not ascend`);
      if (bucket[1] < previous[1]) throw new PrometheusParseError(0, where, `bucket le=${bucket[0]} count falls`);
      previous = bucket;
    }
    if (previous[0] !== Number.POSITIVE_INFINITY) throw new PrometheusParseError(0, where, 'no +Inf bucket');
    if (previous[1] !== group.count) throw new PrometheusParseError(0, where, `+Inf bucket ${previous[1]} differs from _count ${group.count}`);
  }
}

/** Sum of the samples named `name` whose labels include every pair in `match`. */
export function sumSamples(families: ReadonlyMap<string, MetricFamily>, name: string, match: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(match).every(([label, value]) => sample.labels[label] === value)) total += sample.value;
    }
  }
  return total;
}

/** The samples named `name`, from whichever family holds them. */
export function samplesNamed(families: ReadonlyMap<string, MetricFamily>, name: string): Sample[] {
  const found: Sample[] = [];
  for (const family of families.values()) for (const sample of family.samples) if (sample.name === name) found.push(sample);
  return found;
}
