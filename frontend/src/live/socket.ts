// WebSocket connections to the live progress endpoints, with reconnection.
//
// Invariant: the client remembers the last eventId it received and reconnects with
// `?after=<lastEventId>`; the server replays from the database what was missed, so a dropped socket
// (a restarted server, a sleeping laptop, a lost channel-layer message) only delays the view.
// Backoff: 250 ms, then doubling to 5 s, with jitter so many tabs do not reconnect in step.
// A closed tab closes its socket: the server holds nothing for it.
import { useEffect, useReducer, useRef, useState } from "react";
import { applyEvents, emptyState, type LiveState, type ProgressEvent } from "./state";

export type Connection = "connecting" | "live" | "reconnecting" | "refused";

// The server accepts, then closes a socket it refuses with one of these: retrying cannot help.
export const REFUSED: Record<number, string> = {
  4401: "not signed in",
  4403: "not allowed",
  4404: "not found (or not in this tenant)",
};

/** What the connection badge says. */
export function connectionText(connection: Connection, refusal: string): string {
  return connection === "live" ? "● live" : connection === "refused" ? `refused: ${refusal}` : connection === "connecting" ? "○ connecting…" : "○ reconnecting…";
}

export function backoff(attempt: number): number {
  const base = Math.min(5_000, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

export function wsUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

type Options<T> = {
  path: () => string;  // re-read at each (re)connection: it carries the resume point
  onMessages: (messages: T[]) => void;  // a batch: what arrived within one short tick
  onOpen?: () => void;
};

/** Keeps one socket open while mounted; messages are delivered in batches (a replay can be hundreds). */
export function useSocket<T>({ path, onMessages, onOpen }: Options<T>, deps: unknown[]): { connection: Connection; refusal: string } {
  const [connection, setConnection] = useState<Connection>("connecting");
  const [refusal, setRefusal] = useState("");
  const handlers = useRef({ path, onMessages, onOpen });
  handlers.current = { path, onMessages, onOpen };
  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let flush: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let closed = false;
    let refused = false;  // a refusal is final for this mount: no retry, not even when back online
    let buffer: T[] = [];
    const open = () => {
      const ws = new WebSocket(wsUrl(handlers.current.path()));
      socket = ws;
      ws.onopen = () => { attempt = 0; setConnection("live"); handlers.current.onOpen?.(); };
      ws.onmessage = (m) => {
        buffer.push(JSON.parse(m.data as string) as T);
        // One state update per tick instead of one per message (timers, not animation frames,
        // so a background tab keeps up too).
        flush ??= setTimeout(() => { flush = undefined; const batch = buffer; buffer = []; handlers.current.onMessages(batch); }, 30);
      };
      ws.onclose = (e) => {
        if (closed || socket !== ws) return;
        if (e.code in REFUSED) { refused = true; setRefusal(REFUSED[e.code]); setConnection("refused"); return; }
        setConnection("reconnecting");
        retry = setTimeout(open, backoff(attempt++));
      };
    };
    open();
    // Back on the network: try now rather than at the end of the backoff.
    const online = () => {
      if (socket?.readyState === WebSocket.CLOSED && !closed && !refused) { clearTimeout(retry); attempt = 0; open(); }
    };
    window.addEventListener("online", online);
    return () => {
      closed = true;
      window.removeEventListener("online", online);
      clearTimeout(retry);
      clearTimeout(flush);
      socket?.close();
    };
  }, deps);  // eslint-disable-line react-hooks/exhaustive-deps
  return { connection, refusal };
}

function liveReducer(state: LiveState, action: { reset: true } | { events: ProgressEvent[] }): LiveState {
  return "reset" in action ? emptyState() : applyEvents(state, action.events);
}

/** The live state of an instance: everything from event 1 replayed, then live, resumed after drops. */
export function useLiveInstance(instanceId: string, onActivity?: () => void) {
  const [state, dispatch] = useReducer(liveReducer, undefined, emptyState);
  const last = useRef(0);
  useEffect(() => { last.current = 0; dispatch({ reset: true }); }, [instanceId]);
  const { connection, refusal } = useSocket<ProgressEvent>({
    path: () => `/ws/instances/${encodeURIComponent(instanceId)}/?after=${last.current}`,
    onMessages: (events) => {
      for (const e of events) if (!e.ephemeral) last.current = Math.max(last.current, e.eventId);
      dispatch({ events });
      onActivity?.();
    },
    onOpen: onActivity,
  }, [instanceId]);
  return { state, connection, refusal };
}

export type WorkflowEvent = ProgressEvent & { instance: string; cursor: string };

/** workflow_* events of every instance of a workflow: from the moment the socket first opens (the
 * caller reads the list then), and after a drop exactly from the last event's `cursor`. */
export function useWorkflowEvents(workflowId: number, onEvents: (events: WorkflowEvent[]) => void, onOpen: () => void) {
  const last = useRef("");
  useEffect(() => { last.current = ""; }, [workflowId]);
  return useSocket<WorkflowEvent>({
    path: () => `/ws/workflows/${workflowId}/${last.current ? `?after=${encodeURIComponent(last.current)}` : ""}`,
    onMessages: (events) => {
      for (const e of events) if (e.cursor) last.current = e.cursor;
      onEvents(events);
    },
    onOpen,
  }, [workflowId]);
}
