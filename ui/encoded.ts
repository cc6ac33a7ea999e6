/**
 * How a record key, value or header value reads: pretty JSON when the text parses as a JSON object or
 * array (the common payload), else the text, else hex (binary). The browser's view toggle can force one.
 */
import type { Encoded } from './api-types.ts';

export type ViewMode = 'auto' | 'text' | 'hex';

/** Hex of at most this many bytes is shown; more is cut with a note (a page must stay light). */
const HEX_MAX_BYTES = 4096;

export interface Shown {
  readonly text: string;
  readonly kind: 'json' | 'text' | 'hex' | 'null';
}

function bytesOf(base64: string): Uint8Array {
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function hex(base64: string): string {
  const data = bytesOf(base64);
  const shown = Math.min(data.length, HEX_MAX_BYTES);
  const parts: string[] = [];
  for (let i = 0; i < shown; i++) {
    parts.push((data[i] ?? 0).toString(16).padStart(2, '0'));
    if (i % 16 === 15 && i + 1 < shown) parts.push('\n');
  }
  const body = parts.join(' ').replace(/ \n /g, '\n');
  return shown < data.length ? `${body}\n… ${data.length - shown} more bytes` : body;
}

function prettyJson(text: string): string | null {
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return null;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return null;
  }
}

export function show(value: Encoded | null, mode: ViewMode): Shown {
  if (value === null) return { text: 'null', kind: 'null' };
  if (mode === 'hex' || value.text === null) return { text: hex(value.base64), kind: 'hex' };
  if (mode === 'text') return { text: value.text, kind: 'text' };
  const json = prettyJson(value.text);
  if (json !== null) return { text: json, kind: 'json' };
  return { text: value.text, kind: 'text' };
}
