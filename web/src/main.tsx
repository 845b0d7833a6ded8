import { render } from "solid-js/web";
import { App } from "./App";
import "./lib/theme";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
render(() => <App />, root);
