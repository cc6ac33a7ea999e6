/**
 * Socket reads into one reused buffer instead of a fresh 64 KiB Buffer per read (plain TCP listeners).
 *
 * Why: every byte a producer sends was allocated twice — once as the socket's read chunk, once in the
 * assembled request frame (frame.ts) — and V8 counts ArrayBuffer memory toward its old-generation limit,
 * so the broker ran a full mark-compact for about every 10 MB produced (with a ~25 MB heap: a pause on
 * the JavaScript thread and concurrent marking on V8's helper threads). Reading into one buffer shared
 * by all connections halves those allocations and the mark-compacts with them (docs/benchmarks.md,
 * "100 B records: per-record and per-request cost").
 *
 * How: Node offers `onread` (read into a caller's buffer, then a callback) only to sockets it creates as
 * a client. A listener started with `pauseOnConnect` hands over a socket that has not read a byte; its
 * handle is moved to a new Socket created with `onread`, and the original is detached and destroyed
 * (which releases the server's connection count). This uses the socket's `_handle`, which Node does not
 * document: when it is missing or the handover fails, the original socket is used as before ('data'
 * events), so the feature degrades to the old path rather than failing.
 *
 * The shared buffer is safe because a read's bytes are handed to the callback synchronously and the
 * callback (KafkaConnection) copies out every byte it keeps before returning (FrameDecoder's transient
 * chunks); JavaScript never sees the buffer between reads.
 */
import { Socket } from 'node:net';

/** As large as the reads libuv makes on its own (its suggested size). */
export const DIRECT_READ_BYTES = 64 * 1024;

const shared = Buffer.allocUnsafe(DIRECT_READ_BYTES);

/** Receives each read: `bytes` is a view of the shared buffer, valid only during the call. */
export type DirectReadReceiver = (bytes: Buffer) => void;

export interface DirectReads {
  /** The socket to use from now on (the original one was detached). */
  readonly socket: Socket;
  /** Sets where reads go; bytes read before it is set are refused (cannot happen: reads start later). */
  receive(receiver: DirectReadReceiver): void;
}

interface HandleCarrier {
  _handle?: { readStop?: unknown; useUserBuffer?: unknown } | null;
}

/**
 * Moves a paused, never-read server socket (listener with `pauseOnConnect`) to a Socket that reads into
 * the shared buffer. Null when the handle cannot be taken over; the original socket is then untouched
 * (still paused: the caller resumes it).
 */
export function adoptDirectReads(original: Socket, allowHalfOpen: boolean): DirectReads | null {
  const carrier = original as unknown as HandleCarrier;
  const handle = carrier._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function' || original.destroyed || original.bytesRead !== 0) return null;
  let receiver: DirectReadReceiver | null = null;
  let socket: Socket;
  try {
    const options = {
      handle,
      allowHalfOpen,
      readable: true,
      writable: true,
      // Not reading yet: the caller attaches its listeners first, then resumes.
      pauseOnCreate: true,
      onread: {
        buffer: shared,
        callback: (bytesRead: number, buffer: Uint8Array): boolean => {
          const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, bytesRead);
          if (receiver === null) {
            socket.destroy(new Error('direct read before a receiver was set'));
            return false;
          }
          receiver(bytes);
          return true;
        },
      },
    };
    // `handle` and `pauseOnCreate` are what Node's own listener passes here; the typings omit them.
    socket = new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
  } catch {
    return null;
  }
  // The original no longer owns the handle: destroying it only releases the server's connection count.
  carrier._handle = null;
  original.destroy();
  return {
    socket,
    receive(next: DirectReadReceiver): void {
      receiver = next;
    },
  };
}
