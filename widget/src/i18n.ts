// The widget's own words, English and Simplified Chinese. Everything else on screen comes
// from the shop or the agents.

const en = {
  title: "Chat with us",
  openChat: "Open chat",
  closeChat: "Close chat",
  welcome: "Hi! How can we help you today?",
  connecting: "Connecting…",
  offline: "Offline — messages will be sent when you're back",
  online: "Online",
  blocked: "Chat isn't available. Messages can't be sent.",
  queue: (n: number) => `You are number ${n} in the queue.`,
  shortly: "An agent will be with you shortly.",
  typing: (name: string) => `${name || "Agent"} is typing…`,
  placeholder: "Type a message…",
  send: "Send",
  attach: "Attach a file",
  pending: "Sending…",
  sent: "Sent",
  read: "Read",
  failed: "Not sent",
  retry: "Retry",
  uploadType: "This file type can't be sent.",
  uploadSize: (max: string) => `This file is too large (max ${max}).`,
  uploadFailed: "The upload failed. Please try again.",
  uploading: "Uploading…",
  tooLong: "This message is too long.",
  lmIntro: "We're away right now. Leave a message and we'll get back to you.",
  name: "Name (optional)",
  email: "Email",
  message: "Message",
  lmSubmit: "Send message",
  lmDone: "Thanks — we'll reply by email or here",
  lmInvalid: "Please enter a valid email and a message.",
  error: "Something went wrong. Please try again.",
  rateTitle: "How was your chat?",
  comment: "Anything to add? (optional)",
  rateSubmit: "Submit rating",
  rateDone: "Thank you for your feedback!",
  newChat: "Start a new chat",
  order: (id: string) => `Order ${id}`,
  returnOf: (id: string) => `Return ${id}`,
  forOrder: (id: string) => `for order ${id}`,
  items: (n: number) => `${n} item${n === 1 ? "" : "s"}`,
  refund: "Refund",
  track: "Track parcel",
};

export type Strings = typeof en;

const zh: Strings = {
  title: "在线客服",
  openChat: "打开聊天",
  closeChat: "关闭聊天",
  welcome: "您好！请问有什么可以帮您？",
  connecting: "正在连接…",
  offline: "网络已断开 — 恢复后消息将自动发送",
  online: "在线",
  blocked: "在线客服不可用，消息无法发送。",
  queue: (n) => `您当前排在第 ${n} 位。`,
  shortly: "客服马上就来，请稍候。",
  typing: (name) => `${name || "客服"}正在输入…`,
  placeholder: "输入消息…",
  send: "发送",
  attach: "发送文件",
  pending: "发送中…",
  sent: "已发送",
  read: "已读",
  failed: "发送失败",
  retry: "重试",
  uploadType: "不支持发送此类型的文件。",
  uploadSize: (max) => `文件过大（最大 ${max}）。`,
  uploadFailed: "上传失败，请重试。",
  uploading: "正在上传…",
  tooLong: "消息太长了。",
  lmIntro: "客服暂时不在线，请留言，我们会尽快回复您。",
  name: "姓名（选填）",
  email: "邮箱",
  message: "留言内容",
  lmSubmit: "提交留言",
  lmDone: "谢谢！我们会通过邮件或在这里回复您",
  lmInvalid: "请填写有效的邮箱和留言内容。",
  error: "出错了，请重试。",
  rateTitle: "请为本次服务评分",
  comment: "还有什么想说的？（选填）",
  rateSubmit: "提交评价",
  rateDone: "感谢您的评价！",
  newChat: "开始新对话",
  order: (id) => `订单 ${id}`,
  returnOf: (id) => `退货 ${id}`,
  forOrder: (id) => `订单 ${id}`,
  items: (n) => `${n} 件商品`,
  refund: "退款",
  track: "查看物流",
};

export type Lang = "en" | "zh-CN";

/** data-lang wins, then the page's <html lang>, then the browser's language. */
export function pickLang(...candidates: (string | null | undefined)[]): Lang {
  const first = candidates.find((c) => c && c.trim());
  return first && /^zh/i.test(first.trim()) ? "zh-CN" : "en";
}

export function strings(lang: Lang): Strings {
  return lang === "zh-CN" ? zh : en;
}
