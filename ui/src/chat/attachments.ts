//! Attachment bytes for display, fetched once per attachment through the Rust side (which
//! caches them on disk) and kept as `data:` URLs for the session.

import { commands } from "../lib/bindings";

type AttachmentResult = Awaited<ReturnType<typeof commands.attachment>>;

const loaded = new Map<string, Promise<AttachmentResult>>();

/** The attachment as a `data:` URL; failures are not cached, so a later view retries. */
export function attachmentUrl(attachmentId: string): Promise<AttachmentResult> {
  let pending = loaded.get(attachmentId);
  if (!pending) {
    pending = commands.attachment(attachmentId);
    loaded.set(attachmentId, pending);
    void pending.then((result) => {
      if (result.status === "error") loaded.delete(attachmentId);
    });
  }
  return pending;
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
