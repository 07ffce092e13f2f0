// <kefu-widget>: launcher + chat panel in an open shadow root. It renders the protocol
// client's state and turns clicks and keys into client calls; it holds no protocol logic.
import type { ChatClient, ChatState } from "../client/session";
import { UploadError } from "../client/session";
import { strings, type Lang, type Strings } from "../i18n";
import { bytes, h, richText } from "./dom";
import { leaveMessageForm, ratingForm } from "./forms";
import { chatIcon, clipIcon, closeIcon, sendIcon } from "./icons";
import { MessageList } from "./messages";
import css from "./styles.css?inline";

export interface WidgetOptions {
  client: ChatClient;
  lang: Lang;
  /** "page": the full-page chat at /chat (no launcher, always open). */
  mode: "launcher" | "page";
}

type UiEvent = "open" | "close";

export class KefuWidget extends HTMLElement {
  #client!: ChatClient;
  #t!: Strings;
  #page = false;
  #opened = false;
  #lmDone = false;
  #ratingFor: string | null | undefined;
  #rating: HTMLElement | undefined;
  /** The welcome text shown, so it is rebuilt only when it changes. */
  #welcome = "";
  readonly #blobs = new Map<string, Promise<string>>();
  readonly #uiListeners = new Set<(e: UiEvent) => void>();
  private ui!: ReturnType<KefuWidget["build"]>;
  #list!: MessageList;

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
  }

  setup(o: WidgetOptions): void {
    this.#client = o.client;
    this.#t = strings(o.lang);
    this.#page = this.#opened = o.mode === "page";
    if (this.#page) this.setAttribute("data-mode", "page");
    this.ui = this.build();
    this.#list = new MessageList(this.ui.items, {
      t: this.#t,
      lang: o.lang,
      blobUrl: (id) => this.#blobUrl(id),
      retry: (id) => this.#client.retry(id),
    });
    this.#client.on("change", () => this.#render());
    document.addEventListener("visibilitychange", () => this.#render());
    this.#render();
  }

  onUi(cb: (e: UiEvent) => void): () => void {
    this.#uiListeners.add(cb);
    return () => this.#uiListeners.delete(cb);
  }

  open(): void {
    this.#toggle(true);
  }

  close(): void {
    if (!this.#page) this.#toggle(false);
  }

  #toggle(open: boolean): void {
    if (this.#opened === open) return;
    this.#opened = open;
    this.#render();
    const { list, composer, launcher } = this.ui;
    list.scrollTop = list.scrollHeight;
    (open ? composer : launcher).focus();
    for (const cb of this.#uiListeners) cb(open ? "open" : "close");
  }

  #blobUrl(id: string): Promise<string> {
    let p = this.#blobs.get(id);
    if (!p) {
      p = this.#client.attachment(id).then((b) => URL.createObjectURL(b));
      p.catch(() => this.#blobs.delete(id)); // a later render may try again
      this.#blobs.set(id, p);
    }
    return p;
  }

  private build() {
    const t = this.#t;
    const badge = h("span", { class: "badge", "data-testid": "unread-badge", hidden: true });
    const launcher = h("button", { class: "launcher", "data-testid": "launcher", "aria-label": t.openChat }, chatIcon(), badge);
    launcher.onclick = () => this.#toggle(!this.#opened);

    const title = h("h2", {}, t.title);
    const status = h("p", { class: "status", "data-testid": "status", role: "status" });
    const closeBtn = h("button", { class: "icon", "data-testid": "close-panel", "aria-label": t.closeChat, hidden: this.#page }, closeIcon());
    closeBtn.onclick = () => this.close();

    const queue = h("div", { class: "note", "data-testid": "queue-status", role: "status" });
    const welcome = h("div", {});
    const items = h("div", { class: "items" });
    const footer = h("div", { class: "items" });
    const list = h(
      "div",
      { class: "list", "data-testid": "message-list", role: "log" },
      h("div", { class: "msg", "data-testid": "welcome" }, h("div", { class: "bubble" }, welcome)),
      items,
      footer,
    );
    const typing = h("div", { class: "typing", "data-testid": "agent-typing", "aria-live": "polite" });

    const lm = leaveMessageForm(t, async (m) => {
      await this.#client.leaveMessage(m);
      this.#lmDone = true;
      this.#render();
    });
    const done = (id: string, text: string) => h("div", { class: "done", "data-testid": id, role: "status" }, text);
    const lmDone = done("lm-done", t.lmDone);
    const ratingDone = done("rating-done", t.rateDone);
    const newChat = h("button", { class: "secondary", "data-testid": "new-chat" }, t.newChat);
    newChat.onclick = () => {
      this.#lmDone = false;
      this.#client.newChat();
      composer.focus();
    };

    const error = h("p", { class: "error", "data-testid": "upload-error", role: "alert", hidden: true });
    const hint = h("p", { class: "hint", hidden: true }, t.uploading);
    const file = h("input", { type: "file", "data-testid": "attach", "aria-label": t.attach });
    const composer = h("textarea", { "data-testid": "composer", rows: 1, "aria-label": t.placeholder, placeholder: t.placeholder });
    const send = h("button", { class: "icon send", "data-testid": "send", "aria-label": t.send }, sendIcon());
    const composerBox = h("div", { class: "composer" }, error, hint, h("div", { class: "row" }, h("label", { class: "icon attach", title: t.attach }, clipIcon(), file), composer, send));
    // In the composer's place: nothing typed there could be sent.
    const blocked = h("div", { class: "note", "data-testid": "blocked", role: "status" }, t.blocked);

    const autosize = () => {
      composer.style.height = "auto";
      composer.style.height = `${Math.min(120, composer.scrollHeight)}px`;
    };
    send.onclick = () => {
      if (this.#client.send(composer.value)) return this.#error(t.tooLong);
      this.#error("");
      composer.value = "";
      autosize();
      list.scrollTop = list.scrollHeight;
    };
    composer.onkeydown = (e) => {
      // IME: Enter confirms a composition (Chinese input); it must not send.
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      send.click();
    };
    composer.oninput = () => {
      autosize();
      if (composer.value) this.#client.typing();
    };
    composer.onpaste = (e) => {
      const img = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
      if (!img) return;
      e.preventDefault();
      void this.#upload(img);
    };
    file.onchange = () => {
      const f = file.files?.[0];
      file.value = "";
      if (f) void this.#upload(f);
    };

    const panel = h(
      "section",
      { class: "panel", "data-testid": "panel", role: this.#page ? "main" : "dialog", "aria-label": t.title },
      h("header", {}, h("div", {}, title, status), closeBtn),
      queue,
      list,
      typing,
      composerBox,
      blocked,
    );
    panel.onkeydown = (e) => {
      if (e.key === "Escape") this.close();
    };
    this.shadowRoot!.append(h("style", {}, css), panel, this.#page ? "" : launcher);
    return { launcher, badge, panel, title, status, queue, welcome, items, footer, list, typing, lm, lmDone, ratingDone, newChat, composer, composerBox, blocked, file, error, hint };
  }

  #error(msg: string): void {
    this.ui.error.textContent = msg;
    this.ui.error.hidden = !msg;
  }

  async #upload(file: File): Promise<void> {
    const t = this.#t;
    this.#error("");
    this.ui.hint.hidden = false;
    try {
      await this.#client.sendFile(file, file.name || "image.png");
    } catch (e) {
      const code = e instanceof UploadError ? e.code : "";
      this.#error(code === "type" ? t.uploadType : code === "size" ? t.uploadSize(bytes(this.#client.state().config.max_upload_bytes)) : t.uploadFailed);
    }
    this.ui.hint.hidden = true;
  }

  #render(): void {
    try {
      this.#paint(this.#client.state());
    } catch (e) {
      console.error("[kefu]", e);
    }
  }

  #paint(s: ChatState): void {
    const { ui } = this;
    const t = this.#t;
    const opened = this.#opened;
    this.setAttribute("data-connected", String(s.conn === "online"));

    ui.panel.hidden = !opened;
    ui.launcher.setAttribute("aria-expanded", String(opened));
    ui.badge.hidden = opened || !s.unread;
    ui.badge.textContent = String(s.unread);

    ui.title.textContent = s.config.site_name || t.title;
    ui.status.setAttribute("data-state", s.conn);
    // Blocked: the notice below says it all, and no form can reach the server any more.
    const blocked = s.conn === "blocked";
    ui.status.hidden = blocked;
    ui.blocked.hidden = !blocked;
    // "Online" next to "we're away" would read as a contradiction.
    const showLm = !blocked && s.configLoaded && !s.config.agents_online && !s.conversationId && !this.#lmDone;
    ui.status.textContent = s.conn !== "online" ? t[s.conn] : showLm ? "" : t.online;
    const welcome = s.config.welcome || t.welcome;
    if (this.#welcome !== welcome) {
      this.#welcome = welcome;
      ui.welcome.textContent = "";
      richText(ui.welcome, welcome);
    }

    const queued = s.convState === "queued";
    ui.queue.hidden = !queued;
    ui.queue.textContent = (s.queuePosition ? `${t.queue(s.queuePosition)} ` : "") + t.shortly;
    ui.typing.hidden = !s.agentTyping;
    ui.typing.textContent = t.typing(s.agentName);
    ui.file.accept = s.config.upload_types.join(",");

    const list = ui.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    this.#list.render(s.messages);

    // Footer: the offline form, or what follows a closed conversation.
    const closed = !blocked && s.convState === "closed" && !!s.conversationId;
    const id = s.conversationId;
    if (!closed) this.#rating = this.#ratingFor = undefined;
    else if (this.#ratingFor !== id) {
      // One rating form per closed conversation, kept across renders so typing survives.
      this.#ratingFor = id;
      this.#rating = ratingForm(t, (score, comment) => this.#client.rate(score, comment));
    }
    const want = [
      closed && !s.rated && this.#rating,
      showLm && ui.lm,
      this.#lmDone && id && ui.lmDone,
      closed && s.rated && ui.ratingDone,
      closed && ui.newChat,
    ].filter((x): x is HTMLElement => !!x);
    // Moving nodes would blur a field being typed in: touch the footer only on change.
    if (want.some((el, i) => ui.footer.children[i] !== el) || ui.footer.children.length !== want.length) {
      ui.footer.replaceChildren(...want);
    }
    ui.composerBox.hidden = showLm || blocked;

    if (atBottom) list.scrollTop = list.scrollHeight;
    if (opened && document.visibilityState !== "hidden") this.#client.seen();
  }

}
