// The app's entry: the global styles first (components add their own after them), the theme, then the app.
import "./styles/theme.css";
import "./styles/base.css";
import "./styles/controls.css";
import "./lib/theme";
import { render } from "solid-js/web";
import { App } from "./App";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
render(() => <App />, root);
