/**
 * Live updates: one EventSource on /api/v1/events for the whole page. Pages subscribe to an event name
 * (`overview`, `topics`, `groups`) and get its parsed data; the browser reconnects by itself.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { API_BASE, whenIdle } from './api.ts';

type Listener = (data: unknown) => void;

const listeners = new Map<string, Set<Listener>>();
/** `connecting` until the stream first opens (it starts a moment after the page), then `live` or `offline`. */
export type LiveState = 'connecting' | 'live' | 'offline';
const statusListeners = new Set<(state: LiveState) => void>();
let source: EventSource | null = null;
/** Set while a start waits for the page's first reads; closeLive() clears it to cancel that start. */
let starting: object | null = null;
/** The event names `source` has listeners for. */
const subscribed = new Set<string>();
let state: LiveState = 'connecting';

function setState(value: LiveState): void {
  if (state === value) return;
  state = value;
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
    setState('live');
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
  // The new stream subscribes every name known by then. It starts once the page's own reads are done:
  // on connect the broker computes and sends the overview, topics and groups at once, which would
  // otherwise compete with the page's first request (the topics list of a large cluster). A timer
  // would not do: background tabs throttle them.
  if (starting !== null) return;
  const mine = {};
  starting = mine;
  // A macrotask first, so that the page's effects have issued their requests.
  setTimeout(() => {
    void whenIdle().then(() => {
      if (starting !== mine) return;
      starting = null;
      start();
    });
  }, 0);
}

function start(): void {
  source?.close();
  const created = new EventSource(API_BASE + '/events');
  created.onopen = () => setState('live');
  created.onerror = () => setState(created.readyState === EventSource.OPEN ? 'live' : created.readyState === EventSource.CONNECTING ? 'connecting' : 'offline');
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

/** The event stream's state (shown in the header). */
export function useLiveStatus(): LiveState {
  const [value, setValue] = useState(state);
  useEffect(() => {
    ensureSource('overview');
    statusListeners.add(setValue);
    setValue(state);
    return () => {
      statusListeners.delete(setValue);
    };
  }, []);
  return value;
}

/** Ends the stream (on logout: it was opened with the old session's cookie). */
export function closeLive(): void {
  starting = null;
  source?.close();
  source = null;
  subscribed.clear();
  setState('connecting');
}
