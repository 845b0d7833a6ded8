// A readable name for a session's device from its user agent ("Chrome on Linux"), by ua-parser-js.
import { UAParser } from "ua-parser-js";

export function deviceOf(userAgent: string): string {
  if (!userAgent.trim()) return "Unknown device";
  const { browser, os, device } = new UAParser(userAgent).getResult();
  const where = os.name ?? device.model ?? device.vendor;
  if (browser.name && where) return `${browser.name} on ${where}`;
  if (browser.name) return browser.name;
  if (where) return where;
  // Not a browser (curl, a script): its first word, as it names itself.
  return userAgent.trim().split(/\s+/)[0]!.slice(0, 60);
}
