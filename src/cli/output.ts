/**
 * Where command results go: aligned text tables for people by default, JSON for scripts (--json).
 * In JSON, int64 values (offsets, timestamps) become numbers when they fit in 2^53 and strings otherwise,
 * so that `jq` arithmetic works for every offset a real cluster reaches.
 */
import type { Writable } from 'node:stream';

export type Cell = string | number | bigint | boolean | null | undefined;

export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => Cell;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly #stdout: Writable;
  readonly #stderr: Writable;
  /** Progress lines are drawn only on a terminal; pipes and tests see the final result only. */
  readonly #interactive: boolean;
  #progressShown = false;

  constructor(stdout: Writable, stderr: Writable, json: boolean) {
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.json = json;
    this.#interactive = (stderr as Writable & { isTTY?: boolean }).isTTY === true;
  }

  line(text: string): void {
    this.#clearProgress();
    this.#stdout.write(text + '\n');
  }

  /** Prints `value` as JSON (one document, pretty) — the --json form of a command's result. */
  data(value: unknown): void {
    this.line(JSON.stringify(value, jsonReplacer, 2));
  }

  /** One JSON document per line (streams of records). */
  jsonLine(value: unknown): void {
    this.line(JSON.stringify(value, jsonReplacer));
  }

  table<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): void {
    this.line(renderTable(columns, rows));
  }

  /** A note for people (stderr, so it never mixes with data on stdout). */
  note(text: string): void {
    this.#clearProgress();
    this.#stderr.write(text + '\n');
  }

  progress(text: string): void {
    if (!this.#interactive) return;
    this.#stderr.write(`\r\x1b[2K${text}`);
    this.#progressShown = true;
  }

  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.#stderr.write('\r\x1b[2K');
    this.#progressShown = false;
  }
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  return value;
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  return String(cell);
}

export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => cellText(column.value(row))));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((r) => r[i]!.length)));
  const format = (values: readonly string[]): string =>
    values
      .map((value, i) => (columns[i]!.right === true ? value.padStart(widths[i]!) : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(columns.map((c) => c.header)), ...cells.map(format)].join('\n');
}
