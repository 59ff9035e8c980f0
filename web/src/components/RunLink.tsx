// A run as people name it: its label (from its inputs) and its id's random end, the part that
// tells it apart and that the CLI and `/runs/<short id>` accept. The whole id is on hover.
import { shortId } from "../format";
import { Link } from "../router";

export function RunLink({ id, label }: { id: string; label?: string | null }) {
  const short = shortId(id);
  return (
    <Link to={`/runs/${id}`} className="run-link" title={id} aria-label={label ? `Run ${label} (${short})` : `Run ${short}`}>
      {label ? <span className="run-label">{label}</span> : null}
      <span className="mono run-id">{short}</span>
    </Link>
  );
}
