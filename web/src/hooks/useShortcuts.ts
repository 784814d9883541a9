import { useEffect, useLayoutEffect, useRef } from "react";

export type ShortcutAction = "microphone" | "camera" | "chat" | "hangUp" | "help";

export interface Shortcut {
  action: ShortcutAction;
  /** The keys as shown in the help dialog. */
  keys: readonly string[];
  /** What it does, as the help dialog says it. */
  description: string;
  /** The `aria-keyshortcuts` value of the control it stands for. */
  aria: string;
}

/**
 * The call's keyboard shortcuts. Single letters for the toggles (as in other calling apps);
 * hanging up takes Ctrl+Shift+H (as in Microsoft Teams) so that no stray key ends a call.
 */
export const SHORTCUTS: readonly Shortcut[] = [
  { action: "microphone", keys: ["M"], description: "Mute or unmute the microphone", aria: "M" },
  { action: "camera", keys: ["V"], description: "Turn the camera off or on", aria: "V" },
  { action: "chat", keys: ["C"], description: "Open or close the chat", aria: "C" },
  { action: "hangUp", keys: ["Ctrl", "Shift", "H"], description: "Hang up", aria: "Control+Shift+H" },
  { action: "help", keys: ["?"], description: "Show these shortcuts", aria: "Shift+?" },
];

/** Which shortcut `event` is, if any. */
export function shortcutFor(event: KeyboardEvent): ShortcutAction | undefined {
  const key = event.key.toLowerCase();
  if (event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey) return key === "h" ? "hangUp" : undefined;
  if (event.ctrlKey || event.altKey || event.metaKey) return undefined; // Ctrl+C copies, Cmd+M minimises…
  if (key === "?") return "help";
  if (key === "m") return "microphone";
  if (key === "v") return "camera";
  if (key === "c") return "chat";
  return undefined;
}

/** The person is typing: keys belong to the text box (or a list being chosen from). */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "radio", "range", "color", "file", "submit", "reset", "image"].includes(target.type);
}

/**
 * Listens for SHORTCUTS on the page while `enabled`. Keys typed into a text box, held down
 * (auto-repeat), or pressed while a modal dialog is open do nothing.
 */
export function useShortcuts(enabled: boolean, actions: Record<ShortcutAction, () => void>): void {
  const latest = useRef(actions);
  useLayoutEffect(() => {
    latest.current = actions;
  });
  useEffect(() => {
    if (!enabled) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.repeat || event.isComposing || typing(event.target)) return;
      if (document.querySelector("dialog[open]")) return;
      const action = shortcutFor(event);
      if (!action) return;
      event.preventDefault();
      latest.current[action]();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [enabled]);
}
