/**
 * A server-sent events parser (the WHATWG "event stream interpretation"): lines end in CRLF, LF or CR; `:`
 * starts a comment (heartbeats); an empty line dispatches the message; `id` is remembered across messages (a
 * message without an id line keeps the last one, which is what a reconnect sends as Last-Event-ID; an id counts
 * only once its message is complete).
 */

export interface SseMessage {
  /** `message` when the server sent no `event:` line. */
  event: string;
  data: string;
  /** The last event id seen so far in the stream (this message's own if it had one). */
  lastEventId: string;
  /** Whether this message carried an `id:` line itself. */
  hasId: boolean;
}

export interface SseState {
  lastEventId: string;
  /** Reconnection delay the server asked for with `retry:`, in ms. */
  retryMs?: number;
}

export async function* parseSse(
  body: AsyncIterable<Uint8Array>,
  state: SseState,
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let hasId = false;
  // An id takes effect when its message is complete: a connection dropped halfway through a message must
  // resume before that message (Last-Event-ID), not after it.
  let idBuffer = state.lastEventId;
  // A CR at the end of a chunk may be the first half of a CRLF split across chunks.
  let pendingCr = false;

  const line = (text: string): SseMessage | null => {
    if (text === '') {
      state.lastEventId = idBuffer;
      const message =
        data.length === 0
          ? null
          : { event: event || 'message', data: data.join('\n'), lastEventId: state.lastEventId, hasId };
      event = '';
      data = [];
      hasId = false;
      return message;
    }
    if (text.startsWith(':')) return null;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) {
      idBuffer = value;
      hasId = true;
    } else if (field === 'retry' && /^\d+$/.test(value)) state.retryMs = Number(value);
    return null;
  };

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    if (pendingCr && buffer.startsWith('\n')) buffer = buffer.slice(1);
    pendingCr = false;
    for (;;) {
      const end = buffer.search(/[\r\n]/);
      if (end === -1) break;
      if (buffer[end] === '\r' && end === buffer.length - 1) pendingCr = true;
      const skip = buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1;
      const message = line(buffer.slice(0, end));
      buffer = buffer.slice(end + skip);
      if (message) yield message;
    }
  }
  // A message not ended by an empty line when the stream closes is incomplete, and dropped (as browsers do).
}
