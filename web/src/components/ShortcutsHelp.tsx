// The list of keyboard shortcuts, opened with `?` (or the header's "Keys" button).
import { useEffect, useRef } from "react";
import { SHORTCUTS } from "../shortcuts";

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    return () => before?.focus?.();
  }, []);
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <section
        className="dialog card"
        role="dialog"
        aria-modal="true"
        aria-labelledby="shortcuts-title"
        onClick={(event) => event.stopPropagation()}
      >
        <div className="page-head">
          <h2 id="shortcuts-title">Keyboard shortcuts</h2>
          <button type="button" ref={closeRef} onClick={onClose}>
            Close
          </button>
        </div>
        <table className="shortcuts">
          <tbody>
            {SHORTCUTS.map((shortcut) => (
              <tr key={shortcut.keys}>
                <td>
                  {shortcut.keys.split(" ").map((key, index) =>
                    key === "/" && shortcut.keys.includes(" / ") ? (
                      <span key={index}> / </span>
                    ) : (
                      <kbd key={index}>{key}</kbd>
                    ),
                  )}
                </td>
                <td>{shortcut.does}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted small">Shortcuts wait while you type in a field. Tab to a review (or press j) before a or r.</p>
      </section>
    </div>
  );
}
