import { renderMarkdown, type MentionHighlights } from "../lib/markdown";
import "./Markdown.css";

/** A message body: DOM nodes built by the markdown renderer (never innerHTML); @mentions as chips. */
export function Markdown(props: { text: string; mentions?: MentionHighlights }) {
  return <div class="md">{renderMarkdown(props.text, document, props.mentions)}</div>;
}
