// A "Copy" button for a value shown on the page (a public key, a revealed password).
import { useState } from "react";

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("yes");
    } catch {
      // No clipboard access (an insecure origin, a refused permission): the value is shown
      // next to the button, selectable by hand.
      setCopied("no");
    }
  }
  return (
    <button
      type="button"
      onClick={() => void copy()}
      className="rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50"
    >
      {copied === "yes" ? "Copied" : copied === "no" ? "Select and copy it" : label}
    </button>
  );
}
