import { renderMarkdown } from "../lib/markdown";
import "./Markdown.css";

/** A message body: DOM nodes built by the markdown renderer (never innerHTML). */
export function Markdown(props: { text: string }) {
  return <div class="md">{renderMarkdown(props.text)}</div>;
}
