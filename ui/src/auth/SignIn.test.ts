import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import { fails, fakeDesk } from "../test/backend";
import { AGENT } from "../test/fixtures";
import SignIn from "./SignIn.svelte";

async function fillAndSubmit(server: string, user = "alice", password = "secret") {
  await fireEvent.input(screen.getByTestId("signin-server"), { target: { value: server } });
  await fireEvent.input(screen.getByTestId("signin-username"), { target: { value: user } });
  await fireEvent.input(screen.getByTestId("signin-password"), { target: { value: password } });
  await fireEvent.click(screen.getByTestId("signin-submit"));
}

describe("sign-in", () => {
  test("wrong credentials say so, by code, and keep the agent on the form", async () => {
    const desk = fakeDesk({ sign_in: fails("bad_credentials", "invalid login") });
    const onsignedin = vi.fn();
    render(SignIn, { onsignedin });
    await fillAndSubmit("http://kefu.test:8080");
    expect(await screen.findByTestId("signin-error")).toHaveTextContent("Wrong username or password");
    expect(desk.calls("sign_in")).toEqual([
      { serverUrl: "http://kefu.test:8080", username: "alice", password: "secret" },
    ]);
    expect(onsignedin, "a failed sign-in must not open the desk").not.toHaveBeenCalled();
  });

  test("an unreachable server is named in the error", async () => {
    fakeDesk({ sign_in: fails("unreachable", "connection refused") });
    render(SignIn, { onsignedin: vi.fn() });
    await fillAndSubmit("http://10.0.0.9:8080");
    expect(await screen.findByTestId("signin-error")).toHaveTextContent(
      "Can't reach the server at http://10.0.0.9:8080",
    );
  });

  test("the reason the last session ended is shown above the form, with the remembered server", () => {
    fakeDesk();
    render(SignIn, {
      serverUrl: "https://desk.shop.test",
      username: "alice",
      notice: "Your session expired",
      onsignedin: vi.fn(),
    });
    expect(screen.getByTestId("signin-notice")).toHaveTextContent("Your session expired");
    expect(screen.getByTestId("signin-server")).toHaveValue("https://desk.shop.test");
    expect(screen.getByTestId("signin-username")).toHaveValue("alice");
  });

  test("defaults to the local server and hands the agent over on success", async () => {
    fakeDesk({ sign_in: AGENT });
    const onsignedin = vi.fn();
    render(SignIn, { onsignedin });
    expect(screen.getByTestId("signin-server")).toHaveValue("http://127.0.0.1:8080");
    expect(screen.queryByTestId("signin-notice")).toBeNull();
    await fillAndSubmit("http://127.0.0.1:8080");
    await vi.waitFor(() => expect(onsignedin).toHaveBeenCalledWith(AGENT));
  });
});
