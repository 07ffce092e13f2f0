// The shopper's REST calls (JSON over `${origin}/api/v1`). No DOM here: the protocol
// client uses it too.

/** Site settings the widget needs before showing anything. */
export interface VisitorConfig {
  site_id: string;
  site_name: string;
  /** "" means: use the widget's own localized greeting. */
  welcome: string;
  /** Agents online now in the default group; 0 ⇒ offer the leave-a-message form. */
  agents_online: number;
  max_upload_bytes: number;
  upload_types: string[];
  max_text_bytes: number;
}

export interface VisitorSession {
  visitor_token: string;
  visitor_id: string;
  expires_at_ms: number;
  display_name: string;
  open_conversation_id: string | null;
}

export interface SessionRequest {
  site_id: string;
  visitor_token?: string;
  customer_id?: string;
  signature?: string;
  name?: string;
  email?: string;
  phone?: string;
}

export interface ContextJson {
  url: string;
  title: string;
  product_id: string;
  order_id: string;
}

export type ConversationStateJson = "queued" | "offered" | "assigned" | "closed";

export interface ConversationJson {
  id: string;
  state: ConversationStateJson;
  agent_id: string | null;
  last_seq: number;
  /** 1-based place in the queue while it waits unoffered. */
  queue_position?: number | null;
  rating?: { score: number; comment: string } | null;
}

export interface UploadedAttachment {
  attachment_id: string;
  file_name: string;
  content_type: string;
  size_bytes: number;
}

/** A failed call. `status` 0 means the network failed (offline, CORS, timeout). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of a failed call (0: the network), -1 for any other error. */
export const statusOf = (e: unknown): number => (e instanceof ApiError ? e.status : -1);

/** Used when the server has no /visitor/config (older servers) or it failed. */
export const DEFAULT_CONFIG: Omit<VisitorConfig, "site_id"> = {
  site_name: "",
  welcome: "",
  agents_online: 1,
  max_upload_bytes: 10 * 1024 * 1024,
  upload_types: [], // any: the server still answers 415 for a type it refuses
  max_text_bytes: 4000,
};

export class Api {
  readonly #token: () => string | null;
  readonly #fetcher: typeof fetch;

  constructor(
    /** Server origin, e.g. https://kefu.example.com */
    readonly origin: string,
    token: () => string | null,
    fetcher: typeof fetch = (...a) => fetch(...a),
  ) {
    this.#token = token;
    this.#fetcher = fetcher;
  }

  /** One call; `body` is JSON unless it is a Blob (uploads). Resolves to the parsed JSON
   * (or the Response itself when `raw`), rejects with ApiError. */
  async #call<T>(method: string, path: string, body?: unknown, raw = false): Promise<T> {
    const blob = body instanceof Blob;
    const headers: Record<string, string> = {};
    const t = this.#token();
    if (t) headers.Authorization = `Bearer ${t}`;
    if (body !== undefined) headers["Content-Type"] = blob ? body.type || "application/octet-stream" : "application/json";
    // A hung request must not stall the widget: callers retry on status 0.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), blob || raw ? 120_000 : 15_000);
    let res: Response;
    try {
      res = await this.#fetcher(`${this.origin}/api/v1${path}`, {
        method,
        headers,
        body: blob ? body : body === undefined ? undefined : JSON.stringify(body),
        signal: ac.signal,
      });
    } catch (e) {
      throw new ApiError(0, "network", String(e));
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const j = await res.json().catch(() => null);
      throw new ApiError(res.status, j?.code ?? "internal", j?.message ?? `HTTP ${res.status}`);
    }
    return raw ? (res as T) : res.status === 204 ? (undefined as T) : res.json();
  }

  config(siteId: string): Promise<VisitorConfig> {
    return this.#call("GET", `/visitor/config?site_id=${encodeURIComponent(siteId)}`);
  }

  session(req: SessionRequest): Promise<VisitorSession> {
    return this.#call("POST", "/visitor/session", req);
  }

  openConversation(req: { group?: string; context?: ContextJson; left_message?: boolean }): Promise<ConversationJson> {
    return this.#call("POST", "/visitor/conversation", req);
  }

  conversation(id: string): Promise<ConversationJson> {
    return this.#call("GET", `/conversations/${encodeURIComponent(id)}`);
  }

  rate(id: string, score: number, comment: string): Promise<void> {
    return this.#call("POST", `/conversations/${encodeURIComponent(id)}/rating`, { score, comment });
  }

  upload(conversationId: string, file: Blob, fileName: string): Promise<UploadedAttachment> {
    const q = encodeURIComponent(fileName);
    return this.#call("POST", `/conversations/${encodeURIComponent(conversationId)}/attachments?filename=${q}`, file);
  }

  async attachment(id: string): Promise<Blob> {
    const res = await this.#call<Response>("GET", `/attachments/${encodeURIComponent(id)}`, undefined, true);
    return res.blob();
  }
}
