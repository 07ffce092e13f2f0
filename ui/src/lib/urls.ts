//! Addresses that come from outside (the page a shopper's browser reported, a carrier's
//! tracking link in a back office) as the desk may show them. The desk renders no links: it
//! opens nothing itself and must never navigate its own window. A web address is shown as
//! text to copy into a browser; anything else (javascript:, data:, file:…) is not shown.

/** Bidi controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069) and the
 *  marks (LRM, RLM, ALM). In an address they only serve to spoof: `…/‮gpj.exe` reads as
 *  `…/exe.jpg`. */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/**
 * The address to show and copy if it is a web page (http or https), else null. Bidi
 * controls in it are percent-encoded, as a browser's address bar shows them.
 */
export function webAddress(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let protocol: string;
  try {
    protocol = new URL(raw.trim()).protocol;
  } catch {
    return null;
  }
  if (protocol !== "http:" && protocol !== "https:") return null;
  return raw.trim().replace(BIDI_CONTROLS, (c) => encodeURIComponent(c));
}
