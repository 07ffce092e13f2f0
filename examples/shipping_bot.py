#!/usr/bin/env python3
"""A Kefu bot in plain Python (standard library only): answers shipping questions and hands
the conversation to a human when the shopper asks for one.

Kefu POSTs signed webhook events here; the bot answers through Kefu's bot API.

    kefu bot add --name "Shipping bot"          # prints the bot token (kfb_...)
    # kefu.toml:  [[webhooks]]  name = "shipping-bot"  url = "http://127.0.0.1:9000/"
    #             secret = "<same as --secret>"  events = ["message.created"]
    python3 examples/shipping_bot.py --kefu http://127.0.0.1:8080 --token kfb_... \
        --secret <webhook secret> --port 9000
"""
import argparse, hashlib, hmac, json, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHIPPING = ("快递", "物流", "发货", "shipping", "delivery", "tracking", "where is my order")
HUMAN = ("人工", "真人", "human", "agent", "person")
ANSWER = ("订单付款后 24 小时内发货，发货后可在“我的订单”查看物流。\n"
          "Orders ship within 24 hours of payment; tracking appears under My orders.")


def signed_ok(secret, timestamp, body, signature):
    """Kefu signs "<timestamp>.<body>" with HMAC-SHA256; refuse old or forged events."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), signature)


def call(args, method, path, payload=None):
    """One request to Kefu's bot API with the bot's token."""
    req = urllib.request.Request(
        args.kefu.rstrip("/") + "/api/v1/bot" + path, method=method,
        data=json.dumps(payload).encode() if payload is not None else None,
        headers={"Authorization": "Bearer " + args.token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read() or b"null")


def handle(args, event):
    """Decides what to do about one event."""
    message, conv = event.get("message"), event["conversation"]
    if event["event"] != "message.created" or message["sender_role"] != "shopper":
        return
    if message["body"].get("type") != "text" or "handoff" in conv["tags"]:
        return  # not text, or a human has been asked for: stay out of the way
    text, path = message["body"]["text"].lower(), "/conversations/" + conv["id"]
    if any(word in text for word in HUMAN):
        call(args, "POST", path + "/handoff",
             {"priority": "high", "note": "Shipping bot: the shopper asked for a person."})
    elif any(word in text for word in SHIPPING):
        # The message id makes the reply idempotent: a redelivered event is answered once.
        call(args, "POST", path + "/messages",
             {"client_msg_id": "shipping-" + message["id"], "text": ANSWER})
        call(args, "POST", path + "/tags", {"tags": ["shipping"]})


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not signed_ok(self.server.args.secret, self.headers.get("X-Kefu-Timestamp", ""),
                         body, self.headers.get("X-Kefu-Signature", "")):
            self.send_response(401)
            self.end_headers()
            return
        try:
            handle(self.server.args, json.loads(body))
            self.send_response(204)
        except Exception as e:  # Kefu retries non-2xx answers with backoff
            self.log_error("handling event failed: %s", e)
            self.send_response(503)
        self.end_headers()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kefu", required=True, help="Kefu's base URL")
    p.add_argument("--token", required=True, help="the bot's token (kfb_...)")
    p.add_argument("--secret", required=True, help="the webhook's secret")
    p.add_argument("--port", type=int, default=9000)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Webhook)
    server.args = args
    print(f"shipping bot listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
