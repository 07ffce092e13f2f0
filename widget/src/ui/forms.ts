// The leave-a-message form (nobody online) and the satisfaction rating (after a close).
import type { Strings } from "../i18n";
import { h } from "./dom";

export interface LeftMessage {
  name: string;
  email: string;
  text: string;
}

/** A form whose submit runs `go`: a string it returns is a validation message; a rejection
 * shows `fail` and enables the button again. */
function form(testid: string, intro: string, submitLabel: string, submitId: string, fail: string, fields: Node[], go: () => Promise<void> | string) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary", "data-testid": submitId }, submitLabel);
  const f = h("form", { "data-testid": testid, novalidate: true }, h("p", {}, intro), ...fields, error, button);
  f.onsubmit = (e) => {
    e.preventDefault();
    error.hidden = true;
    const r = go();
    if (typeof r === "string") {
      error.textContent = r;
      error.hidden = false;
      return;
    }
    button.disabled = true;
    r.catch(() => {
      button.disabled = false;
      error.textContent = fail;
      error.hidden = false;
    });
  };
  return { f, button };
}

export function leaveMessageForm(t: Strings, submit: (m: LeftMessage) => Promise<void>): HTMLFormElement {
  const name = h("input", { "data-testid": "lm-name", autocomplete: "name", maxlength: 100 });
  const email = h("input", { "data-testid": "lm-email", type: "email", autocomplete: "email", required: true, maxlength: 200 });
  const text = h("textarea", { "data-testid": "lm-message", rows: 4, required: true });
  const { f } = form(
    "leave-message-form",
    t.lmIntro,
    t.lmSubmit,
    "lm-submit",
    t.error,
    [h("label", {}, t.name, name), h("label", {}, t.email, email), h("label", {}, t.message, text)],
    () => {
      const m = { name: name.value.trim(), email: email.value.trim(), text: text.value.trim() };
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(m.email) && m.text ? submit(m) : t.lmInvalid;
    },
  );
  return f;
}

export function ratingForm(t: Strings, submit: (score: number, comment: string) => Promise<void>): HTMLFormElement {
  let score = 0;
  const comment = h("textarea", { "data-testid": "rating-comment", rows: 2, maxlength: 1000, "aria-label": t.comment, placeholder: t.comment });
  const stars = h("div", { role: "radiogroup", "aria-label": t.rateTitle });
  const { f, button } = form("rating-form", t.rateTitle, t.rateSubmit, "rating-submit", t.error, [stars, comment], () => submit(score, comment.value.trim()));
  button.disabled = true;
  for (let n = 1; n <= 5; n++) {
    const b = stars.appendChild(h("button", { type: "button", class: "star", "data-testid": `rating-star-${n}`, role: "radio", "aria-checked": "false", "aria-label": `${n}/5` }, "★"));
    b.onclick = () => {
      score = n;
      [...stars.children].forEach((s, i) => {
        s.classList.toggle("on", i < n);
        s.setAttribute("aria-checked", String(i + 1 === n));
      });
      button.disabled = false;
    };
  }
  return f;
}
