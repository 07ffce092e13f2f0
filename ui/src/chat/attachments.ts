//! Attachment bytes for display, fetched through the Rust side (which caches them on disk)
//! as `data:` URLs, and the most recently shown of them kept for reuse within a budget.

import { commands } from "../lib/bindings";

type AttachmentResult = Awaited<ReturnType<typeof commands.attachment>>;

/**
 * Characters of `data:` URL kept for reuse (about a byte each: base64 is ASCII).
 * Without a bound a long session keeps every image it ever showed; a miss costs one read of
 * the Rust side's disk cache.
 */
export const ATTACHMENT_CACHE_CHARS = 24 * 1024 * 1024;

/** Least recently used first; entries still loading have no size yet. */
const loaded = new Map<string, Promise<AttachmentResult>>();
const sizes = new Map<string, number>();
let cachedChars = 0;

/** The attachment as a `data:` URL; failures are not cached, so a later view retries. */
export function attachmentUrl(attachmentId: string): Promise<AttachmentResult> {
  const cached = loaded.get(attachmentId);
  if (cached) {
    loaded.delete(attachmentId);
    loaded.set(attachmentId, cached);
    return cached;
  }
  const pending = commands.attachment(attachmentId);
  loaded.set(attachmentId, pending);
  void pending.then((result) => {
    if (loaded.get(attachmentId) !== pending) return;
    if (result.status === "error") {
      loaded.delete(attachmentId);
      return;
    }
    sizes.set(attachmentId, result.data.length);
    cachedChars += result.data.length;
    for (const id of loaded.keys()) {
      if (cachedChars <= ATTACHMENT_CACHE_CHARS) break;
      if (sizes.has(id)) forget(id);
    }
  });
  return pending;
}

function forget(attachmentId: string): void {
  loaded.delete(attachmentId);
  cachedChars -= sizes.get(attachmentId) ?? 0;
  sizes.delete(attachmentId);
}

/** A file's bytes as base64, for `sendFile`. */
export async function fileToBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}
