#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus: protobuf ClientEnvelopes as the widget and
the desk send them (encoded here by hand from proto/kefu/v1/*.proto, field numbers noted),
each also as a masked client WebSocket frame; kefu's sample config and variants; the
back-office answers of docs/backoffice-format.md and the Shopify fixtures of the server's
tests. Re-run after changing the contract; the fuzzers add their own finds beside these.
Standard library only."""

import hashlib
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
CONV = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
AGENT = "0190a1b2-c3d4-7e5f-8a9b-00000000a9e7"


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """A length-delimited (bytes, str, message) or varint (int, bool) field."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields if v not in (None, "", 0, False))


def envelope(kind, body):
    return field(kind, body)


def text_body(text):  # MessageBody.text = 1, Text.text = 1
    return msg((1, msg((1, text))))


def send(conv, client_msg_id, body, context=None):  # SendMessage: 1 conv, 2 id, 3 body, 5 ctx
    return envelope(1, msg((1, conv), (2, client_msg_id), (3, body), (5, context)))


PAGE = msg((1, "https://shop.example/p/42"), (2, "Kettle"), (3, "p-42"))  # PageContext
NOTE = msg((5, msg((1, "vip customer"))))  # MessageBody.private_note = 5
ATTACHMENT = msg((2, msg((1, CONV))))  # MessageBody.attachment = 2, attachment_id = 1
PRODUCT = msg((3, msg((1, "p-42"), (2, "Kettle"), (3, 12900), (4, "CNY"),
                      (5, "https://shop.example/k.png"), (6, "https://shop.example/k"))))
ORDER = msg((4, msg((1, "#1001"), (2, "shipped"), (3, 25800), (4, "CNY"), (5, 1733000000000),
                    (6, 2), (7, "https://track.example/1"))))

REQUESTS = {
    "send_first": send("", "c-1", text_body("你好, is the kettle in stock?"), PAGE),
    "send_reply": send(CONV, "c-2", text_body("Yes, ships today")),
    "send_note": send(CONV, "c-3", NOTE),
    "send_attachment": send(CONV, "c-4", ATTACHMENT),
    "send_product": send(CONV, "c-5", PRODUCT),
    "send_order": send(CONV, "c-6", ORDER),
    "resume": envelope(2, msg((1, CONV), (2, 3))),
    "heartbeat": envelope(3, msg((1, 1733000000000))),
    "typing": envelope(4, msg((1, CONV), (2, True))),
    "read": envelope(5, msg((1, CONV), (2, 7))),
    "set_status": envelope(6, msg((1, 1))),
    "accept": envelope(7, msg((1, CONV))),
    "decline": envelope(8, msg((1, CONV))),
    "transfer": envelope(9, msg((1, CONV), (2, AGENT), (3, "after-sales"), (4, "refund question"))),
    "close": envelope(10, msg((1, CONV))),
}


def ws_frame(payload, opcode=0x2, fin=True, mask=b"\x12\x34\x56\x78"):
    """One client→server WebSocket frame (clients must mask)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def write(target, name, data):
    path = os.path.join(CORPUS, target, name)
    with open(path, "wb") as f:
        f.write(data)


def ws_seeds():
    for name, env in REQUESTS.items():
        write("ws_frame", f"seed-{name}", b"\x00" + env)  # layer 0: one frame's payload
        write("ws_frame", f"seed-{name}-ws", b"\x01" + ws_frame(env))  # layer 1: the socket
    # A conversation's worth on one socket; a fragmented message; a ping between; a text.
    stream = b"".join(ws_frame(REQUESTS[k]) for k in ("heartbeat", "send_first", "typing", "read"))
    write("ws_frame", "seed-stream-ws", b"\x01" + stream)
    env = REQUESTS["send_reply"]
    frag = ws_frame(env[:5], fin=False) + ws_frame(b"", opcode=0x9) + ws_frame(env[5:], opcode=0x0)
    write("ws_frame", "seed-fragmented-ws", b"\x01" + frag)
    write("ws_frame", "seed-text-ws", b"\x01" + ws_frame(b'{"send":{}}', opcode=0x1))
    write("ws_frame", "seed-close-ws", b"\x01" + ws_frame(struct.pack(">H", 1000), opcode=0x8))


def config_seeds():
    example = open(os.path.join(ROOT, "server", "kefu.example.toml"), "rb").read()
    write("config", "seed-example", example)
    # The commented-out sections of the example, switched on.
    uncommented = re.sub(rb"(?m)^# (\[|[a-z_]+ = )", rb"\1", example)
    write("config", "seed-example-uncommented", uncommented)
    site = b'[[sites]]\nid = "shop"\nname = "Shop"\nallowed_origins = ["https://shop.example"]\ndefault_group = "pre-sales"\n'
    write("config", "seed-minimal", b'[server]\nlisten = "127.0.0.1:8080"\n' + site)
    write("config", "seed-backoffice", site + b'''[integrations.backoffice]
base_url = "http://127.0.0.1:8090"
auth = { type = "hmac", header = "X-Signature", secret = "s3cret" }
max_body_bytes = 65536
[integrations.backoffice.lists]
customers = "/data/items"
[integrations.backoffice.fields.customer]
name = "/full_name"
[integrations.cache]
timeout_ms = 1500
''')
    write("config", "seed-shopify", site + b'''[integrations.shopify]
shop_url = "https://demo.myshopify.com"
access_token = "shpat_0123"
api_version = "2025-01"
''')
    write("config", "seed-webhooks", site + b'''[[webhooks]]
name = "crm-sync"
url = "https://crm.shop.example/kefu-events"
secret = "a-long-random-string-of-32-characters-or-more"
events = ["message.created", "conversation.closed"]
max_attempts = 6
''')
    write("config", "seed-limits-env", b'[limits]\nmax_frame_bytes = 65536\nmax_text_bytes = 16384\n\x00'
          b'LIMITS__MESSAGES_PER_SECOND=20\nROUTING__AUTO_ACCEPT=true\nLOG__FORMAT=json\n')
    write("config", "seed-env-only", b'\x00SERVER__LISTEN=0.0.0.0:9000\nSITES=[]\n')


def backoffice_seeds():
    doc = open(os.path.join(ROOT, "docs", "backoffice-format.md"), encoding="utf-8").read()
    for i, block in enumerate(re.findall(r"```json\n(.*?)```", doc, re.S)):
        write("backoffice", f"seed-format-{i}", block.encode())
    fixtures = os.path.join(ROOT, "server", "tests", "fixtures", "shopify")
    for name in sorted(os.listdir(fixtures)):
        write("backoffice", f"seed-shopify-{name}", open(os.path.join(fixtures, name), "rb").read())
    # The retailer format the fuzz target maps (lists under /data/items, renamed fields).
    mapped = {"data": {"items": [{"id": "C-1", "full_name": "王芳", "contact": {"emails": ["f@x.cn"]},
                                  "number": "SO-9", "status": "paid", "qty": 2,
                                  "amounts": {"grand_total": {"amount": "99.50", "currency": "CNY"}},
                                  "items": [{"sku": "K-1", "name": "Kettle", "qty": 2,
                                             "unit_price": {"amount": "49.75", "currency": "CNY"}}]}]}}
    write("backoffice", "seed-mapped", json.dumps(mapped, ensure_ascii=False).encode())
    write("backoffice", "seed-error", b'{"errors":{"base":["cannot cancel"],"email":["is invalid"]}}')


if __name__ == "__main__":
    ws_seeds()
    config_seeds()
    backoffice_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        print(target, len(files), "files")
