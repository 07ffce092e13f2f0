import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import App from "./App.svelte";
import { fakeDesk } from "./test/backend";
import { AGENT, conversation } from "./test/fixtures";

const signedIn = {
  server_url: "http://kefu.test",
  username: "alice",
  agent: AGENT,
  status: "online" as const,
  notice: null,
};

describe("app", () => {
  test("a stored session goes straight to the desk, offline until the Rust side says online", async () => {
    const desk = fakeDesk({ session: signedIn, conversations: [conversation()] });
    render(App);
    const state = await screen.findByTestId("connection-state");
    expect(state, "the desk starts offline until a connection event").toHaveAttribute("data-state", "offline");
    expect(state).toHaveTextContent("reconnecting");
    expect(await screen.findByTestId("conversation-item")).toHaveTextContent("Li Lei");
    await desk.emit({ type: "connection", online: true, reason: null });
    await waitFor(() => expect(screen.getByTestId("connection-state")).toHaveAttribute("data-state", "online"));
    expect(screen.getByText(AGENT.display_name)).toBeInTheDocument();
  });

  test("the status chosen before a restart shows from the start", async () => {
    fakeDesk({ session: { ...signedIn, status: "away" } });
    render(App);
    expect(await screen.findByTestId("status-toggle")).toHaveAttribute("data-status", "away");
  });

  test("without a session the sign-in form shows the session's notice", async () => {
    fakeDesk({
      session: {
        server_url: "http://kefu.test",
        username: "alice",
        agent: null,
        status: "online",
        notice: "Token expired",
      },
    });
    render(App);
    expect(await screen.findByTestId("signin-notice")).toHaveTextContent("Token expired");
    expect(screen.getByTestId("signin-server")).toHaveValue("http://kefu.test");
  });

  test("an expired session returns to sign-in with its message", async () => {
    const desk = fakeDesk({ session: signedIn });
    render(App);
    await screen.findByTestId("connection-state");
    await desk.emit({ type: "session_expired", message: "Signed in elsewhere" });
    expect(await screen.findByTestId("signin-notice")).toHaveTextContent("Signed in elsewhere");
    expect(screen.queryByTestId("connection-state")).toBeNull();
  });

  test("signing out calls the Rust side and shows the sign-in form", async () => {
    const desk = fakeDesk({ session: signedIn });
    render(App);
    await fireEvent.click(await screen.findByTestId("signout"));
    expect(await screen.findByTestId("signin-submit")).toBeInTheDocument();
    expect(desk.calls("sign_out")).toHaveLength(1);
  });

  test("switching the language to Chinese changes the visible labels at once and saves it", async () => {
    const desk = fakeDesk({ session: signedIn });
    render(App);
    expect(await screen.findByTestId("view-mine")).toHaveTextContent("Mine");
    await fireEvent.click(screen.getByTestId("settings-open"));
    const dialog = await screen.findByTestId("settings-dialog");
    await fireEvent.change(screen.getByTestId("setting-language"), { target: { value: "zh-CN" } });
    await waitFor(() => expect(screen.getByTestId("view-mine")).toHaveTextContent("我的"));
    expect(screen.getByTestId("view-queue")).toHaveTextContent("排队");
    expect(screen.getByTestId("signout")).toHaveTextContent("退出登录");
    expect(dialog).toHaveTextContent("设置");
    expect(desk.lastCall("save_settings")).toMatchObject({ settings: { language: "zh-CN" } });
  });

  test("a file dropped outside the composer is refused, not opened in place of the app", async () => {
    fakeDesk({ session: signedIn });
    render(App);
    const list = await screen.findByTestId("conversation-rows");
    const drag = (type: string, types: string[]) => {
      const event = new Event(type, { bubbles: true, cancelable: true });
      Object.defineProperty(event, "dataTransfer", { value: { types, files: [], dropEffect: "copy" } });
      list.dispatchEvent(event);
      return event;
    };
    const over = drag("dragover", ["Files"]);
    expect(over.defaultPrevented, "the web view's default for a file drop is to open it").toBe(true);
    expect((over as DragEvent).dataTransfer!.dropEffect, "the cursor says no").toBe("none");
    expect(drag("drop", ["Files"]).defaultPrevented).toBe(true);
    expect(drag("drop", ["text/plain"]).defaultPrevented, "text drags are none of its business").toBe(false);
  });

  test("the theme setting applies to the page immediately", async () => {
    fakeDesk({ session: signedIn });
    render(App);
    await fireEvent.click(await screen.findByTestId("settings-open"));
    await fireEvent.change(await screen.findByTestId("setting-theme"), { target: { value: "dark" } });
    expect(document.documentElement.dataset.theme).toBe("dark");
  });
});
