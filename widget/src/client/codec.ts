// The only place that touches protobuf encoding, so the rest of the client deals in
// plain generated message objects.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ClientEnvelopeSchema,
  ServerEnvelopeSchema,
  type ServerEnvelope,
} from "../gen/kefu/v1/envelope_pb";

export type ClientKind = MessageInitShape<typeof ClientEnvelopeSchema>["kind"];

export function encodeClient(kind: ClientKind): Uint8Array {
  return toBinary(ClientEnvelopeSchema, create(ClientEnvelopeSchema, { kind }));
}

/** Null for a frame that is not a valid ServerEnvelope (ignored, never thrown). */
export function decodeServer(data: ArrayBuffer | Uint8Array): ServerEnvelope | null {
  try {
    return fromBinary(ServerEnvelopeSchema, new Uint8Array(data));
  } catch {
    return null;
  }
}
