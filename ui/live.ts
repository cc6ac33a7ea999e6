/**
 * Live updates: one EventSource on /api/v1/events for the whole page. Pages subscribe to an event name
 * (`overview`, `topics`, `groups`) and get its parsed data; the browser reconnects by itself.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { API_BASE } from './api.ts';

type Listener = (data: unknown) => void;

const listeners = new Map<string, Set<Listener>>();
const statusListeners = new Set<(connected: boolean) => void>();
let source: EventSource | null = null;
let starting: ReturnType<typeof setTimeout> | null = null;
const LIVE_START_DELAY_MS = 500;
/** The event names `source` has listeners for. */
const subscribed = new Set<string>();
let connected = false;

function setConnected(value: boolean): void {
  if (connected === value) return;
  connected = value;
  for (const listener of statusListeners) listener(value);
}

function listen(target: EventSource, name: string): void {
  target.addEventListener(name, (event) => {
    let data: unknown;
    try {
      data = JSON.parse((event as MessageEvent<string>).data);
    } catch {
      return;
    }
    setConnected(true);
    for (const listener of listeners.get(name) ?? []) listener(data);
  });
}

/**
 * The browser reconnects a dropped stream by itself, but not one refused with an error status (a 401
 * before login, a 503 at the stream limit): such a closed source is replaced on the next subscription.
 */
function ensureSource(name: string): void {
  if (!listeners.has(name)) listeners.set(name, new Set());
  if (source !== null && source.readyState !== EventSource.CLOSED) {
    if (!subscribed.has(name)) {
      subscribed.add(name);
      listen(source, name);
    }
    return;
  }
  // The new stream subscribes every name known by then. The first one waits a moment: on connect the
  // broker computes and sends the overview, topics and groups at once, which would otherwise compete
  // with the page's own first request (the topics list of a large cluster).
  if (starting !== null) return;
  starting = setTimeout(() => {
    starting = null;
    start();
  }, source === null ? LIVE_START_DELAY_MS : 0);
}

function start(): void {
  source?.close();
  const created = new EventSource(API_BASE + '/events');
  created.onopen = () => setConnected(true);
  created.onerror = () => setConnected(created.readyState === EventSource.OPEN);
  subscribed.clear();
  for (const known of listeners.keys()) {
    subscribed.add(known);
    listen(created, known);
  }
  source = created;
}

/** Calls `onEvent` with each `name` event while the component is mounted. */
export function useLiveEvent<T>(name: string, onEvent: (data: T) => void): void {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => {
    ensureSource(name);
    const listener: Listener = (data) => latest.current(data as T);
    listeners.get(name)?.add(listener);
    return () => {
      listeners.get(name)?.delete(listener);
    };
  }, [name]);
}

/** Whether the event stream is connected (shown in the header). */
export function useLiveStatus(): boolean {
  const [value, setValue] = useState(connected);
  useEffect(() => {
    ensureSource('overview');
    statusListeners.add(setValue);
    setValue(connected);
    return () => {
      statusListeners.delete(setValue);
    };
  }, []);
  return value;
}

/** Ends the stream (on logout: it was opened with the old session's cookie). */
export function closeLive(): void {
  if (starting !== null) clearTimeout(starting);
  starting = null;
  source?.close();
  source = null;
  subscribed.clear();
  setConnected(false);
}
