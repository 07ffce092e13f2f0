import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { applySettings, prefs } from "./lib/settings.svelte";

// Language and theme from defaults until the Rust side's settings arrive (App loads them).
applySettings(prefs.settings);

export default mount(App, { target: document.getElementById("app")! });
