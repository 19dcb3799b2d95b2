// The step program's API, as TypeScript declarations (README, "The step program").
// Served to the editor (GET /editor/step-api.d.ts) for completion and checking, and to anyone who
// writes a code-first program in their own editor: `/// <reference path="step-api.d.ts" />`.
// The runtime that implements it is engine/sandbox/prelude.js (keep the two in step); capabilities
// are the host's (ENGINE_CAPABILITIES).

/** A duration: "90 seconds", "2 hours", "1 day" (units: millisecond, second, minute, hour, day, week), or milliseconds. At most 365 days. */
type WorkflowDuration = string | number;

/** How a failed step.do attempt is retried. Defaults: 5 retries, 10 seconds, exponential. */
interface WorkflowRetries {
  /** Retries after the first attempt, 0-1000. */
  limit?: number;
  /** Wait before a retry (grown by `backoff`); a function is called once per failed attempt (5 s limit). */
  delay?: WorkflowDuration | ((arg: { ctx: WorkflowStepContext; error: Error }) => WorkflowDuration);
  backoff?: "constant" | "linear" | "exponential";
}

/** step.do's config. */
interface WorkflowStepConfig {
  retries?: WorkflowRetries;
  /** Time limit of one attempt (default 10 minutes). */
  timeout?: WorkflowDuration;
}

/** What a step's callback receives. */
interface WorkflowStepContext {
  /** This attempt's number, from 1. */
  attempt: number;
  step: {
    /** The step's name. */
    name: string;
    /** Its occurrence: 1 for the first step.do with this name, 2 for the second... */
    count: number;
  };
  /** The step's resolved config (defaults filled in). */
  config: Required<WorkflowStepConfig>;
}

/** A rollback handler's argument: the original step's context and output, and the instance's error. */
interface WorkflowRollbackArg<T> {
  ctx: WorkflowStepContext;
  output: T;
  error: { name: string; message: string };
}

/** step.do's trailing options (saga rollbacks): run in reverse order when the instance fails. */
interface WorkflowStepOptions<T> {
  rollback?: (arg: WorkflowRollbackArg<T>) => Promise<unknown> | unknown;
  rollbackConfig?: { retries?: WorkflowRetries; timeout?: WorkflowDuration };
}

/** The event an instance started with. */
interface WorkflowEvent<P = any> {
  /** The params the instance was created with (a webhook's: { method, headers, query, body }). */
  payload: P;
  /** When the instance was created. */
  timestamp: Date;
  /** The instance's id (its key). */
  instanceId: string;
}

/** An event received by step.waitForEvent. */
interface WorkflowReceivedEvent<P = any> {
  type: string;
  payload: P;
  timestamp: Date;
}

/** step.http's request. Made by the host: public http(s) addresses only, redirects re-checked. */
interface WorkflowHttpRequest {
  url: string;
  method?: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
  headers?: Record<string, string>;
  /** A JSON body (sets Content-Type: application/json). */
  json?: unknown;
  /** A text body. */
  body?: string;
  timeout?: WorkflowDuration;
}

interface WorkflowHttpResponse {
  status: number;
  ok: boolean;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The body parsed, when it is JSON. */
  json?: any;
}

interface WorkflowStep {
  /** A durable step: memoized by (name, occurrence); its result (JSON, at most 1 MiB) is checkpointed and never run again once committed. */
  do<T>(name: string, callback: (ctx: WorkflowStepContext) => Promise<T> | T, options?: WorkflowStepOptions<T>): Promise<T>;
  do<T>(name: string, config: WorkflowStepConfig, callback: (ctx: WorkflowStepContext) => Promise<T> | T, options?: WorkflowStepOptions<T>): Promise<T>;
  /** Sleep durably: the instance holds no worker meanwhile. */
  sleep(name: string, duration: WorkflowDuration): Promise<void>;
  /** Sleep until a date (a Date or milliseconds since the epoch), at most 365 days ahead. */
  sleepUntil(name: string, timestamp: Date | number): Promise<void>;
  /** Wait for an event of `type` sent to this instance (default timeout 24 hours; throws WaitTimeoutError). */
  waitForEvent<P = any>(name: string, options: { type: string; timeout?: WorkflowDuration }): Promise<WorkflowReceivedEvent<P>>;
  /** An HTTP request made by the host (inside a step.do). */
  http(request: WorkflowHttpRequest): Promise<WorkflowHttpResponse>;
  /** A tenant secret's value, for capability arguments (inside a step.do); never put it in a result. */
  secret(name: string): Promise<string>;
}

/** Fails the step at once, without retries. */
declare class NonRetryableError extends Error {
  constructor(message?: string, name?: string);
}
/** Thrown by step.waitForEvent when no event arrived in time. */
declare class WaitTimeoutError extends Error {}
/** A step's attempt exceeded its timeout, or the advance its time limit. */
declare class TimeoutError extends Error {}
/** Host errors of step.http. */
declare class HttpError extends Error {}
declare class HttpForbiddenError extends HttpError {}
declare class HttpTimeoutError extends HttpError {}
declare class HttpResponseTooLargeError extends HttpError {}
declare class HttpLimitError extends HttpError {}

declare module "cloudflare:workflows" {
  export { NonRetryableError };
}

/** The program: `export default async function run(event, step) { ... }`. */
type WorkflowRun = (event: WorkflowEvent, step: WorkflowStep) => Promise<unknown>;
