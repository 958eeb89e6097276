// A response body sent while it is produced: text chunks, each encoded to UTF-8 when the response
// asks for the next, so the whole body is never held. With HTTP streaming on (functions/appSetup.ts)
// the library writes each chunk to the host as it comes (chunked transfer, no Content-Length).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ReadableStream } from 'node:stream/web';

export interface ChunkedBodyOptions {
  /**
   * Written as the last chunk when producing a later chunk fails: the status and the first bytes
   * are out by then, so this is the reader's only sign (e.g. a visible note in a page).
   */
  failedText: (err: unknown) => string;
  /** Told of that failure (the invocation's log). */
  onError: (err: unknown) => void;
}

/**
 * `chunks` as a response body. The first chunk is produced here, before the response is returned:
 * a failure there throws to the caller, which still answers with an error status. The rest are
 * produced one per read, after a turn of the event loop each (other requests are served between
 * chunks, and what was written can reach the socket); a failure there is logged, `failedText` is
 * written and the body ends.
 *
 * The library's proxy does not wait for the socket to drain between chunks, so a client slower
 * than the render leaves the unsent chunks buffered (outside the JS heap) in this process.
 */
export function chunkedBody(
  chunks: Iterable<string>,
  options: ChunkedBodyOptions,
): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.iterator]();
  let next: IteratorResult<string> | undefined = iterator.next();
  let finished = false;
  const finish = (): void => {
    finished = true;
    next = undefined;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return;
        let current = next;
        next = undefined;
        if (current === undefined) {
          await nextTurn();
          try {
            current = iterator.next();
          } catch (err) {
            options.onError(err);
            finish();
            controller.enqueue(Buffer.from(options.failedText(err), 'utf8'));
            controller.close();
            return;
          }
        }
        if (current.done) {
          finish();
          controller.close();
          return;
        }
        controller.enqueue(Buffer.from(current.value, 'utf8'));
      },
      cancel() {
        finish();
        iterator.return?.();
      },
    },
    // Nothing produced ahead of the reader.
    { highWaterMark: 0 },
  );
}
